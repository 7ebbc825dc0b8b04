package keys

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

const chunk = StreamChunkSize

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func encryptStream(t testing.TB, key, plaintext []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewStreamWriter(key, &out)
	if err != nil {
		t.Fatalf("NewStreamWriter: %v", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return out.Bytes()
}

func decryptStream(key, stream []byte) ([]byte, error) {
	r, err := NewStreamReader(key, bytes.NewReader(stream))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func mustBeTampered(t *testing.T, key, stream []byte, what string) {
	t.Helper()
	got, err := decryptStream(key, stream)
	if !errors.Is(err, ErrTampered) {
		t.Errorf("%s: decrypt = %d bytes, %v; want ErrTampered", what, len(got), err)
	}
}

var streamSizes = []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3*chunk + 7, 5<<20 + 123}

func TestStreamRoundTrip(t *testing.T) {
	key := testKey()
	for _, size := range streamSizes {
		plain := randomBytes(uint64(size), size)
		ct := encryptStream(t, key, plain)
		if int64(len(ct)) != StreamSize(int64(size)) {
			t.Errorf("size %d: stream is %d bytes, StreamSize says %d", size, len(ct), StreamSize(int64(size)))
		}
		if n, err := StreamPlaintextSize(int64(len(ct))); err != nil || n != int64(size) {
			t.Errorf("size %d: StreamPlaintextSize(%d) = %d, %v", size, len(ct), n, err)
		}
		got, err := decryptStream(key, ct)
		if err != nil {
			t.Fatalf("size %d: decrypt: %v", size, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("size %d: decrypted other bytes", size)
		}
	}
}

func TestStreamRoundTripWithOddWriteAndReadSizes(t *testing.T) {
	key := testKey()
	plain := randomBytes(7, 3*chunk+999)
	var ct bytes.Buffer
	w, err := NewStreamWriter(key, &ct)
	if err != nil {
		t.Fatal(err)
	}
	for p, step := plain, 1; len(p) > 0; step = step*3 + 1 {
		n := min(step%(chunk+3)+1, len(p))
		if m, err := w.Write(p[:n]); err != nil || m != n {
			t.Fatalf("Write(%d) = %d, %v", n, m, err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewStreamReader(key, iotest.HalfReader(bytes.NewReader(ct.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(iotest.OneByteReader(r), plain); err != nil {
		t.Fatal(err)
	}
}

func TestStreamsOfTheSameDataDiffer(t *testing.T) {
	key := testKey()
	a, b := encryptStream(t, key, []byte("same")), encryptStream(t, key, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two streams of the same plaintext are identical: the stream nonce is not random")
	}
}

func TestStreamTruncatedAnywhereIsTampered(t *testing.T) {
	key := testKey()
	ct := encryptStream(t, key, randomBytes(1, 3*chunk))
	boundaries := []int{0, 1, streamNonceSize, streamNonceSize + encChunkSize, streamNonceSize + 2*encChunkSize}
	for _, n := range boundaries {
		mustBeTampered(t, key, ct[:n], "truncated at a chunk boundary")
	}
	for _, n := range []int{streamNonceSize + 1, streamNonceSize + encChunkSize - 1, len(ct) - 1} {
		mustBeTampered(t, key, ct[:n], "truncated inside a chunk")
	}
	mustBeTampered(t, key, encryptStream(t, key, nil)[:streamNonceSize], "empty stream without its chunk")
}

func TestStreamWithSwappedChunksIsTampered(t *testing.T) {
	key := testKey()
	ct := encryptStream(t, key, randomBytes(2, 3*chunk))
	c0 := ct[streamNonceSize : streamNonceSize+encChunkSize]
	c1 := ct[streamNonceSize+encChunkSize : streamNonceSize+2*encChunkSize]
	swapped := slices(ct[:streamNonceSize], c1, c0, ct[streamNonceSize+2*encChunkSize:])
	mustBeTampered(t, key, swapped, "chunks 0 and 1 swapped")
	repeated := slices(ct[:streamNonceSize], c0, c0, ct[streamNonceSize+2*encChunkSize:])
	mustBeTampered(t, key, repeated, "chunk 0 repeated")
	dropped := slices(ct[:streamNonceSize], c0, ct[streamNonceSize+2*encChunkSize:])
	mustBeTampered(t, key, dropped, "chunk 1 dropped")
}

func TestStreamWithChunkFromAnotherStreamIsTampered(t *testing.T) {
	key := testKey()
	a := encryptStream(t, key, randomBytes(3, 2*chunk))
	b := encryptStream(t, key, randomBytes(4, 2*chunk))
	mixed := slices(a[:streamNonceSize+encChunkSize], b[streamNonceSize+encChunkSize:])
	mustBeTampered(t, key, mixed, "final chunk from another stream under the same key")
}

func TestStreamWithAFlippedBitIsTampered(t *testing.T) {
	key := testKey()
	ct := encryptStream(t, key, randomBytes(5, 2*chunk+10))
	for _, bit := range []int{0, 8*streamNonceSize - 1, 8 * streamNonceSize, 8 * (streamNonceSize + chunk + 3),
		8*(streamNonceSize+encChunkSize) + 5, 8*len(ct) - 1} {
		c := bytes.Clone(ct)
		c[bit/8] ^= 1 << (bit % 8)
		mustBeTampered(t, key, c, "flipped bit")
	}
}

func TestStreamExtendedAfterItsEndIsTampered(t *testing.T) {
	key := testKey()
	for _, size := range []int{0, 10, chunk} {
		ct := encryptStream(t, key, randomBytes(6, size))
		mustBeTampered(t, key, append(bytes.Clone(ct), 0), "one byte appended")
		mustBeTampered(t, key, slices(ct, ct[streamNonceSize:]), "chunks appended again")
	}
}

func TestStreamEndingInAnEmptyChunkAfterDataIsTampered(t *testing.T) {
	// Only an empty stream may end in an empty chunk, so that a stream has
	// one encoding; build by hand the encoding the writer never produces.
	key := testKey()
	nonce := make([]byte, streamNonceSize)
	aead, err := streamAEAD(key, nonce)
	if err != nil {
		t.Fatal(err)
	}
	var n chunkNonce
	full := aead.Seal(nil, n[:], randomBytes(8, chunk), nil)
	n.next()
	n.setLast()
	empty := aead.Seal(nil, n[:], nil, nil)
	mustBeTampered(t, key, slices(nonce, full, empty), "full chunk then empty final chunk")
}

func TestStreamUnderAnotherKeyIsTampered(t *testing.T) {
	ct := encryptStream(t, testKey(), []byte("lab report"))
	mustBeTampered(t, testKey(), ct, "other key")
}

func TestStreamReaderPassesOnReadErrors(t *testing.T) {
	key := testKey()
	ct := encryptStream(t, key, randomBytes(9, 2*chunk))
	broken := errors.New("disk unplugged")
	src := io.MultiReader(bytes.NewReader(ct[:streamNonceSize+encChunkSize+10]), iotest.ErrReader(broken))
	r, err := NewStreamReader(key, src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if !errors.Is(err, broken) || errors.Is(err, ErrTampered) {
		t.Fatalf("read error surfaced as %v, want the source's error and not ErrTampered", err)
	}
	if _, err := NewStreamReader(key, iotest.ErrReader(broken)); !errors.Is(err, broken) {
		t.Fatalf("NewStreamReader on a failing source = %v", err)
	}
}

// countingWriter records how many bytes reached it.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

func TestStreamWriterHoldsAtMostOneChunk(t *testing.T) {
	var dst countingWriter
	w, err := NewStreamWriter(testKey(), &dst)
	if err != nil {
		t.Fatal(err)
	}
	if dst.n != streamNonceSize {
		t.Fatalf("after NewStreamWriter %d bytes written, want the %d-byte nonce", dst.n, streamNonceSize)
	}
	w.Write(make([]byte, chunk))
	if dst.n != streamNonceSize {
		t.Fatalf("a full first chunk was written before knowing whether it is the last")
	}
	w.Write(make([]byte, 1))
	if dst.n != streamNonceSize+encChunkSize {
		t.Fatalf("after 64 KiB + 1 bytes, %d bytes written, want nonce + one chunk", dst.n)
	}
	w.Write(make([]byte, 3*chunk))
	if dst.n != streamNonceSize+4*encChunkSize {
		t.Fatalf("after 4 chunks + 1 byte, %d bytes written, want nonce + four chunks", dst.n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(dst.n) != StreamSize(4*chunk+1) {
		t.Fatalf("stream is %d bytes, want %d", dst.n, StreamSize(4*chunk+1))
	}
}

func TestStreamWriteAfterCloseFails(t *testing.T) {
	w, err := NewStreamWriter(testKey(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStreamWithABadKeySizeIsRefused(t *testing.T) {
	if _, err := NewStreamWriter(make([]byte, 16), io.Discard); err == nil {
		t.Error("NewStreamWriter with a 16-byte key succeeded")
	}
	if _, err := NewStreamReader(make([]byte, 16), bytes.NewReader(make([]byte, 64))); err == nil {
		t.Error("NewStreamReader with a 16-byte key succeeded")
	}
}

func TestStreamPlaintextSizeRefusesImpossibleSizes(t *testing.T) {
	for _, n := range []int64{-1, 0, 16, 31, streamNonceSize + encChunkSize + 1, streamNonceSize + encChunkSize + tagSize} {
		if p, err := StreamPlaintextSize(n); !errors.Is(err, ErrTampered) {
			t.Errorf("StreamPlaintextSize(%d) = %d, %v; want ErrTampered", n, p, err)
		}
	}
	for _, n := range []int64{0, 1, chunk, chunk + 1, 1 << 40} {
		if got, err := StreamPlaintextSize(StreamSize(n)); err != nil || got != n {
			t.Errorf("StreamPlaintextSize(StreamSize(%d)) = %d, %v", n, got, err)
		}
	}
}

// TestLargeStreamNeverSitsInMemory pipes 200 MB from a generator through the
// writer and the reader and checks that the heap stays far below the data
// size: a memory assertion, not a timing one.
func TestLargeStreamNeverSitsInMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MB stream in -short mode")
	}
	const size = 200 << 20
	const heapLimit = 32 << 20
	key := testKey()

	// Start from a collected heap so that earlier tests' garbage does not
	// count against this one.
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var peak uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})

	pr, pw := io.Pipe()
	plainHash := sha256.New()
	writeErr := make(chan error, 1)
	go func() {
		src := io.TeeReader(io.LimitReader(mrand.NewChaCha8([32]byte{42}), size), plainHash)
		w, err := NewStreamWriter(key, pw)
		if err == nil {
			_, err = io.Copy(w, src)
		}
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
		writeErr <- err
	}()

	r, err := NewStreamReader(key, pr)
	if err != nil {
		t.Fatal(err)
	}
	outHash := sha256.New()
	n, err := io.Copy(outHash, r)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("writing the stream: %v", err)
	}
	close(stop)
	sampler.Wait()

	if n != size {
		t.Fatalf("read %d bytes, want %d", n, size)
	}
	if !bytes.Equal(outHash.Sum(nil), plainHash.Sum(nil)) {
		t.Fatal("decrypted data differs from what was written")
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	if peak > heapLimit {
		t.Errorf("heap in use peaked at %d MiB while streaming %d MiB, want under %d MiB", peak>>20, size>>20, heapLimit>>20)
	}
	if allocated > heapLimit {
		t.Errorf("streaming %d MiB allocated %d MiB in all, want under %d MiB: something allocates per chunk", size>>20, allocated>>20, heapLimit>>20)
	}
	t.Logf("heap in use peaked at %.1f MiB and %.1f MiB was allocated for a %d MiB stream",
		float64(peak)/(1<<20), float64(allocated)/(1<<20), size>>20)
}

func slices(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}
