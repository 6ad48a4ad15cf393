package bounce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
)

// Message is one message found by Walk.
type Message struct {
	Name string // the file, and for an mbox "file#n" (n from 1)
	Data []byte // at most MaxSize bytes; longer messages are cut
	Err  error  // a message that could not be read; Data is then nil
	// Done and Total measure progress through the input, in bytes.
	Done, Total int64
}

// ErrNoMessages reports a path that holds no mail.
var ErrNoMessages = errors.New("bounce: no messages at path")

// Walk calls fn for every message at name in fsys, in a stable order:
//
//   - a Maildir (a directory with cur/ or new/): every file in new/ and
//     cur/, sorted by name; tmp/ is skipped, as the Maildir convention
//     says it holds messages still being written;
//   - another directory: every regular file in it, sorted;
//   - a file that starts with an mbox "From " line: each message of the
//     mbox (mboxo/mboxrd: ">From " quoting is undone);
//   - any other file: one message.
//
// Memory is bounded by MaxSize per message whatever the input. An error
// from fn stops the walk and is returned.
func Walk(fsys fs.FS, name string, fn func(Message) error) error {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return fmt.Errorf("bounce: %w", err)
	}
	if !st.IsDir() {
		return walkFile(fsys, name, st.Size(), fn)
	}
	var files []string
	var sizes []int64
	var total int64
	add := func(dir string) error {
		ents, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return fmt.Errorf("bounce: %w", err)
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		for _, e := range ents {
			if !e.Type().IsRegular() || e.Name()[0] == '.' {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			files = append(files, path.Join(dir, e.Name()))
			sizes = append(sizes, info.Size())
			total += info.Size()
		}
		return nil
	}
	maildir := false
	for _, sub := range []string{"new", "cur"} {
		if st, err := fs.Stat(fsys, path.Join(name, sub)); err == nil && st.IsDir() {
			maildir = true
			if err := add(path.Join(name, sub)); err != nil {
				return err
			}
		}
	}
	if !maildir {
		if err := add(name); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return ErrNoMessages
	}
	var done int64
	for i, f := range files {
		done += sizes[i]
		data, err := readCapped(fsys, f)
		m := Message{Name: f, Data: data, Err: err, Done: done, Total: total}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// readCapped reads at most MaxSize bytes of a file.
func readCapped(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// walkFile reads one file: an mbox or a single message.
func walkFile(fsys fs.FS, name string, size int64, fn func(Message) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("bounce: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(5)
	if !bytes.Equal(head, []byte("From ")) {
		b, err := io.ReadAll(io.LimitReader(br, MaxSize))
		m := Message{Name: name, Data: b, Err: err, Done: size, Total: size}
		if err != nil {
			m.Data = nil
		}
		return fn(m)
	}
	return walkMbox(br, name, size, fn)
}

// walkMbox splits an mbox (RFC 4155) at its "From " separator lines: a
// line starting "From " at the start of the file or after an empty line.
// Lines quoted as ">From " (and ">>From ", mboxrd) lose one '>'.
func walkMbox(br *bufio.Reader, name string, size int64, fn func(Message) error) error {
	var cur []byte
	n := 0
	var done int64
	prevEmpty := true
	started := false
	flush := func() error {
		if !started {
			return nil
		}
		n++
		return fn(Message{Name: fmt.Sprintf("%s#%d", name, n), Data: cur, Done: done, Total: size})
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: keep what fits.
			done += int64(len(line))
			if len(cur)+len(line) <= MaxSize {
				cur = append(cur, line...)
			}
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				done += int64(len(line))
			}
			prevEmpty = false
			if err == nil {
				continue
			}
		}
		if len(line) > 0 && err == nil || len(line) > 0 && errors.Is(err, io.EOF) {
			done += int64(len(line))
			if prevEmpty && bytes.HasPrefix(line, []byte("From ")) {
				if err := flush(); err != nil {
					return err
				}
				cur, started = nil, true
				prevEmpty = false
				continue
			}
			body := line
			if q := bytes.TrimLeft(body, ">"); len(q) < len(body) && bytes.HasPrefix(q, []byte("From ")) {
				body = body[1:]
			}
			if len(cur)+len(body) <= MaxSize {
				cur = append(cur, body...)
			}
			prevEmpty = len(bytes.TrimRight(line, "\r\n")) == 0
		}
		if errors.Is(err, io.EOF) {
			return flush()
		}
		if err != nil {
			return fmt.Errorf("bounce: read %s: %w", name, err)
		}
	}
}
