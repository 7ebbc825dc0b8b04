package keys

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/crypto/chacha20poly1305"
)

// StreamChunkSize is the plaintext size of every attachment-stream chunk but
// the last.
const StreamChunkSize = 64 << 10

const (
	streamNonceSize   = 16
	streamInfo        = "medwallet/v1/attachment-stream"
	encChunkSize      = StreamChunkSize + tagSize
	lastChunkFlag     = 0x01
	maxStreamChunks   = (math.MaxInt64 - streamNonceSize) / encChunkSize
	maxStreamPlainLen = maxStreamChunks * StreamChunkSize
)

type chunkNonce [chacha20poly1305.NonceSize]byte

// next advances the 88-bit big-endian counter in the first 11 bytes.
func (n *chunkNonce) next() {
	for i := len(n) - 2; i >= 0; i-- {
		n[i]++
		if n[i] != 0 {
			return
		}
	}
	panic("keys: attachment stream chunk counter wrapped around") // 2^88 chunks: unreachable
}

func (n *chunkNonce) setLast() { n[len(n)-1] = lastChunkFlag }

func (n *chunkNonce) isFirst() bool { return *n == chunkNonce{} }

func streamAEAD(key, nonce []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("attachment stream: %d-byte key, want %d", len(key), keySize)
	}
	k, err := hkdf.Key(sha256.New, key, nonce, streamInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("attachment stream: derive key: %w", err)
	}
	defer clear(k)
	return chacha20poly1305.New(k)
}

// StreamSize returns the ciphertext size NewStreamWriter produces for
// plaintextSize bytes: the 16-byte nonce, the plaintext, and a 16-byte tag
// per chunk (one chunk at least). It panics if plaintextSize is negative or
// too large for the result to fit an int64.
func StreamSize(plaintextSize int64) int64 {
	if plaintextSize < 0 || plaintextSize > maxStreamPlainLen {
		panic(fmt.Sprintf("keys: StreamSize(%d): size out of range", plaintextSize))
	}
	chunks := max(1, (plaintextSize+StreamChunkSize-1)/StreamChunkSize)
	return streamNonceSize + plaintextSize + chunks*tagSize
}

// StreamPlaintextSize is the inverse of StreamSize. It returns an error
// wrapping ErrTampered for a size no stream can have.
func StreamPlaintextSize(streamSize int64) (int64, error) {
	bad := fmt.Errorf("attachment stream: %w: %d bytes is not a possible stream size", ErrTampered, streamSize)
	body := streamSize - streamNonceSize
	if body < tagSize {
		return 0, bad
	}
	chunks := (body + encChunkSize - 1) / encChunkSize
	plain := body - chunks*tagSize
	want := max(1, (plain+StreamChunkSize-1)/StreamChunkSize)
	if plain < 0 || want != chunks {
		return 0, bad
	}
	return plain, nil
}

// streamWriter holds at most one chunk: it seals a full chunk only once
// more data arrives, so that the last chunk can be full and only an empty
// stream ends in an empty chunk.
type streamWriter struct {
	aead  cipher.AEAD
	dst   io.Writer
	buf   [encChunkSize]byte
	n     int // plaintext bytes in buf
	nonce chunkNonce
	err   error
}

var errStreamClosed = errors.New("attachment stream: write after Close")

// NewStreamWriter writes a random 16-byte nonce to dst and returns a writer
// that encrypts what is written to it into dst in 64 KiB chunks. Close
// writes the final chunk and must be called; it does not close dst. An
// empty final chunk is written only for an empty stream, as in age. key
// must be 32 bytes, for example m.Key(PurposeAttachment).
func NewStreamWriter(key []byte, dst io.Writer) (io.WriteCloser, error) {
	var nonce [streamNonceSize]byte
	rand.Read(nonce[:])
	aead, err := streamAEAD(key, nonce[:])
	if err != nil {
		return nil, err
	}
	if _, err := dst.Write(nonce[:]); err != nil {
		return nil, fmt.Errorf("attachment stream: write nonce: %w", err)
	}
	return &streamWriter{aead: aead, dst: dst}, nil
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.n == StreamChunkSize {
			if err := w.flush(false); err != nil {
				return written, err
			}
		}
		if w.n == 0 && len(p) > StreamChunkSize {
			// A whole chunk with more to follow: seal it straight from p.
			if err := w.seal(p[:StreamChunkSize], false); err != nil {
				return written, err
			}
			p = p[StreamChunkSize:]
			written += StreamChunkSize
			continue
		}
		c := copy(w.buf[w.n:StreamChunkSize], p)
		w.n += c
		p = p[c:]
		written += c
	}
	return written, nil
}

