package kv

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4): reclaim these pages now.
const madvPageout = 21

// fadvWillneed is POSIX_FADV_WILLNEED: read this part of the file into the
// system's file cache, in the background.
const fadvWillneed = 3

const pageSize = 4096

// mapping is one of this process's mappings of a store file.
type mapping struct {
	start, end uintptr // addresses
	offset     int64   // of start in the file
	path       string
}

// storeMappings lists this process's mappings of dir's .sst and .vlog
// files, from /proc/self/maps.
func storeMappings(dir string) ([]mapping, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // the maps name files by their real paths
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var maps []mapping
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
		offset, err3 := strconv.ParseInt(fields[2], 16, 64)
		if !ok || err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		maps = append(maps, mapping{start: uintptr(start), end: uintptr(end), offset: offset, path: path})
	}
	return maps, sc.Err()
}

// releaseMappedFiles asks the kernel to reclaim the pages of this
// process's mappings of dir's .sst and .vlog files, then to read warm back
// into the system's file cache (not into this process).
//
// MADV_PAGEOUT never changes what memory holds: a file page is written
// back if need be and read again on the next access. That matters because
// Badger may unmap a file between the reading of the maps and the advice,
// and the address be reused: advice that discarded contents (MADV_DONTNEED)
// could then wipe other memory, this one cannot. A kernel without it
// refuses the advice, and nothing changes. Reclaimed pages leave the file
// cache too, so the next open of the wallet would read from the disk what
// it reads; warm, the pages an open read (residentRanges), are asked back.
func releaseMappedFiles(dir string, warm []fileRange) error {
	maps, err := storeMappings(dir)
	if err != nil {
		return fmt.Errorf("release mapped pages: %w", err)
	}
	for _, m := range maps {
		// An error (a mapping closed meanwhile, an older kernel) leaves
		// the pages where they are, which is all it can mean here.
		syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, madvPageout)
	}
	readIntoFileCache(warm)
	return nil
}

// fileRange is a part of a store file.
type fileRange struct {
	path        string
	offset, len int64
}

// residentRanges lists the parts of dir's .sst and .vlog files that this
// process has mapped in now: the pages it read (and those the kernel
// mapped around them), from /proc/self/pagemap. Pages merely in the
// system's file cache are not counted, as mincore would.
func residentRanges(dir string) ([]fileRange, error) {
	maps, err := storeMappings(dir)
	if err != nil {
		return nil, err
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	var out []fileRange
	buf := make([]byte, 8*4096)
	for _, m := range maps {
		pages := int64(m.end-m.start) / pageSize
		first := int64(m.start) / pageSize
		run := int64(-1) // first page of the current run of present pages
		flush := func(end int64) {
			if run >= 0 {
				out = append(out, fileRange{path: m.path, offset: m.offset + run*pageSize, len: (end - run) * pageSize})
				run = -1
			}
		}
		for p := int64(0); p < pages; {
			n := min(pages-p, int64(len(buf)/8))
			if _, err := pm.ReadAt(buf[:8*n], (first+p)*8); err != nil && err != io.EOF {
				break // the mapping went away meanwhile
			}
			for i := range n {
				present := binary.LittleEndian.Uint64(buf[8*i:])>>63 == 1
				switch {
				case present && run < 0:
					run = p + i
				case !present:
					flush(p + i)
				}
			}
			p += n
		}
		flush(pages)
	}
	return out, nil
}

// readIntoFileCache asks the kernel to read each range into the file
// cache in the background. Files gone meanwhile are skipped.
func readIntoFileCache(ranges []fileRange) {
	var f *os.File
	for _, r := range ranges {
		if f == nil || f.Name() != r.path {
			if f != nil {
				f.Close()
			}
			var err error
			if f, err = os.Open(r.path); err != nil {
				f = nil
				continue
			}
		}
		syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), uintptr(r.offset), uintptr(r.len), fadvWillneed, 0, 0)
	}
	if f != nil {
		f.Close()
	}
}
