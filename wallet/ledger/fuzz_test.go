package ledger

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
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
