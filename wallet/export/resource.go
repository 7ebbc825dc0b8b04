package export

import (
	"fmt"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// view is what the exports read of a resource beside its summary: the
// details wallet/fhir reads (fhir.ReadDetails), with the date by its one rule.
type view struct{ fhir.Details }

// decodeView reads the details the exports use.
func decodeView(rec *wallet.Record) (*view, error) {
	d, err := fhir.ReadDetails(rec.Resource)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", rec.ID, err)
	}
	return &view{d}, nil
}

// date is the resource's clinically relevant date as written (FHIR date or
// dateTime), by the rule the listing and the timeline use (fhir.DateText).
func (v *view) date() string { return v.Date }

// summaryOf is the record's summary: the wallet's own, or, for a record
// built without one, the one wallet/fhir derives from the resource.
func summaryOf(rec *wallet.Record) fhir.Summary {
	if rec.Summary.Kind != "" {
		return rec.Summary
	}
	if s, err := fhir.Summarize(rec.Resource); err == nil {
		return s
	}
	return fhir.Summary{Kind: fhir.KindOther}
}

// title is what a list shows for the resource.
func title(rec *wallet.Record, v *view) string {
	if t := summaryOf(rec).Title; t != "" {
		return t
	}
	return v.ResourceType
}

// status is the resource's status as a person reads it.
func status(rec *wallet.Record, v *view) string {
	if st := summaryOf(rec).Status; st != "" {
		return st
	}
	return v.Status
}

// kindOf is the record's kind.
func kindOf(rec *wallet.Record, _ *view) fhir.Kind {
	return summaryOf(rec).Kind
}
