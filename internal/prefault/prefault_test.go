package prefault

import (
	"bytes"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestSliceKeepsWhatTheBufferHolds: populating is only ever a prefault;
// contents written before it survive, and a small or empty slice is left
// alone.
func TestSliceKeepsWhatTheBufferHolds(t *testing.T) {
	b := make([]byte, 4<<20)
	for i := range b {
		b[i] = byte(i * 7)
	}
	want := bytes.Clone(b)
	Bytes(b)
	if !bytes.Equal(b, want) {
		t.Fatal("populating changed the buffer")
	}
	type pair struct{ a, b string }
	s := make([]pair, 100_000)
	s[99_999] = pair{"x", "y"}
	Slice(s)
	if s[99_999] != (pair{"x", "y"}) || s[0] != (pair{}) {
		t.Fatal("populating changed the slice")
	}
	Slice([]int(nil))
	Bytes(make([]byte, 10))
}

// TestBytesMapsInTheBuffer: on Linux 5.14 or later the pages of a fresh
// buffer are resident after Bytes, before anything is written to them.
func TestBytesMapsInTheBuffer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the advice is Linux's")
	}
	const size = 64 << 20
	if grew := residentGrowth(t, size, Bytes); grew < size/2 {
		if kernelBefore514(t) {
			t.Skip("the kernel is older than 5.14, which has no MADV_POPULATE_WRITE")
		}
		t.Fatalf("resident memory grew by %d MiB after populating a 64 MiB buffer, want most of it", grew>>20)
	}
}

// residentGrowth is how much the anonymous resident memory grows while a
// fresh buffer of size bytes is allocated and handed to f.
func residentGrowth(t *testing.T, size int, f func([]byte)) int64 {
	before := rssAnon(t)
	b := make([]byte, size)
	f(b)
	grew := rssAnon(t) - before
	runtime.KeepAlive(b)
	return grew
}

func rssAnon(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no RssAnon in /proc/self/status")
	return 0
}

func kernelBefore514(t *testing.T) bool {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return true
	}
	var major, minor int
	parts := strings.SplitN(strings.TrimSpace(string(data)), ".", 3)
	if len(parts) < 2 {
		return true
	}
	major, _ = strconv.Atoi(parts[0])
	minor, _ = strconv.Atoi(parts[1])
	return major < 5 || major == 5 && minor < 14
}

// TestHugeAdvisesTheBuffersWholeHugePages: the buffer's whole 2 MiB pages
// are marked for huge pages (VmFlags "hg" in /proc/self/smaps) where the
// system has transparent huge pages on request, and what it holds stays.
func TestHugeAdvisesTheBuffersWholeHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if runtime.GOOS != "linux" || err != nil || strings.Contains(string(mode), "[never]") {
		t.Skip("no transparent huge pages here")
	}
	b := make([]byte, 16<<20)
	for i := range b {
		b[i] = byte(i * 13)
	}
	want := bytes.Clone(b)
	before := hugeFlagged(t, b)
	Huge(b)
	after := hugeFlagged(t, b)
	runtime.KeepAlive(b)
	if !bytes.Equal(b, want) {
		t.Fatal("the advice changed the buffer")
	}
	if before || !after {
		t.Fatalf("the buffer's middle is marked for huge pages: before %v, after %v; want only after", before, after)
	}
	Huge(make([]byte, 10)) // too small to advise: nothing happens
}

// hugeFlagged reports whether the mapping holding the middle of b carries
// the huge-page advice.
func hugeFlagged(t *testing.T, b []byte) bool {
	mid := uint64(uintptr(unsafe.Pointer(&b[len(b)/2])))
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	inside := false
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			lo, hi, _ := strings.Cut(f[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			inside = err1 == nil && err2 == nil && l <= mid && mid < h
			continue
		}
		if inside && len(f) > 0 && f[0] == "VmFlags:" {
			return slices.Contains(f[1:], "hg")
		}
	}
	t.Fatal("no mapping in /proc/self/smaps holds the buffer")
	return false
}

// TestAdviseHugeMapsNothingIn: advice alone leaves a fresh buffer's pages
// out of memory, where Huge maps them in.
func TestAdviseHugeMapsNothingIn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the advice is Linux's")
	}
	const size = 64 << 20
	if grew := residentGrowth(t, size, AdviseHuge); grew > size/4 {
		t.Fatalf("resident memory grew by %d MiB after advising a 64 MiB buffer, want little", grew>>20)
	}
}
