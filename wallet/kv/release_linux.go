package kv

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4): reclaim these pages now.
const madvPageout = 21

// releaseMappedFiles asks the kernel to reclaim the pages of this
// process's mappings of dir's .sst and .vlog files. MADV_PAGEOUT never
// changes what memory holds: a file page is written back if need be and
// read again on the next access. That matters because Badger may unmap a
// file between the reading of the maps and the advice, and the address be
// reused: advice that discarded contents (MADV_DONTNEED) could then wipe
// other memory, this one cannot. A kernel without it refuses the advice,
// and nothing changes.
func releaseMappedFiles(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // the maps name files by their real paths
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("release mapped pages: %w", err)
	}
	defer f.Close()
	var regions [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		path := strings.Join(fields[5:], " ")
		if filepath.Dir(path) != dir || !(strings.HasSuffix(path, ".sst") || strings.HasSuffix(path, ".vlog")) {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		regions = append(regions, [2]uintptr{uintptr(start), uintptr(end)})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("release mapped pages: %w", err)
	}
	for _, r := range regions {
		// An error (a mapping closed meanwhile, an older kernel) leaves
		// the pages where they are, which is all it can mean here.
		syscall.Syscall(syscall.SYS_MADVISE, r[0], r[1]-r[0], madvPageout)
	}
	return nil
}
