package keys

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

const benchStreamSize = 8 << 20

// BenchmarkStreamEncrypt reports the stream writer's throughput beside
// .../reference: raw ChaCha20-Poly1305 sealing of the same bytes in the
// same 64 KiB chunks, with no framing or io.Writer in between.
func BenchmarkStreamEncrypt(b *testing.B) {
	key := testKey()
	plain := randomBytes(1, benchStreamSize)
	dst := bytes.NewBuffer(make([]byte, 0, StreamSize(benchStreamSize)))
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(benchStreamSize)
		for b.Loop() {
			dst.Reset()
			w, err := NewStreamWriter(key, dst)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(plain); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		aead, err := chacha20poly1305.New(key)
		if err != nil {
			b.Fatal(err)
		}
		out := make([]byte, encChunkSize)
		nonce := make([]byte, chacha20poly1305.NonceSize)
		b.SetBytes(benchStreamSize)
		for b.Loop() {
			for p := plain; len(p) > 0; p = p[min(len(p), chunk):] {
				aead.Seal(out[:0], nonce, p[:min(len(p), chunk)], nil)
			}
		}
	})
}

// BenchmarkStreamDecrypt reports the stream reader's throughput beside
// .../reference: raw ChaCha20-Poly1305 opening of the same chunks.
func BenchmarkStreamDecrypt(b *testing.B) {
	key := testKey()
	ct := encryptStream(b, key, randomBytes(2, benchStreamSize))
	b.Run("stream", func(b *testing.B) {
		buf := make([]byte, 32<<10)
		b.SetBytes(benchStreamSize)
		for b.Loop() {
			r, err := NewStreamReader(key, bytes.NewReader(ct))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		aead, err := chacha20poly1305.New(key)
		if err != nil {
			b.Fatal(err)
		}
		// Chunks sealed under fixed nonces, so that each one opens.
		var chunks [][]byte
		nonce := make([]byte, chacha20poly1305.NonceSize)
		for p := randomBytes(2, benchStreamSize); len(p) > 0; p = p[min(len(p), chunk):] {
			chunks = append(chunks, aead.Seal(nil, nonce, p[:min(len(p), chunk)], nil))
		}
		out := make([]byte, chunk)
		b.SetBytes(benchStreamSize)
		for b.Loop() {
			for _, c := range chunks {
				if _, err := aead.Open(out[:0], nonce, c, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkSealRecord reports Seal and Open of a 1 KiB record beside
// .../reference: a raw XChaCha20-Poly1305 AEAD made once, with a fixed
// nonce, so the difference is the per-call key setup and nonce generation.
func BenchmarkSealRecord(b *testing.B) {
	key := testKey()
	record := randomBytes(3, 1024)
	ad := []byte("record/0123456789abcdef/v1")
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(record)))
		for b.Loop() {
			Seal(key, record, ad)
		}
	})
	b.Run("open", func(b *testing.B) {
		sealed := Seal(key, record, ad)
		b.SetBytes(int64(len(record)))
		for b.Loop() {
			if _, err := Open(key, sealed, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		aead, err := chacha20poly1305.NewX(key)
		if err != nil {
			b.Fatal(err)
		}
		nonce := make([]byte, chacha20poly1305.NonceSizeX)
		rand.Read(nonce)
		out := make([]byte, 0, len(record)+tagSize)
		b.SetBytes(int64(len(record)))
		for b.Loop() {
			aead.Seal(out[:0], nonce, record, ad)
		}
	})
}

// BenchmarkUnlock reports Unlock with DefaultKDF beside .../reference: the
// bare Argon2id derivation, which should be nearly all of it.
func BenchmarkUnlock(b *testing.B) {
	h, _, _, err := Create([]byte("passphrase"), DefaultKDF)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unlock", func(b *testing.B) {
		for b.Loop() {
			if _, err := h.Unlock([]byte("passphrase")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			h.KDF.deriveKEK([]byte("passphrase"))
		}
	})
}
