package keys

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func testKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	key := testKey()
	for _, size := range []int{0, 1, 1024, 100_000} {
		msg := make([]byte, size)
		rand.Read(msg)
		sealed := Seal(key, msg, []byte("record/abc/v1"))
		if len(sealed) != size+SealOverhead {
			t.Errorf("Seal(%d bytes) gave %d bytes, want %d", size, len(sealed), size+SealOverhead)
		}
		got, err := Open(key, sealed, []byte("record/abc/v1"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatal("Open returned other bytes")
		}
	}
}

func TestSealUsesAFreshNonceEachTime(t *testing.T) {
	key := testKey()
	a, b := Seal(key, []byte("same"), nil), Seal(key, []byte("same"), nil)
	if bytes.Equal(a[:24], b[:24]) || bytes.Equal(a, b) {
		t.Fatal("two seals of the same message are identical")
	}
}

func TestOpenWithWrongAdditionalDataIsTampered(t *testing.T) {
	key := testKey()
	sealed := Seal(key, []byte(`{"resourceType":"Observation"}`), []byte("record/abc/v1"))
	for _, ad := range [][]byte{nil, []byte("record/abc/v2"), []byte("record/abd/v1")} {
		if _, err := Open(key, sealed, ad); !errors.Is(err, ErrTampered) {
			t.Errorf("Open with AD %q = %v, want ErrTampered", ad, err)
		}
	}
}

func TestOpenOfAnyFlippedBitIsTampered(t *testing.T) {
	key := testKey()
	sealed := Seal(key, []byte("allergy: penicillin"), []byte("ad"))
	for i := range len(sealed) * 8 {
		c := bytes.Clone(sealed)
		c[i/8] ^= 1 << (i % 8)
		if got, err := Open(key, c, []byte("ad")); !errors.Is(err, ErrTampered) {
			t.Fatalf("bit %d flipped: Open = %q, %v; want ErrTampered", i, got, err)
		}
	}
}

func TestOpenWithAnotherKeyIsTampered(t *testing.T) {
	sealed := Seal(testKey(), []byte("x"), nil)
	if _, err := Open(testKey(), sealed, nil); !errors.Is(err, ErrTampered) {
		t.Fatalf("Open with another key = %v, want ErrTampered", err)
	}
}

func TestOpenOfShortInputIsTampered(t *testing.T) {
	key := testKey()
	sealed := Seal(key, nil, nil)
	for n := range len(sealed) {
		if _, err := Open(key, sealed[:n], nil); !errors.Is(err, ErrTampered) {
			t.Errorf("Open(%d bytes) = %v, want ErrTampered", n, err)
		}
	}
}

func TestOpenWithABadKeySizeIsAnErrorNotTampering(t *testing.T) {
	_, err := Open(make([]byte, 16), Seal(testKey(), nil, nil), nil)
	if err == nil || errors.Is(err, ErrTampered) {
		t.Fatalf("Open with a 16-byte key = %v, want a key-size error", err)
	}
}

func TestSealWithABadKeySizePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Seal with a 16-byte key did not panic")
		}
	}()
	Seal(make([]byte, 16), []byte("x"), nil)
}
