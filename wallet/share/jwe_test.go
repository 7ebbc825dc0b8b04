package share

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestSpecJWEDecryptsToTheExampleCard(t *testing.T) {
	plain, h, err := Decrypt(fixtureKey(t), string(fixture(t, "shl/jwe-example.txt")), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, fixture(t, "shc/example-00-e-file.smart-health-card")) {
		t.Error("plaintext differs from example-00-e-file.smart-health-card")
	}
	if h.Cty != ContentSHC || h.Zip != "" {
		t.Errorf("header %+v", h)
	}
}

func TestIPSCiphertextWithKidDecryptsToExpectedBundle(t *testing.T) {
	plain, h, err := Decrypt(fixtureKey(t), string(fixture(t, "shl/IPS_IG-bundle-01-enc.txt")), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, fixture(t, "shl/expected-decrypted.json")) {
		t.Error("plaintext differs from expected-decrypted.json")
	}
	if h.Kid == "" || h.Cty != "" {
		t.Errorf("header %+v: the fixture has a kid and no cty", h)
	}
}

func TestDecryptRespectsThePlaintextLimit(t *testing.T) {
	_, _, err := Decrypt(fixtureKey(t), string(fixture(t, "shl/IPS_IG-bundle-01-enc.txt")), 60972)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("60,973-byte plaintext under a 60,972 limit: %v, want ErrTooLarge", err)
	}
}

func TestEncryptRoundTripsWithFreshIVs(t *testing.T) {
	var key [32]byte
	rand.Read(key[:])
	msg := []byte(`{"resourceType":"Bundle"}`)
	a, err := Encrypt(key, msg, ContentFHIR)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Encrypt(key, msg, ContentFHIR)
	if strings.Split(a, ".")[2] == strings.Split(b, ".")[2] {
		t.Error("two encryptions share an IV")
	}
	plain, h, err := Decrypt(key, a, 1<<10)
	if err != nil || !bytes.Equal(plain, msg) || h.Cty != ContentFHIR || h.Alg != "dir" || h.Enc != "A256GCM" {
		t.Errorf("round trip: %q %+v %v", plain, h, err)
	}
	var other [32]byte
	if _, _, err := Decrypt(other, a, 1<<10); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong key: %v, want ErrDecrypt", err)
	}
}

func TestTamperedJWEIsRefused(t *testing.T) {
	key := fixtureKey(t)
	jwe := strings.TrimSpace(string(fixture(t, "shl/jwe-example.txt")))
	parts := strings.Split(jwe, ".")
	// A header rewritten without cty changes the AAD: authentication fails.
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM"}`))
	if _, _, err := Decrypt(key, hdr+"."+strings.Join(parts[1:], "."), 1<<20); !errors.Is(err, ErrDecrypt) {
		t.Errorf("swapped header: %v, want ErrDecrypt", err)
	}
	ct := []byte(parts[3])
	if ct[10] == 'A' {
		ct[10] = 'B'
	} else {
		ct[10] = 'A'
	}
	parts[3] = string(ct)
	if _, _, err := Decrypt(key, strings.Join(parts, "."), 1<<20); !errors.Is(err, ErrDecrypt) {
		t.Errorf("flipped ciphertext: %v, want ErrDecrypt", err)
	}
}

