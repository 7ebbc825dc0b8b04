package app

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ControlSocket is the name of the owning process's socket inside the
// wallet directory. The directory is owner-only and the socket is 0600;
// every request also carries the passphrase, checked like an unlock, one
// request at a time with a growing delay after each wrong one.
const ControlSocket = "control.sock"

// ControlRequest is one command line handed to the owning process.
type ControlRequest struct {
	Args       []string `json:"args"`
	Cwd        string   `json:"cwd"`
	Passphrase []byte   `json:"passphrase"`
	Recovery   bool     `json:"recovery,omitempty"` // Passphrase holds the recovery key text
	// Frames "binary" asks for binaryFrames; without it (a client from
	// before them) the answer comes as JSON frames. A server from before
	// them ignores it and answers in JSON, which Forward tells by the
	// first byte.
	Frames string `json:"frames,omitempty"`
}

// Binary frames carry output without the JSON and base64 of controlFrame:
// a kind byte ('o' standard output, 'e' standard error, 'x' exit status),
// a 4-byte big-endian length, then that many bytes (the exit status as a
// 4-byte big-endian signed integer). A listing of 200,000 records passes
// through at the speed of the socket.
const (
	binaryFrames  = "binary"
	frameOut      = 'o'
	frameErr      = 'e'
	frameExit     = 'x'
	maxFrameBytes = 4 << 20
)

type controlFrame struct {
	Out  []byte `json:"o,omitempty"`
	Err  []byte `json:"e,omitempty"`
	Exit *int   `json:"x,omitempty"`
}

// ErrNotOwned means no process holds the wallet open.
var ErrNotOwned = errors.New("no process has the wallet open")

// maxControlRequest bounds a request: arguments and a passphrase.
const maxControlRequest = 1 << 20

// Runner carries out a forwarded command line with the owner's open
// wallet, writing to stdout and stderr, and returns the exit status.
type Runner func(ctx context.Context, req ControlRequest, stdout, stderr io.Writer) int

// ServeControl listens on the wallet's control socket until ctx ends or
// the session locks. It refuses to start while another live process serves
// the same wallet.
func ServeControl(ctx context.Context, s *Session, run Runner) error {
	return serveControl(ctx, s, run, &secretGate{check: s.CheckSecret, sleep: time.Sleep})
}

// secretGate checks one passphrase at a time: requests that arrive
// together queue, and every wrong one holds the gate for a delay that
// doubles with each consecutive failure (1 s, 2 s, 4 s … up to a minute),
// so a burst of guesses in parallel costs the guesser what the same
// guesses one after another would. A right passphrase resets the delay.
type secretGate struct {
	mu       sync.Mutex
	failures int
	check    func(secret []byte, recovery bool) error
	sleep    func(time.Duration)
}

const (
	firstGuessDelay = time.Second
	maxGuessDelay   = time.Minute
)

func (g *secretGate) try(secret []byte, recovery bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.check(secret, recovery)
	if err == nil {
		g.failures = 0
		return nil
	}
	d := firstGuessDelay << min(g.failures, 6)
	g.failures++
	g.sleep(min(d, maxGuessDelay))
	return err
}

func serveControl(ctx context.Context, s *Session, run Runner, gate *secretGate) error {
	path := filepath.Join(s.Wallet.Dir(), ControlSocket)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another process already serves this wallet", path)
	}
	os.Remove(path) // left behind by a process that died
	// The wallet directory is owner-only, so the socket is never reachable
	// by others, even before the chmod.
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	os.Chmod(path, 0o600)
	ctx, cancel := context.WithCancel(ctx)
	s.OnClose(cancel)
	go func() {
		<-ctx.Done()
		l.Close()
		os.Remove(path)
	}()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go serveControlConn(ctx, s, run, gate, conn)
		}
	}()
	return nil
}

func serveControlConn(ctx context.Context, s *Session, run Runner, gate *secretGate, conn net.Conn) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req ControlRequest
	if err := json.NewDecoder(io.LimitReader(conn, maxControlRequest)).Decode(&req); err != nil {
		return
	}
	conn.SetReadDeadline(time.Time{})
	enc := &frameWriter{enc: json.NewEncoder(conn)}
	if req.Frames == binaryFrames {
		enc = &frameWriter{bin: conn}
	}
	defer clear(req.Passphrase)
	if err := gate.try(req.Passphrase, req.Recovery); err != nil {
		fmt.Fprintf(enc.stream(false), "medwallet: unlock wallet at %s: %v\n", s.Wallet.Dir(), err)
		enc.exit(1)
		return
	}
	s.Touch()
	code := run(ctx, req, enc.stream(true), enc.stream(false))
	enc.exit(code)
}

type frameWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
	bin io.Writer // binary frames instead of enc
}

// frame writes one binary frame.
func (f *frameWriter) frame(kind byte, p []byte) error {
	var h [5]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(len(p)))
	if _, err := f.bin.Write(h[:]); err != nil {
		return err
	}
	_, err := f.bin.Write(p)
	return err
}

type frameStream struct {
	f   *frameWriter
	out bool
}

func (f *frameWriter) stream(out bool) io.Writer { return frameStream{f, out} }

func (s frameStream) Write(p []byte) (int, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if s.f.bin != nil {
		kind := byte(frameErr)
		if s.out {
			kind = frameOut
		}
		for rest := p; len(rest) > 0; {
			n := min(len(rest), maxFrameBytes)
			if err := s.f.frame(kind, rest[:n]); err != nil {
				return len(p) - len(rest), err
			}
			rest = rest[n:]
		}
		return len(p), nil
	}
	fr := controlFrame{Err: p}
	if s.out {
		fr = controlFrame{Out: p}
	}
	if err := s.f.enc.Encode(fr); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (f *frameWriter) exit(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bin != nil {
		f.frame(frameExit, binary.BigEndian.AppendUint32(nil, uint32(int32(code))))
		return
	}
	f.enc.Encode(controlFrame{Exit: &code})
}

// SocketPresent reports whether dir has a control socket that may be
// served (the caller then asks for the passphrase and calls Forward).
func SocketPresent(dir string) bool {
	c, err := net.DialTimeout("unix", filepath.Join(dir, ControlSocket), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Forward hands a command line to the process that has the wallet in dir
// open and copies its output. It returns ErrNotOwned when none does.
func Forward(dir string, req ControlRequest, stdout, stderr io.Writer) (int, error) {
	conn, err := net.DialTimeout("unix", filepath.Join(dir, ControlSocket), time.Second)
	if err != nil {
		return 0, ErrNotOwned
	}
	defer conn.Close()
	req.Frames = binaryFrames
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return 0, fmt.Errorf("send the command to the running wallet: %w", err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	first, err := br.Peek(1)
	if err != nil {
		return 0, fmt.Errorf("the running wallet closed the connection before the command finished: %w", err)
	}
	if first[0] == '{' {
		return readJSONFrames(br, stdout, stderr)
	}
	return readBinaryFrames(br, stdout, stderr)
}

func readJSONFrames(r io.Reader, stdout, stderr io.Writer) (int, error) {
	dec := json.NewDecoder(r)
	for {
		var fr controlFrame
		if err := dec.Decode(&fr); err != nil {
			return 0, fmt.Errorf("the running wallet closed the connection before the command finished: %w", err)
		}
		switch {
		case fr.Exit != nil:
			return *fr.Exit, nil
		case fr.Out != nil:
			stdout.Write(fr.Out)
		case fr.Err != nil:
			stderr.Write(fr.Err)
		}
	}
}

// errBadFrame means the owning process answered with something that is
// not a frame.
var errBadFrame = errors.New("the running wallet answered with a malformed frame")

func readBinaryFrames(r io.Reader, stdout, stderr io.Writer) (int, error) {
	buf := make([]byte, 64<<10)
	for {
		var h [5]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return 0, fmt.Errorf("the running wallet closed the connection before the command finished: %w", err)
		}
		n := binary.BigEndian.Uint32(h[1:])
		if n > maxFrameBytes || h[0] == frameExit && n != 4 {
			return 0, errBadFrame
		}
		if int(n) > len(buf) {
			buf = make([]byte, n)
		}
		p := buf[:n]
		if _, err := io.ReadFull(r, p); err != nil {
			return 0, fmt.Errorf("the running wallet closed the connection before the command finished: %w", err)
		}
		switch h[0] {
		case frameExit:
			return int(int32(binary.BigEndian.Uint32(p))), nil
		case frameOut:
			stdout.Write(p)
		case frameErr:
			stderr.Write(p)
		default:
			return 0, errBadFrame
		}
	}
}
