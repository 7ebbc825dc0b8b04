package ledger

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"medwallet/wallet/kv"
)

func sampleSigned(t testing.TB) []byte {
	l, err := Open("medwallet/aaaaaaaaaaaaaaaaaaaaaaaaaa", ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(Checkpoint{Origin: l.origin, Size: 3, Root: [32]byte{1}}.Body())}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewCosigner("w.example", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)), func() time.Time { return time.Unix(1, 0) })
	line, _ := c.SignatureLine(signed[:bytes.Index(signed, []byte("\n\n"))+1])
	return append(signed, line...)
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"))
	f.Add([]byte("a\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("a\n01\nx\n"))
	f.Add(sampleSigned(f))
	f.Fuzz(func(t *testing.T, text []byte) {
		cp, err := ParseCheckpoint(text)
		if err == nil && !bytes.Equal(cp.Body(), text) {
			t.Fatalf("accepted %q but it re-encodes as %q", text, cp.Body())
		}
		if origin, err := NoteOrigin(text); err == nil && origin == "" {
			t.Fatal("empty origin accepted")
		}
	})
}

func FuzzParseProof(f *testing.F) {
	signed := sampleSigned(f)
	f.Add(Proof{Index: 2, Hashes: [][32]byte{{1}, {2}}, Checkpoint: signed, LogKey: "k+1+x"}.Marshal())
	f.Add(Proof{Checkpoint: []byte("x\n")}.Marshal())
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\nx"))
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := ParseProof(text)
		if err != nil {
			return
		}
		if got := p.Marshal(); !bytes.Equal(got, text) {
			t.Fatalf("accepted %q but it re-encodes as %q", text, got)
		}
		// Verify never panics, whatever the proof says.
		Verify([]byte(`{"a":1}`), text, nil, 1)
	})
}

func FuzzParseAddCheckpoint(f *testing.F) {
	signed := sampleSigned(f)
	f.Add(AddCheckpoint{OldSize: 1, Proof: [][32]byte{{1}}, Checkpoint: signed}.Marshal())
	f.Add([]byte("old 0\n\nx"))
	f.Add([]byte("old 00\n\nx"))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseAddCheckpoint(body)
		if err != nil {
			return
		}
		if got := a.Marshal(); !bytes.Equal(got, body) {
			t.Fatalf("accepted %q but it re-encodes as %q", body, got)
		}
		if len(a.Proof) > maxConsistencyHashes {
			t.Fatalf("%d proof lines accepted", len(a.Proof))
		}
	})
}

// fixedAnswer is a witness transport that gives every request the same
// answer.
type fixedAnswer struct {
	status int
	ctype  string
	body   []byte
}

func (a fixedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	h := http.Header{}
	if a.ctype != "" {
		h.Set("Content-Type", a.ctype)
	}
	return &http.Response{StatusCode: a.status, Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzWitnessAnswer gives a standard witness's add-checkpoint any answer:
// nothing may panic, no cosignature may be accepted without the witness key,
// and no size beyond the log may be stored for the witness.
func FuzzWitnessAnswer(f *testing.F) {
	f.Add(200, "text/plain", []byte("— w.example/w AAAA\n"))
	f.Add(409, SizeContentType, []byte("2\n"))
	f.Add(409, SizeContentType, []byte("1000000\n"))
	f.Add(409, SizeContentType, []byte("3\n"))
	f.Add(422, "text/plain", sampleSigned(f))
	f.Add(404, "text/plain", []byte("unknown log\n"))
	f.Add(403, "", []byte{})
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		db := kv.Memory()
		l, err := Open("medwallet/aaaaaaaaaaaaaaaaaaaaaaaaaa", ed25519.NewKeyFromSeed(make([]byte, 32)))
		if err != nil {
			t.Fatal(err)
		}
		witnessKey := WitnessKey{Name: "w.example/w", PublicKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)).Public().(ed25519.PublicKey)}
		err = db.Update(func(tx kv.Txn) error {
			_, err := l.AppendAll(tx, [][32]byte{{1}, {2}, {3}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.AddWitness(db, "http://127.0.0.1:1", witnessKey.String()); err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: fixedAnswer{status, ctype, body}}
		a, err := l.Anchor(t.Context(), db, hc, time.Unix(1e9, 0))
		if err == nil || len(a.Cosigned) != 0 {
			t.Fatalf("a forged answer was accepted: %v %+v", err, a.Cosigned)
		}
		db.View(func(tx kv.Txn) error {
			ws, err := Witnesses(tx)
			if err != nil || len(ws) != 1 || ws[0].Size > 3 {
				t.Fatalf("witness state %+v %v", ws, err)
			}
			return nil
		})
	})
}
