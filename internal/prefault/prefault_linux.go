package prefault

import "syscall"

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): fault in these
// pages writable, as writing to each would, without changing what they
// hold.
const madvPopulateWrite = 23

// populate advises the whole pages inside [p, p+n). A kernel that does not
// know the advice refuses it, which changes nothing.
func populate(p, n uintptr) {
	const page = 4096
	start := (p + page - 1) &^ (page - 1)
	end := (p + n) &^ (page - 1)
	if end > start {
		syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvPopulateWrite)
	}
}

// madvHugepage is MADV_HUGEPAGE: back these pages with huge pages where
// possible.
const madvHugepage = 14

// adviseHuge advises the whole 2 MiB pages inside [p, p+n).
func adviseHuge(p, n uintptr) {
	const huge = 2 << 20
	start := (p + huge - 1) &^ (huge - 1)
	end := (p + n) &^ (huge - 1)
	if end > start {
		syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvHugepage)
	}
}
