package app

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
)

// fakeOwner listens on dir's control socket and answers one request with
// answer, after handing the request it read to got.
func fakeOwner(t *testing.T, dir string, answer []byte, got chan<- ControlRequest) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(dir, ControlSocket))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var req ControlRequest
		json.NewDecoder(c).Decode(&req)
		got <- req
		c.Write(answer)
	}()
}

func binFrame(kind byte, p []byte) []byte {
	return append(append([]byte{kind}, binary.BigEndian.AppendUint32(nil, uint32(len(p)))...), p...)
}

func TestForwardReadsBinaryFramesAndAsksForThem(t *testing.T) {
	dir := t.TempDir()
	got := make(chan ControlRequest, 1)
	answer := append(binFrame(frameOut, []byte("hello ")), binFrame(frameErr, []byte("warn"))...)
	answer = append(answer, binFrame(frameOut, []byte("world"))...)
	answer = append(answer, binFrame(frameExit, binary.BigEndian.AppendUint32(nil, 3))...)
	fakeOwner(t, dir, answer, got)
	var out, errb bytes.Buffer
	code, err := Forward(dir, ControlRequest{Args: []string{"list"}}, &out, &errb)
	if err != nil || code != 3 || out.String() != "hello world" || errb.String() != "warn" {
		t.Fatalf("forward = %d %v, out %q, err %q", code, err, out.String(), errb.String())
	}
	if req := <-got; req.Frames != binaryFrames {
		t.Fatalf("the request asked for frames %q", req.Frames)
	}
}

func TestForwardStillReadsAnOlderOwnersJSONFrames(t *testing.T) {
	dir := t.TempDir()
	var answer bytes.Buffer
	enc := json.NewEncoder(&answer)
	code := 0
	enc.Encode(controlFrame{Out: []byte("old owner")})
	enc.Encode(controlFrame{Exit: &code})
	fakeOwner(t, dir, answer.Bytes(), make(chan ControlRequest, 1))
	var out bytes.Buffer
	if c, err := Forward(dir, ControlRequest{}, &out, &out); err != nil || c != 0 || out.String() != "old owner" {
		t.Fatalf("forward = %d %v %q", c, err, out.String())
	}
}

func TestForwardRefusesAnOversizedFrameWithoutReadingIt(t *testing.T) {
	dir := t.TempDir()
	h := []byte{frameOut, 0xff, 0xff, 0xff, 0xff}
	fakeOwner(t, dir, h, make(chan ControlRequest, 1))
	if _, err := Forward(dir, ControlRequest{}, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, errBadFrame) {
		t.Fatalf("err = %v, want errBadFrame", err)
	}
}

func TestOwnerAnswersAnOlderClientInJSONFrames(t *testing.T) {
	var conn bytes.Buffer
	f := &frameWriter{enc: json.NewEncoder(&conn)}
	f.stream(true).Write([]byte("x"))
	f.exit(0)
	if conn.Bytes()[0] != '{' {
		t.Fatalf("JSON frames start %q", conn.Bytes()[:1])
	}
	var bin bytes.Buffer
	f = &frameWriter{bin: &bin}
	f.stream(true).Write(make([]byte, maxFrameBytes+10))
	f.exit(-2)
	var out bytes.Buffer
	code, err := readBinaryFrames(&bin, &out, &out)
	if err != nil || code != -2 || out.Len() != maxFrameBytes+10 {
		t.Fatalf("read back: %d %v %d bytes", code, err, out.Len())
	}
}

func FuzzControlFrames(f *testing.F) {
	f.Add(append(binFrame(frameOut, []byte("a")), binFrame(frameExit, []byte{0, 0, 0, 1})...))
	f.Add([]byte{frameExit, 0, 0, 0, 9, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		if _, err := readBinaryFrames(bytes.NewReader(b), &out, &out); err == nil && out.Len() > len(b) {
			t.Fatalf("%d bytes out of %d in", out.Len(), len(b))
		}
	})
}