// Close seals and writes the final chunk.
func (w *streamWriter) Close() error {
	if w.err != nil {
		if w.err == errStreamClosed {
			return nil
		}
		return w.err
	}
	if err := w.flush(true); err != nil {
		return err
	}
	w.err = errStreamClosed
	return nil
}

func (w *streamWriter) flush(last bool) error {
	n := w.n
	w.n = 0
	return w.seal(w.buf[:n], last)
}

// seal encrypts one chunk of plaintext, which is either w.buf's start or
// does not overlap w.buf, into w.buf and writes it out.
func (w *streamWriter) seal(plain []byte, last bool) error {
	if last {
		w.nonce.setLast()
	}
	ct := w.aead.Seal(w.buf[:0], w.nonce[:], plain, nil)
	w.nonce.next()
	if _, err := w.dst.Write(ct); err != nil {
		w.err = fmt.Errorf("attachment stream: %w", err)
		return w.err
	}
	return nil
}

// streamReader decrypts one chunk at a time into buf and hands it out. It
// reads one byte past each full chunk to learn whether the chunk is the
// last, so every chunk is decrypted once, in place.
type streamReader struct {
	aead     cipher.AEAD
	src      io.Reader
	buf      [encChunkSize + 1]byte
	unread   []byte
	nonce    chunkNonce
	peek     byte // first byte of the next chunk, if havePeek
	havePeek bool
	err      error
}

// NewStreamReader reads the stream's nonce from src and returns a reader of
// the plaintext. Each chunk is authenticated before any of it is returned;
// a stream that was truncated, reordered, extended or modified is an error
// wrapping ErrTampered, at the latest where the stream should end, so the
// caller must discard what it read if Read ends in any error but io.EOF.
func NewStreamReader(key []byte, src io.Reader) (io.Reader, error) {
	var nonce [streamNonceSize]byte
	if _, err := io.ReadFull(src, nonce[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("attachment stream: %w: it ends before its %d-byte header", ErrTampered, streamNonceSize)
		}
		return nil, fmt.Errorf("attachment stream: read nonce: %w", err)
	}
	aead, err := streamAEAD(key, nonce[:])
	if err != nil {
		return nil, err
	}
	return &streamReader{aead: aead, src: src}, nil
}

func (r *streamReader) Read(p []byte) (int, error) {
	if len(r.unread) > 0 {
		n := copy(p, r.unread)
		r.unread = r.unread[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	last, err := r.readChunk()
	if err != nil {
		r.err = err
		return 0, err
	}
	if last {
		r.err = io.EOF
	}
	n := copy(p, r.unread)
	r.unread = r.unread[n:]
	return n, nil
}

// readChunk reads, authenticates and decrypts the next chunk into unread.
// The chunk is the last one exactly when the source ends within it.
func (r *streamReader) readChunk() (last bool, err error) {
	start := 0
	if r.havePeek {
		r.buf[0] = r.peek
		start = 1
	}
	n, err := io.ReadFull(r.src, r.buf[start:])
	n += start
	switch {
	case err == nil:
		r.peek, r.havePeek = r.buf[encChunkSize], true
		n = encChunkSize
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		if n == 0 {
			return false, fmt.Errorf("attachment stream: %w: it was truncated after chunk %d", ErrTampered, r.chunkIndex())
		}
		// Only an empty stream ends in an empty chunk.
		if n == tagSize && !r.nonce.isFirst() {
			return false, fmt.Errorf("attachment stream: %w: empty final chunk after data", ErrTampered)
		}
		last = true
		r.nonce.setLast()
	default:
		return false, fmt.Errorf("attachment stream: %w", err)
	}

	in := r.buf[:n]
	out, err := r.aead.Open(in[:0], r.nonce[:], in, nil)
	if err != nil {
		return false, fmt.Errorf("attachment stream: %w: chunk %d failed authentication", ErrTampered, r.chunkIndex())
	}
	r.nonce.next()
	r.unread = out
	return last, nil
}

func (r *streamReader) chunkIndex() uint64 {
	var v uint64
	for _, b := range r.nonce[3:11] {
		v = v<<8 | uint64(b)
	}
	return v
}
