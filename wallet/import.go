package wallet

import (
	"context"
	"fmt"

	"medwallet/wallet/fhir"
)

// Progress is told how many of a file's entries are done.
type Progress func(done, total int)

// ImportOptions tune Import.
type ImportOptions struct {
	Source   Source   // defaults to {import, file name}
	Scope    string   // keeps records from different senders apart (received shares)
	Progress Progress // may be nil
	// Person and NewPerson: see Batch.
	Person    string
	NewPerson func(candidate Person) PersonChoice
}

// Import adds the resources of one file (any FHIR Bundle, a single resource,
// or NDJSON) atomically: every record of the file lands, or none does.
// Importing the same file twice adds nothing. Entries that cannot become
// records are named in the report with the reason; the report's Entries say
// which record each resource the file holds became. Cancelling ctx before
// the end writes nothing. It is Store of the file's entries.
func (w *Wallet) Import(ctx context.Context, name string, data []byte, o ImportOptions) (*ImportReport, error) {
	parsed, err := fhir.Parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	return w.Store(ctx, BatchOf(name, parsed, o))
}

// BatchOf is the batch of a parsed file's entries, with no attachments.
func BatchOf(name string, parsed *fhir.Parsed, o ImportOptions) Batch {
	b := Batch{Name: name, Format: parsed.Format, Source: o.Source, Scope: o.Scope, Skipped: parsed.Skipped, Progress: o.Progress,
		Person: o.Person, NewPerson: o.NewPerson, Parsed: true}
	b.Entries = make([]Incoming, len(parsed.Entries))
	for i, e := range parsed.Entries {
		b.Entries[i] = Incoming{Where: e.Where, Resource: e.Resource}
	}
	return b
}
