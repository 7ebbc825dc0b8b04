// Package export writes wallet records to the files other systems read: FHIR
// Bundle JSON, Bulk Data NDJSON, an IPS document, CSV of lab values and a
// printable PDF summary, and builds DocumentReferences for imported files. It
// never re-serialises a resource it carries (the original bytes go out) and
// never leaves a half-written file behind.
package export

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// Progress is told how many of total records an export has handled. It is
// called from the exporting goroutine.
type Progress func(done, total int)

// Option adjusts an export that takes no options struct.
type Option func(*settings)

type settings struct {
	progress Progress
}

// WithProgress reports progress to p.
func WithProgress(p Progress) Option {
	return func(s *settings) { s.progress = p }
}

func apply(opts []Option) settings {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	return s
}

func (p Progress) report(done, total int) {
	if p != nil {
		p(done, total)
	}
}

// ErrNoRecords: the selection is empty, so there is nothing to export.
var ErrNoRecords = errors.New("no records to export")

// Filter selects records. Empty fields select everything.
type Filter struct {
	Kinds []fhir.Kind
	IDs   []string
	// From and To bound the record's date (Summary.Date), inclusive. Records
	// without a date are left out when either bound is set.
	From, To time.Time
}

// Select returns the records that pass f, in their original order.
func Select(recs []wallet.Record, f Filter) []wallet.Record {
	kinds := make(map[fhir.Kind]bool, len(f.Kinds))
	for _, k := range f.Kinds {
		kinds[k] = true
	}
	ids := make(map[string]bool, len(f.IDs))
	for _, id := range f.IDs {
		ids[id] = true
	}
	var out []wallet.Record
	for i := range recs {
		r := &recs[i]
		if len(ids) > 0 && !ids[r.ID] {
			continue
		}
		if len(kinds) > 0 {
			k := r.Summary.Kind
			if k == "" {
				if v, err := decodeView(r); err == nil {
					k = kindOf(r, v)
				}
			}
			if !kinds[k] {
				continue
			}
		}
		if !f.From.IsZero() || !f.To.IsZero() {
			d := r.Summary.Date
			if d.IsZero() || (!f.From.IsZero() && d.Before(f.From)) || (!f.To.IsZero() && d.After(f.To)) {
				continue
			}
		}
		out = append(out, *r)
	}
	return out
}

// WriteFile writes a file atomically: write goes to a temporary file in the
// target directory (owner-only permissions: exports hold health data), which
// is synced and renamed over path only when write succeeds. On any error the
// temporary file is removed and path is untouched.
func WriteFile(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("export to %s: flush to disk: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	// Make the rename itself durable; not every platform can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
