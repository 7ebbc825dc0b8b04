// Package prefault maps in, in one system call, the pages of a large
// buffer just allocated, before it is written.
//
// Writing a fresh buffer of many megabytes faults its pages in one at a
// time, and each fault is a trap into the kernel: on a virtual machine,
// opening a 200,000-record wallet spent half its CPU there. Asking the
// kernel for all of the buffer's pages at once does the same work for a
// fraction of the cost.
package prefault

import "unsafe"

// minSize is the smallest buffer worth the system call.
const minSize = 256 << 10

// Bytes maps in the pages of b's whole capacity.
func Bytes(b []byte) { Slice(b) }

// Slice maps in the pages of s's whole capacity. It never changes what s
// holds; where the kernel cannot (not Linux, or older than 5.14) it does
// nothing, and the pages fault in as they are written.
func Slice[T any](s []T) {
	if p, n := region(s); n >= minSize {
		populate(p, n)
	}
}

// region is the address and length in bytes of s's whole capacity.
func region[T any](s []T) (p, n uintptr) {
	var zero T
	return uintptr(unsafe.Pointer(unsafe.SliceData(s))), uintptr(cap(s)) * unsafe.Sizeof(zero)
}

// Huge is Slice for a buffer of tens of megabytes that lives as long as
// what it holds: AdviseHuge, then its pages mapped in.
func Huge[T any](s []T) {
	AdviseHuge(s)
	Slice(s)
}

// AdviseHuge asks for the whole 2 MiB pages of s's capacity to be huge
// pages, where the system's transparent huge pages are on request
// ("madvise", Linux's default), so that the kernel maps and clears them 512
// small pages at a time as they are first written (or mapped in by Slice).
// It is only advice: it maps nothing in and never changes what s holds.
func AdviseHuge[T any](s []T) {
	if p, n := region(s); n >= minSize {
		adviseHuge(p, n)
	}
}
