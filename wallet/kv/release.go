package kv

// Releaser is implemented by stores that map their files into memory and
// can let go of the pages a long read brought in (see ReleaseMapped).
type Releaser interface {
	ReleaseMapped() error
}

// ReleaseMapped tells db, if it maps its files, that the pages a scan of
// the whole store touched (an integrity audit, an import) are not needed
// any more. They stay in the system's file cache and are read back from
// it when used again; until then they no longer count as the process's
// resident memory, which a scan of a 200,000-record wallet would leave
// some 500 MB above what the wallet uses.
func ReleaseMapped(db DB) error {
	if r, ok := db.(Releaser); ok {
		return r.ReleaseMapped()
	}
	return nil
}

// ReleaseMapped releases the pages of Badger's table and value log files
// that this process maps.
func (b *badgerDB) ReleaseMapped() error { return releaseMappedFiles(b.dir) }
