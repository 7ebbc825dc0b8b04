package wallet

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
)

// ImportReport says what an import did with every entry of a file.
type ImportReport struct {
	File      string         `json:"file"`
	Format    string         `json:"format"`
	Added     int            `json:"added"`
	Updated   int            `json:"updated"`
	Unchanged int            `json:"unchanged"`
	Skipped   []fhir.Skipped `json:"skipped"`
	IDs       []string       `json:"ids"` // the records added or updated, in file order
}

// Progress is told how many of a file's entries are done.
type Progress func(done, total int)

// ImportOptions tune Import.
type ImportOptions struct {
	Source   Source   // defaults to {import, file name}
	Scope    string   // keeps records from different senders apart (received shares)
	Progress Progress // may be nil
	// Exact stores every resource byte for byte (fhir.ParseExact), for
	// resources a proof covers or that the caller already resolved with
	// fhir.ResolveReferences; otherwise references between the file's
	// resources are resolved (fhir.Parse).
	Exact bool
}

// ImportFile imports one file. See Import.
func (w *Wallet) ImportFile(ctx context.Context, path string, o ImportOptions) (*ImportReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, fhir.MaxImportSize+1))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if len(data) > fhir.MaxImportSize {
		return nil, fmt.Errorf("import %s: the file is larger than %d MiB; split it into smaller files", path, fhir.MaxImportSize>>20)
	}
	return w.Import(ctx, filepath.Base(path), data, o)
}

// Import adds the resources of one file (any FHIR Bundle, a single resource,
// or NDJSON) atomically: every record of the file lands, or none does.
// Importing the same file twice adds nothing. Entries that cannot become
// records are named in the report with the reason. Cancelling ctx before the
// end writes nothing.
func (w *Wallet) Import(ctx context.Context, name string, data []byte, o ImportOptions) (*ImportReport, error) {
	parse := fhir.Parse
	if o.Exact {
		parse = fhir.ParseExact
	}
	parsed, err := parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	src := o.Source
	if src.Type == "" {
		src = Source{Type: SourceImport, Name: name}
	}
	rep := &ImportReport{File: name, Format: parsed.Format, Skipped: parsed.Skipped}

	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return nil, err
	}
	// Deriving summaries and canonical hashes is the costly part of an
	// import and needs no lock on the store: spread it over the cores.
	results := make([]preparedEntry, len(parsed.Entries))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				p, err := w.prepare(o.Scope, parsed.Entries[i].Resource)
				results[i] = preparedEntry{p, err}
			}
		})
	}
	for i := range parsed.Entries {
		next <- i
	}
	close(next)
	wg.Wait()

	preps := make([]prepared, 0, len(results))
	where := make([]string, 0, len(results))
	seen := map[string]bool{}
	for i, r := range results {
		e := parsed.Entries[i]
		if r.err != nil {
			rep.Skipped = append(rep.Skipped, fhir.Skipped{Where: e.Where, Reason: r.err.Error()})
			continue
		}
		if seen[r.p.id] {
			rep.Skipped = append(rep.Skipped, fhir.Skipped{Where: e.Where, Reason: "the same resource appears earlier in the file"})
			continue
		}
		seen[r.p.id] = true
		preps = append(preps, r.p)
		where = append(where, e.Where)
	}

	var heads []head
	now := time.Now()
	err = w.db.Update(func(tx kv.Txn) error {
		hs, outs, err := w.writeVersions(tx, preps, src, nil, now, func(i int) error {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("cancelled at %s; nothing was imported: %w", where[i], err)
			}
			if o.Progress != nil && i > 0 {
				o.Progress(i, len(preps))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, out := range outs {
			switch out {
			case outcomeAdded:
				rep.Added++
			case outcomeUpdated:
				rep.Updated++
			case outcomeUnchanged:
				rep.Unchanged++
				continue
			}
			heads = append(heads, hs[i])
			rep.IDs = append(rep.IDs, hs[i].ID)
		}
		if o.Progress != nil {
			o.Progress(len(preps), len(preps))
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	for _, h := range heads {
		w.index.Put(h)
	}
	return rep, nil
}

type preparedEntry struct {
	p   prepared
	err error
}
