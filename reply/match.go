package reply

import (
	"fmt"
	"sync"
)

// matcher finds every pattern of the rule table in one pass over a reply
// (Aho-Corasick, compiled to a full DFA). A reply is read once, whatever the
// number of patterns, with no regexp and no lower-casing copy: case and
// white space are folded by the byte-class table. That keeps Classify under
// the 2 µs per line that bulk bounce imports need.
type matcher struct {
	class    [256]uint8 // byte -> input class; 0 is "no pattern has this byte"
	space    uint8      // class of ' ' (runs of white space are one space)
	nclass   int
	next     []uint16 // next[state*nclass+class]; the high bit flags a target with outputs
	outStart []uint32 // outputs of state s are outs[outStart[s]:outStart[s+1]]
	outs     []uint16 // rule indices
	rules    []rule
}

// compiled is built once, on first use, and never changes afterwards.
var compiled = sync.OnceValue(func() *matcher {
	m, err := newMatcher(rules())
	if err != nil {
		// The table is part of the program; a bad entry is a programming
		// error caught by the package tests.
		panic(err)
	}
	return m
})

func newMatcher(rs []rule) (*matcher, error) {
	m := &matcher{rules: rs}
	// Input classes: one per distinct (lower-case) pattern byte, plus 0.
	n := 1
	for _, r := range rs {
		if r.pat == "" {
			return nil, fmt.Errorf("reply: empty pattern (src %q)", r.src)
		}
		for i := 0; i < len(r.pat); i++ {
			c := r.pat[i]
			// Patterns are stored as the scan sees text: lower case, single
			// spaces, no trailing space (a leading one anchors a word start).
			if c >= 'A' && c <= 'Z' || c == '\t' || c == '\r' || c == '\n' ||
				c == ' ' && (i == len(r.pat)-1 || r.pat[i+1] == ' ') {
				return nil, fmt.Errorf("reply: pattern %q is not folded", r.pat)
			}
			if m.class[c] == 0 {
				m.class[c] = uint8(n)
				n++
				if n > 255 {
					return nil, fmt.Errorf("reply: too many distinct pattern bytes")
				}
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		m.class[c] = m.class[c+'a'-'A']
	}
	if m.class[' '] == 0 {
		m.class[' '] = uint8(n)
		n++
	}
	m.space = m.class[' ']
	m.class['\t'], m.class['\r'], m.class['\n'] = m.space, m.space, m.space
	m.nclass = n

	// Trie.
	next := []int32{}
	newState := func() int32 {
		for i := 0; i < n; i++ {
			next = append(next, -1)
		}
		return int32(len(next)/n - 1)
	}
	newState()
	var outputs [][]uint16
	outputs = append(outputs, nil)
	for ri, r := range rs {
		s := int32(0)
		for i := 0; i < len(r.pat); i++ {
			c := int32(m.class[r.pat[i]])
			if next[s*int32(n)+c] < 0 {
				ns := newState()
				outputs = append(outputs, nil)
				next[s*int32(n)+c] = ns
			}
			s = next[s*int32(n)+c]
		}
		outputs[s] = append(outputs[s], uint16(ri))
	}
	states := len(next) / n
	if states > hasOutputs-1 {
		return nil, fmt.Errorf("reply: %d states do not fit the table", states)
	}

	// Failure links, breadth first, turning the trie into a DFA.
	fail := make([]int32, states)
	queue := make([]int32, 0, states)
	for c := 0; c < n; c++ {
		if t := next[c]; t > 0 {
			fail[t] = 0
			queue = append(queue, t)
		} else {
			next[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		outputs[s] = append(outputs[s], outputs[fail[s]]...)
		for c := 0; c < n; c++ {
			t := next[s*int32(n)+int32(c)]
			if t < 0 {
				next[s*int32(n)+int32(c)] = next[fail[s]*int32(n)+int32(c)]
				continue
			}
			fail[t] = next[fail[s]*int32(n)+int32(c)]
			queue = append(queue, t)
		}
	}

	m.next = make([]uint16, len(next))
	for i, t := range next {
		m.next[i] = uint16(t)
		if len(outputs[t]) > 0 {
			m.next[i] |= hasOutputs
		}
	}
	m.outStart = make([]uint32, states+1)
	for s := 0; s < states; s++ {
		m.outStart[s] = uint32(len(m.outs))
		m.outs = append(m.outs, outputs[s]...)
	}
	m.outStart[states] = uint32(len(m.outs))
	return m, nil
}

// hasOutputs marks, in a transition, a target state where patterns end, so
// the scan only looks up outputs on the few bytes that complete a pattern.
const hasOutputs = 1 << 15

// textEvidence is what the patterns found in one reply.
type textEvidence struct {
	best      int // index of the strongest verdict rule, -1 if none
	provider  string
	blocklist string
}

// scan runs the DFA over s once.
func (m *matcher) scan(s string) textEvidence {
	ev := textEvidence{best: -1}
	bestScore := int8(-1)
	n := m.nclass
	// The text is read as if it began with a space, so a pattern with a
	// leading space matches a word at the very start too; further leading
	// white space is dropped.
	state := int(m.next[int(m.space)] &^ hasOutputs)
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := m.class[s[i]]
		if c == m.space {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		t := m.next[state*n+int(c)]
		state = int(t &^ hasOutputs)
		if t&hasOutputs == 0 {
			continue
		}
		lo, hi := m.outStart[state], m.outStart[state+1]
		for _, ri := range m.outs[lo:hi] {
			r := &m.rules[ri]
			if r.stop {
				return ev
			}
			if r.kind != vNone && r.score > bestScore {
				bestScore = r.score
				ev.best = int(ri)
			}
			if r.provider != "" && ev.provider == "" {
				ev.provider = r.provider
			}
			if r.blocklist != "" && ev.blocklist == "" {
				ev.blocklist = r.blocklist
			}
		}
	}
	return ev
}
