package kv

// Releaser is implemented by stores that map their files into memory and
// can let go of the pages a long read brought in (see ReleaseMapped).
type Releaser interface {
	ReleaseMapped() error
	// NoteWarm notes the pages mapped in now as those the next open
	// reads (see NoteWarm).
	NoteWarm() error
}

// ReleaseMapped tells db, if it maps its files, that the pages a scan of
// the whole store touched (an integrity audit, an import) are not needed
// any more. They no longer count as the process's resident memory, which
// a scan of a 200,000-record wallet would leave some 500 MB above what the
// wallet uses, and are read from the disk when used again; those noted
// by NoteWarm are read back into the system's file cache (not into the
// process) at once.
func ReleaseMapped(db DB) error {
	if r, ok := db.(Releaser); ok {
		return r.ReleaseMapped()
	}
	return nil
}

// NoteWarm tells db, if it maps its files, that the pages of them it has
// in memory now are what an open reads: call it just after opening the
// store and reading what an open reads. ReleaseMapped keeps them in the
// system's file cache, so that the next open reads them from memory, not
// from the disk. A later call replaces what an earlier noted.
func NoteWarm(db DB) error {
	if r, ok := db.(Releaser); ok {
		return r.NoteWarm()
	}
	return nil
}

// ReleaseMapped releases the pages of Badger's table and value log files
// that this process maps.
func (b *badgerDB) ReleaseMapped() error {
	return releaseMappedFiles(b.dir, *b.warm.Load())
}

// NoteWarm notes the parts of Badger's table and value log files that
// this process has mapped in now.
func (b *badgerDB) NoteWarm() error {
	ranges, err := residentRanges(b.dir)
	if err != nil {
		return err
	}
	b.warm.Store(&ranges)
	return nil
}
