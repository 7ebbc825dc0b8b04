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
