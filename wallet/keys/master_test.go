package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	xhkdf "golang.org/x/crypto/hkdf"
)

// vectorMaster is the master key 00 01 02 … 1f.
func vectorMaster() *Master {
	m := &Master{}
	for i := range m.key {
		m.key[i] = byte(i)
	}
	return m
}

var allPurposes = []Purpose{PurposeBadger, PurposeRecord, PurposeIdentity, PurposeLog, PurposeIndex, PurposeAttachment}

func TestKeyPurposesGiveDistinctKeys(t *testing.T) {
	m := vectorMaster()
	seen := map[string]Purpose{}
	for _, p := range allPurposes {
		k := m.Key(p)
		if len(k) != 32 {
			t.Fatalf("Key(%s) is %d bytes", p, len(k))
		}
		if q, dup := seen[string(k)]; dup {
			t.Errorf("Key(%s) == Key(%s)", p, q)
		}
		seen[string(k)] = p
	}
}

// TestKeyDerivationIsStable pins the derivation: a change here would make
// every existing wallet unreadable. The vectors were checked against an
// independent HMAC-based HKDF.
func TestKeyDerivationIsStable(t *testing.T) {
	m := vectorMaster()
	for p, want := range map[Purpose]string{
		PurposeBadger:     "c8f09d4822d84513778f299ba0abdd8a768b9ec92c5810e22cf6b9d13ec42f18",
		PurposeRecord:     "f01661decf212b4e72413fa7905a44734367386dd737ebe88c2e24adb29e3ae4",
		PurposeIdentity:   "fa0942109fc6c2d57b764cbec92ef3d383ea1332c8f11e033b06b3cb86e075fc",
		PurposeLog:        "fafc6973f0bc468a6baf1c92e409d6cccec47899909217256239bddb73e5b75f",
		PurposeIndex:      "4253cb69c7da920af6515bb18418d7b5e9e0e4207177c0246c34ceb61cd7b40e",
		PurposeAttachment: "4985304d267be87bbcc1df4414ea7c617399b7cc4eb4934d1112569f68f5389a",
	} {
		if got := hex.EncodeToString(m.Key(p)); got != want {
			t.Errorf("Key(%s) = %s, want %s", p, got, want)
		}
	}
}

func TestKeyIsHKDFOfTheDocumentedInfo(t *testing.T) {
	m := vectorMaster()
	for _, p := range append(allPurposes, "some-future-purpose") {
		r := xhkdf.New(sha256.New, m.key[:], nil, []byte("medwallet/v1/"+string(p)))
		want := make([]byte, 32)
		if _, err := io.ReadFull(r, want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Key(p), want) {
			t.Errorf("Key(%s) is not HKDF-SHA256(master, \"medwallet/v1/%s\")", p, p)
		}
	}
}

func TestKeyReturnsAFreshSliceEachCall(t *testing.T) {
	m := vectorMaster()
	k := m.Key(PurposeRecord)
	want := bytes.Clone(k)
	clear(k)
	if !bytes.Equal(m.Key(PurposeRecord), want) {
		t.Fatal("clearing a returned key changed later results")
	}
}

func TestSigningKeyIsEd25519FromTheDerivedSeed(t *testing.T) {
	m := vectorMaster()
	for _, p := range []Purpose{PurposeIdentity, PurposeLog} {
		sk := m.SigningKey(p)
		if !bytes.Equal(sk.Seed(), m.Key(p)) {
			t.Errorf("SigningKey(%s) seed is not Key(%s)", p, p)
		}
		msg := []byte("checkpoint")
		if !ed25519.Verify(sk.Public().(ed25519.PublicKey), msg, ed25519.Sign(sk, msg)) {
			t.Errorf("SigningKey(%s) does not make verifiable signatures", p)
		}
	}
	if bytes.Equal(m.SigningKey(PurposeIdentity), m.SigningKey(PurposeLog)) {
		t.Error("identity and log signing keys are the same")
	}
}

func TestKeyAfterWipePanics(t *testing.T) {
	m := vectorMaster()
	m.Wipe()
	if !m.Wiped() {
		t.Error("Wiped() = false after Wipe")
	}
	if m.key != [32]byte{} {
		t.Error("Wipe left key bytes")
	}
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("Key after Wipe did not panic")
		}
		if !strings.Contains(fmt.Sprint(r), "after Wipe") {
			t.Errorf("panic %q does not say the key was wiped", r)
		}
	}()
	m.Key(PurposeRecord)
}

func TestMasterNeverPrintsItsKey(t *testing.T) {
	m := vectorMaster()
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, m)
		if strings.Contains(out, "31") || strings.Contains(out, "1f") {
			t.Errorf("Sprintf(%q, master) = %q leaks key bytes", format, out)
		}
	}
}
