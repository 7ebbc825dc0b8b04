package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

// testLog is a patient's log a test grows, forks and signs by hand, to
// send the witness add-checkpoint requests no honest wallet would.
type testLog struct {
	t      testing.TB
	key    ed25519.PrivateKey
	log    *ledger.Log
	db     kv.DB
	leaves [][32]byte
}

func newTestLog(t testing.TB) *testLog {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return openTestLog(t, key, ledger.OriginForKey(pub), nil)
}

func openTestLog(t testing.TB, key ed25519.PrivateKey, origin string, leaves [][32]byte) *testLog {
	t.Helper()
	l, err := ledger.Open(origin, key)
	if err != nil {
		t.Fatal(err)
	}
	tl := &testLog{t: t, key: key, log: l, db: kv.Memory()}
	tl.append(leaves...)
	return tl
}

func (l *testLog) append(cs ...[32]byte) {
	l.t.Helper()
	if len(cs) == 0 {
		return
	}
	err := l.db.Update(func(tx kv.Txn) error {
		for _, c := range cs {
			if _, err := l.log.Append(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	l.leaves = append(l.leaves, cs...)
}

// fork is a copy of the log with the same key and leaves, to grow apart.
func (l *testLog) fork() *testLog {
	return openTestLog(l.t, l.key, l.log.Origin(), l.leaves)
}

// grow appends n leaves derived from salt and signs the new checkpoint.
func (l *testLog) grow(n int, salt string) []byte {
	l.t.Helper()
	for i := range n {
		l.append(sha256.Sum256([]byte(salt + "/" + string(rune('a'+i)))))
	}
	var signed []byte
	err := l.db.Update(func(tx kv.Txn) (err error) {
		signed, err = l.log.Sign(tx, time.Now())
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return signed
}

// request is the add-checkpoint body for signed, proving consistency from old.
func (l *testLog) request(old uint64, signed []byte) []byte {
	l.t.Helper()
	cp := l.checkpoint(signed)
	var proof [][32]byte
	err := l.db.View(func(tx kv.Txn) (err error) {
		proof, err = l.log.ConsistencyProof(tx, old, cp.Size)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return ledger.AddCheckpoint{OldSize: old, Proof: proof, Checkpoint: signed}.Marshal()
}

func (l *testLog) checkpoint(signed []byte) ledger.Checkpoint {
	l.t.Helper()
	cp, err := ledger.ParseCheckpoint(signed[:bytes.Index(signed, []byte("\n\n"))+1])
	if err != nil {
		l.t.Fatal(err)
	}
	return cp
}
