package peer

import (
	"testing"
	"time"
)

func TestDbg(t *testing.T) {
	server := newHost(t, "srv", Config{ListenAddrs: []string{loopbackTCP}, Limits: Limits{MaxStreamsPerPeer: 2}})
	server.Serve(echoHandler())
	hog := newHost(t, "hog", Config{ListenAddrs: []string{loopbackTCP}})
	if err := hog.Connect(ctxTimeout(t, 5*time.Second), server.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	t.Log(hog.Libp2p().Network().ConnsToPeer(server.ID())[0].RemoteMultiaddr())
	for i := range 3 {
		s, err := hog.Libp2p().NewStream(ctxTimeout(t, 5*time.Second), server.ID(), ProtocolHTTP)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		t.Log("client stream", s.ID())
		if i < 2 {
			_, _ = s.Write([]byte("GET /whoami HTTP/1.1\r\nHost: x\r\n"))
			continue
		}
		_ = s.SetDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 1000)
		n, err := s.Read(buf)
		t.Logf("%d %q %v", n, buf[:n], err)
	}
}
