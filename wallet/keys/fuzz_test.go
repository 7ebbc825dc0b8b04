package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

func FuzzParseHeader(f *testing.F) {
	h, _, _, err := Create([]byte("pass"), testKDF)
	if err != nil {
		f.Fatal(err)
	}
	valid, err := json.Marshal(h)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`{"format":1,"kdf":{"name":"argon2id","time":1,"memoryKiB":64,"threads":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="}}`))
	f.Add([]byte(`{"format":1e400}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptHeader) && !errors.Is(err, ErrNewerFormat) {
				t.Fatalf("ParseHeader error %v is neither ErrCorruptHeader nor ErrNewerFormat", err)
			}
			return
		}
		// Anything accepted must be safe to unlock (bounded KDF cost) and
		// must survive a write and re-read unchanged.
		if h.KDF.MemoryKiB > maxKDFMemoryKiB || h.KDF.Time > maxKDFTime {
			t.Fatalf("accepted hostile KDF parameters %+v", h.KDF)
		}
		again, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := ParseHeader(again)
		if err != nil {
			t.Fatalf("re-parsing an accepted header: %v", err)
		}
		if !bytes.Equal(h2.PassphraseWrap, h.PassphraseWrap) || !bytes.Equal(h2.RecoveryWrap, h.RecoveryWrap) ||
			!bytes.Equal(h2.KDF.Salt, h.KDF.Salt) || h2.KDF.Time != h.KDF.Time || h2.KDF.MemoryKiB != h.KDF.MemoryKiB ||
			h2.KDF.Threads != h.KDF.Threads || !h2.Created.Equal(h.Created) {
			t.Fatalf("header changed on a round trip: %+v then %+v", h, h2)
		}
	})
}

func FuzzParseRecoveryKey(f *testing.F) {
	f.Add(vectorRecoveryText)
	f.Add(RecoveryKey{}.String())
	f.Add("000G 40R4 0M30 E209 185G R38E 1W81 24GK 2GAH C5RR 34D1 P70X 3RFG FCFJ")
	f.Add("")
	f.Add("uuuu-")
	f.Fuzz(func(t *testing.T, s string) {
		rk, err := ParseRecoveryKey(s)
		if err != nil {
			if !errors.Is(err, ErrBadRecoveryKey) {
				t.Fatalf("ParseRecoveryKey error %v does not wrap ErrBadRecoveryKey", err)
			}
			return
		}
		again, err := ParseRecoveryKey(rk.String())
		if err != nil || again != rk {
			t.Fatalf("accepted %q, but its String %q parses as %x, %v", s, rk.String(), again, err)
		}
	})
}

func FuzzStreamReader(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	for _, size := range []int{0, 1, 100, chunk, chunk + 1} {
		f.Add(encryptStream(f, key, randomBytes(uint64(size), size)))
	}
	f.Add([]byte{})
	f.Add(make([]byte, streamNonceSize+tagSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewStreamReader(key, bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("NewStreamReader error %v does not wrap ErrTampered", err)
			}
			return
		}
		out, err := io.ReadAll(r)
		if err != nil {
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("stream error %v does not wrap ErrTampered", err)
			}
			return
		}
		want, err := StreamPlaintextSize(int64(len(data)))
		if err != nil || int64(len(out)) != want {
			t.Fatalf("authentic %d-byte stream gave %d bytes; StreamPlaintextSize says %d, %v", len(data), len(out), want, err)
		}
	})
}
