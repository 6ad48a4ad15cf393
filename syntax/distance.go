package syntax

import "math/bits"

// maxCandidate is the longest domain or TLD a Suggester compares. Popular
// mailbox domains are far shorter; the bound keeps the distance rows on the
// stack.
const maxCandidate = 64

// charMask returns a set of the characters in s: a–z, 0–9, '-', '.' and one
// bit for anything else.
func charMask(s string) uint64 {
	var m uint64
	for i := 0; i < len(s); i++ {
		m |= 1 << charBit(s[i])
	}
	return m
}

func charBit(c byte) uint {
	switch {
	case 'a' <= c && c <= 'z':
		return uint(c - 'a')
	case '0' <= c && c <= '9':
		return uint(c-'0') + 26
	case c == '-':
		return 36
	case c == '.':
		return 37
	}
	return 38
}

// maskBound is a lower bound on the edit distance between two strings with
// character sets a and b. Every distinct character of one string that the
// other lacks needs its own substitution or deletion; a transposition moves
// characters but never removes one.
func maskBound(a, b uint64) int {
	return max(bits.OnesCount64(a&^b), bits.OnesCount64(b&^a))
}

// distance returns the optimal string alignment distance between a and b
// (Levenshtein plus transposition of adjacent characters, each edit counted
// once), or k+1 if it exceeds k. Typing errors are mostly one slipped,
// missing, doubled or swapped character, which is what these edits count.
//
// Only the band of cells within k of the diagonal is computed, and the
// computation stops as soon as a whole row exceeds k, so an unrelated pair
// costs a few dozen steps. len(b) must not exceed maxCandidate, and k must be
// small (it is at most 2 here); the cost is O(k·len(a)).
func distance(a, b string, k int) int {
	n, m := len(a), len(b)
	if n-m > k || m-n > k || m > maxCandidate {
		return k + 1
	}
	over := uint8(k + 1) // every value above k is stored as k+1
	// Rows i-2, i-1 and i of the dynamic programme, indexed by j in b.
	var r0, r1, r2 [maxCandidate + 2]uint8
	pp, prev, cur := &r0, &r1, &r2
	for j := 0; j <= m; j++ {
		prev[j] = min(uint8(min(j, k+1)), over)
	}
	for i := 1; i <= n; i++ {
		lo, hi := max(1, i-k), min(m, i+k)
		// The cells just outside the band read as "too far".
		if lo == 1 {
			cur[0] = uint8(min(i, k+1))
		} else {
			cur[lo-1] = over
		}
		if hi < m {
			cur[hi+1] = over
		}
		rowMin := cur[lo-1]
		ai := a[i-1]
		for j := lo; j <= hi; j++ {
			cost := uint8(1)
			if ai == b[j-1] {
				cost = 0
			}
			v := min(prev[j-1]+cost, prev[j]+1, cur[j-1]+1)
			if i > 1 && j > 1 && ai == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, pp[j-2]+1)
			}
			v = min(v, over)
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > uint8(k) {
			return k + 1
		}
		pp, prev, cur = prev, cur, pp
	}
	return int(prev[m])
}
