package backup

import (
	"errors"
	"io"
)

// The archive's hashing and tar framing run on one core while age's
// encryption (or decryption) and the file I/O run on another: these two
// adapters hand bounded blocks between the two goroutines, so memory stays
// at pipeBlocks × pipeBlockSize whatever the backup's size.
const (
	pipeBlockSize = 1 << 20
	pipeBlocks    = 4
)

// asyncWriter passes writes to dst on a background goroutine.
type asyncWriter struct {
	dst  io.Writer
	full chan []byte
	free chan []byte
	done chan error
	cur  []byte
	err  error
}

func newAsyncWriter(dst io.Writer) *asyncWriter {
	a := &asyncWriter{dst: dst, full: make(chan []byte, pipeBlocks), free: make(chan []byte, pipeBlocks), done: make(chan error, 1)}
	for range pipeBlocks {
		a.free <- make([]byte, 0, pipeBlockSize)
	}
	go func() {
		var err error
		for b := range a.full {
			if err == nil {
				_, err = dst.Write(b)
			}
			a.free <- b[:0]
		}
		a.done <- err
	}()
	a.cur = <-a.free
	return a
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	n := 0
	for len(p) > 0 {
		c := copy(a.cur[len(a.cur):cap(a.cur)], p)
		a.cur = a.cur[:len(a.cur)+c]
		p, n = p[c:], n+c
		if len(a.cur) == cap(a.cur) {
			a.full <- a.cur
			a.cur = <-a.free
		}
	}
	return n, nil
}

// Close flushes what is buffered and returns the first error dst gave.
func (a *asyncWriter) Close() error {
	if a.err != nil {
		return a.err
	}
	if len(a.cur) > 0 {
		a.full <- a.cur
	}
	close(a.full)
	a.err = <-a.done
	if a.err == nil {
		a.err = errors.New("backup: write after close")
		return nil
	}
	return a.err
}

// readAhead reads src on a background goroutine, ahead of the caller.
type readAhead struct {
	full chan block
	free chan []byte
	stop chan struct{}
	cur  block
	off  int
}

type block struct {
	b   []byte
	err error
}

func newReadAhead(src io.Reader) *readAhead {
	r := &readAhead{full: make(chan block, pipeBlocks), free: make(chan []byte, pipeBlocks), stop: make(chan struct{})}
	for range pipeBlocks {
		r.free <- make([]byte, pipeBlockSize)
	}
	go func() {
		for {
			var b []byte
			select {
			case b = <-r.free:
			case <-r.stop:
				return
			}
			n, err := io.ReadFull(src, b)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			r.full <- block{b[:n], err}
			if err != nil {
				return
			}
		}
	}()
	return r
}

func (r *readAhead) Read(p []byte) (int, error) {
	for r.off == len(r.cur.b) {
		if r.cur.err != nil {
			return 0, r.cur.err
		}
		if r.cur.b != nil {
			r.free <- r.cur.b[:cap(r.cur.b)]
		}
		r.cur, r.off = <-r.full, 0
	}
	n := copy(p, r.cur.b[r.off:])
	r.off += n
	return n, nil
}

// Close stops the background reader; it may still be blocked in src.
func (r *readAhead) Close() {
	close(r.stop)
}
