package app

import (
	"sync"
	"testing"
)

// TestSessionPeerIsSetAndReadUnderTheLock pins the accessor the screens use:
// StartPeer records the peer on one goroutine while screens read it on
// another. Under -race, an unguarded field fails this test.
func TestSessionPeerIsSetAndReadUnderTheLock(t *testing.T) {
	s := &Session{}
	if s.Peer() != nil {
		t.Fatal("a new session has a peer")
	}
	p := &Peer{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.setPeer(p)
	}()
	for s.Peer() == nil {
	}
	wg.Wait()
	if s.Peer() != p {
		t.Error("Peer does not return the peer StartPeer recorded")
	}
}