func TestMalformedJWEsAreRefused(t *testing.T) {
	key := fixtureKey(t)
	h := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	iv := base64.RawURLEncoding.EncodeToString(make([]byte, 12))
	tag := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	for name, jwe := range map[string]string{
		"four parts":    "a.b.c.d",
		"RSA alg":       h(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".." + iv + ".AA." + tag,
		"crit":          h(`{"alg":"dir","enc":"A256GCM","crit":["x"]}`) + ".." + iv + ".AA." + tag,
		"zip other":     h(`{"alg":"dir","enc":"A256GCM","zip":"GZ"}`) + ".." + iv + ".AA." + tag,
		"encrypted key": h(`{"alg":"dir","enc":"A256GCM"}`) + ".AAAA." + iv + ".AA." + tag,
		"short IV":      h(`{"alg":"dir","enc":"A256GCM"}`) + "..AAAA.AA." + tag,
	} {
		if _, _, err := Decrypt(key, jwe, 1<<10); !errors.Is(err, ErrMalformedJWE) {
			t.Errorf("%s: %v, want ErrMalformedJWE", name, err)
		}
	}
}

// sealRaw builds a JWE around arbitrary (e.g. deflated) plaintext bytes.
func sealRaw(t testing.TB, key [32]byte, header string, plain []byte) string {
	t.Helper()
	protected := base64.RawURLEncoding.EncodeToString([]byte(header))
	gcm, _ := newGCM(key)
	iv := make([]byte, 12)
	rand.Read(iv)
	sealed := gcm.Seal(nil, iv, plain, []byte(protected))
	n := len(sealed) - 16
	e := base64.RawURLEncoding
	return protected + ".." + e.EncodeToString(iv) + "." + e.EncodeToString(sealed[:n]) + "." + e.EncodeToString(sealed[n:])
}

func deflate(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestDeflatedJWEInflates(t *testing.T) {
	key := fixtureKey(t)
	want := fixture(t, "shl/expected-decrypted.json")
	jwe := sealRaw(t, key, `{"alg":"dir","enc":"A256GCM","zip":"DEF","cty":"application/fhir+json"}`, deflate(t, want))
	got, h, err := Decrypt(key, jwe, 1<<20)
	if err != nil || !bytes.Equal(got, want) || h.Zip != "DEF" {
		t.Fatalf("deflated JWE: %v (zip %q)", err, h.Zip)
	}
}

func TestZipBombJWEIsRefused(t *testing.T) {
	key := fixtureKey(t)
	// 64 MiB of zeros deflates to ~64 KiB; with a 1 MiB limit it must stop
	// after reading just past 1 MiB.
	bomb := deflate(t, make([]byte, 64<<20))
	jwe := sealRaw(t, key, `{"alg":"dir","enc":"A256GCM","zip":"DEF"}`, bomb)
	if len(jwe) > 200<<10 {
		t.Fatalf("bomb JWE is %d bytes; the test wants a small one", len(jwe))
	}
	if _, _, err := Decrypt(key, jwe, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("zip bomb: %v, want ErrTooLarge", err)
	}
}

func FuzzDecrypt(f *testing.F) {
	key := fixtureKey(f)
	f.Add(string(fixture(f, "shl/jwe-example.txt")))
	f.Add(sealRaw(f, key, `{"alg":"dir","enc":"A256GCM","zip":"DEF"}`, deflate(f, []byte("hello hello hello"))))
	f.Add(sealRaw(f, key, `{"alg":"dir","enc":"A256GCM","zip":"DEF"}`, []byte{0xff, 0x00}))
	f.Fuzz(func(t *testing.T, jwe string) {
		plain, h, err := Decrypt(key, jwe, 1<<16)
		if err != nil {
			return
		}
		if len(plain) > 1<<16 {
			t.Fatalf("plaintext of %d bytes over the limit", len(plain))
		}
		if h.Alg != "dir" || h.Enc != "A256GCM" {
			t.Fatalf("accepted header %+v", h)
		}
	})
}

func benchPayload(n int) []byte {
	b := bytes.Repeat([]byte(`{"resourceType":"Observation","valueQuantity":{"value":5.4,"unit":"mmol/L"}},`), n/76+1)
	return b[:n]
}

// BenchmarkJWE measures Encrypt and Decrypt beside raw AES-256-GCM over the
// same bytes: the difference is base64 and header handling.
func BenchmarkJWE(b *testing.B) {
	var key [32]byte
	rand.Read(key[:])
	gcm, _ := newGCM(key)
	iv := make([]byte, 12)
	for _, size := range []struct {
		name string
		n    int
	}{{"1MB", 1 << 20}, {"20MB", 20 << 20}} {
		plain := benchPayload(size.n)
		jwe, _ := Encrypt(key, plain, ContentFHIR)
		sealed := gcm.Seal(nil, iv, plain, nil)
		b.Run(size.name+"/encrypt", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if _, err := Encrypt(key, plain, ContentFHIR); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/encrypt/reference", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				gcm.Seal(nil, iv, plain, nil)
			}
		})
		b.Run(size.name+"/decrypt", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if _, _, err := Decrypt(key, jwe, int64(size.n)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/decrypt/reference", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if _, err := gcm.Open(nil, iv, sealed, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
