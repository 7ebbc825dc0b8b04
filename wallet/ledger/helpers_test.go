package ledger_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// seededKey derives a deterministic Ed25519 key for tests.
func seededKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("medwallet test key " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// resource is a small FHIR-shaped JSON document numbered i.
func resource(i int) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Observation","id":"obs-%d","status":"final","valueQuantity":{"value":%d.5,"unit":"mmol/L"}}`, i, i)
}

// record is one appended record version as the wallet would keep it.
type record struct {
	resource []byte
	salt     [32]byte
	index    uint64
}

// testLog is a log in an in-memory kv.
type testLog struct {
	t   *testing.T
	db  kv.DB
	log *ledger.Log
}

func newTestLog(t *testing.T, db kv.DB, origin string, key ed25519.PrivateKey) *testLog {
	t.Helper()
	l, err := ledger.Open(origin, key)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{t: t, db: db, log: l}
}

// appendRecords appends n records starting at number first, in one transaction.
func (tl *testLog) appendRecords(first, n int) []record {
	tl.t.Helper()
	var recs []record
	err := tl.db.Update(func(tx kv.Txn) error {
		for i := first; i < first+n; i++ {
			r := record{resource: resource(i), salt: ledger.NewSalt()}
			rh, err := ledger.ResourceHash(r.resource)
			if err != nil {
				return err
			}
			if r.index, err = tl.log.Append(tx, ledger.Commitment(r.salt, rh)); err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		tl.t.Fatal(err)
	}
	return recs
}

func (tl *testLog) sign(now time.Time) []byte {
	tl.t.Helper()
	var signed []byte
	err := tl.db.Update(func(tx kv.Txn) error {
		var err error
		signed, err = tl.log.Sign(tx, now)
		return err
	})
	if err != nil {
		tl.t.Fatal(err)
	}
	return signed
}

func (tl *testLog) prove(r record) []byte {
	tl.t.Helper()
	var p ledger.Proof
	err := tl.db.View(func(tx kv.Txn) error {
		var err error
		p, err = tl.log.Prove(tx, r.index, r.salt)
		return err
	})
	if err != nil {
		tl.t.Fatal(err)
	}
	return p.Marshal()
}

// testWitness is a witness server on 127.0.0.1.
type testWitness struct {
	server *witness.Server
	http   *httptest.Server
	db     kv.DB
}

func newTestWitness(t *testing.T, name string, policy witness.Policy) *testWitness {
	t.Helper()
	db := kv.Memory()
	s, err := witness.New(db, seededKey("witness "+name), name, policy)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &testWitness{server: s, http: hs, db: db}
}

func (tw *testWitness) client() *http.Client { return tw.http.Client() }

func (tl *testLog) enroll(tw *testWitness) ledger.Witness {
	tl.t.Helper()
	w, err := tl.log.Enroll(tl.t.Context(), tl.db, tw.client(), tw.http.URL, "test patient")
	if err != nil {
		tl.t.Fatal(err)
	}
	return w
}
