package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// The Ed25519 signed-note vector of golang.org/x/mod/sumdb/note (also the
// reference for C2SP signed-note): key, text and signature.
const (
	peterSkey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
	peterVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	peterText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
	peterSig  = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

func TestLogKeyMatchesSignedNoteVector(t *testing.T) {
	raw, _ := base64.StdEncoding.DecodeString(peterSkey[len("PRIVATE+KEY+PeterNeumann+c74f20a3+"):])
	l, err := Open("PeterNeumann", ed25519.NewKeyFromSeed(raw[1:]))
	if err != nil {
		t.Fatal(err)
	}
	if l.VerifierKey() != peterVkey {
		t.Fatalf("vkey %q, want %q", l.VerifierKey(), peterVkey)
	}
	signed, err := note.Sign(&note.Note{Text: peterText}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	if want := peterText + "\n" + peterSig; string(signed) != want {
		t.Fatalf("signed note\n%s\nwant\n%s", signed, want)
	}
}

// The example note of C2SP signed-note: its text ends at the last blank line,
// and its one signature is from a key we do not know.
func TestSignedNoteSpecExampleParses(t *testing.T) {
	const text = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
	const sig = "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
	gotText, gotSigs, err := splitNote([]byte(text + "\n" + sig))
	if err != nil || string(gotText) != text || string(gotSigs) != sig {
		t.Fatalf("split: %q %q %v", gotText, gotSigs, err)
	}
	_, err = note.Open([]byte(text+"\n"+sig), note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) || len(unverified.Note.UnverifiedSigs) != 1 || unverified.Note.UnverifiedSigs[0].Name != "quasimodo.example/salvatore" {
		t.Fatalf("open with no known keys: %v", err)
	}
}

// The example of C2SP tlog-cosignature: the checkpoint parses and the
// witness's signature carries the timestamp of the spec's signed message.
func TestCosignatureSpecExample(t *testing.T) {
	body := "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	cp, err := ParseCheckpoint([]byte(body))
	if err != nil || cp.Origin != "example.com/behind-the-sofa" || cp.Size != 20852163 {
		t.Fatalf("checkpoint %+v, %v", cp, err)
	}
	if string(cp.Body()) != body {
		t.Fatalf("body does not round-trip: %q", cp.Body())
	}
	sig := note.Signature{Name: "witness.example.com/w1", Base64: "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="}
	ts, err := cosignatureTime(sig)
	if err != nil || ts.Unix() != 1679315147 {
		t.Fatalf("timestamp %v, %v; want 1679315147", ts, err)
	}
}

func TestCosignatureSignsTheSpecMessage(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	at := time.Unix(1679315147, 0)
	c, err := NewCosigner("witness.example.com/w1", key, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
	sig, err := c.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	msg := "cosignature/v1\ntime " + strconv.FormatInt(at.Unix(), 10) + "\n" + string(body)
	if len(sig) != 72 || !ed25519.Verify(key.Public().(ed25519.PublicKey), []byte(msg), sig[8:]) {
		t.Fatal("cosignature is not an Ed25519 signature of the cosignature/v1 message")
	}
	// The key ID is SHA-256(name || "\n" || 0x04 || key)[:4], and the vkey round-trips.
	k, err := ParseWitnessKey(c.Key().String())
	if err != nil || k.String() != c.Key().String() {
		t.Fatalf("vkey round trip: %v", err)
	}
	if !c.Key().Verifier().Verify(body, sig) {
		t.Fatal("own verifier rejects the cosignature")
	}
}

func TestParseWitnessKeyRefusesLogKeys(t *testing.T) {
	if _, err := ParseWitnessKey(peterVkey); err == nil {
		t.Fatal("an Ed25519 note key (type 0x01) was accepted as a cosignature key")
	}
}
