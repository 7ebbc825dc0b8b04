package app

import (
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/summary"
)

func TestLockKeepsTheSummaryTheNextUnlockShowsFirst(t *testing.T) {
	s := newSession(t, "w")
	importFixture(t, s, clemente)
	want, err := summary.Of(s.Wallet, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := s.Wallet.Dir()
	s.Lock()

	op, err := wallet.Begin(dir, []byte("pass phrase"))
	if err != nil {
		t.Fatal(err)
	}
	b := op.Front()
	w, err := op.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if b == nil {
		t.Fatal("the lock kept no front")
	}
	f, err := summary.UnmarshalFront(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Summary.Person.ID == "" || f.Summary.Person.ID != want.Person.ID {
		t.Fatalf("the front is of %+v, want %+v", f.Summary.Person, want.Person)
	}
	if len(want.Problems) == 0 || len(f.Summary.Problems) != min(len(want.Problems), summary.FrontLines) ||
		f.Summary.Problems[0].RecordID != want.Problems[0].RecordID || f.Totals[1] != len(want.Problems) {
		t.Fatalf("the front's problems %+v (of %d), want %+v", f.Summary.Problems, f.Totals[1], want.Problems)
	}
}
