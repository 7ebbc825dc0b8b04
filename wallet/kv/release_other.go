//go:build !linux

package kv

// fileRange is a part of a store file.
type fileRange struct{}

// releaseMappedFiles does nothing where there is no /proc/self/maps to
// find the mappings in.
func releaseMappedFiles(dir string, warm []fileRange) error { return nil }

// residentRanges finds nothing where there is no /proc/self/pagemap.
func residentRanges(dir string) ([]fileRange, error) { return nil, nil }
