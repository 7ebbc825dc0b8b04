package fhir

import (
	"errors"
	"fmt"
)

// Sentinel errors callers switch on. Errors returned by this package wrap
// one of these or are a *SyntaxError.
var (
	// ErrTooLarge: the input is over MaxImportSize.
	ErrTooLarge = errors.New("file too large to import")
	// ErrNotFHIR: the input is well-formed JSON but not a FHIR resource
	// (empty, not an object, no resourceType).
	ErrNotFHIR = errors.New("not a FHIR resource")
	// ErrBadDate: a date that is not a FHIR date, dateTime or instant.
	ErrBadDate = errors.New("not a FHIR date")
	// ErrUnknownKind: a kind name that is not one of Kinds().
	ErrUnknownKind = errors.New("unknown record kind")
	// ErrInvalidDraft: a form entry that cannot become a valid resource; the
	// message names the field.
	ErrInvalidDraft = errors.New("invalid entry")
	// ErrNotEditable: a resource whose kind has no form (DraftOf, Apply).
	ErrNotEditable = errors.New("this kind of record cannot be edited with a form")
)

// MaxImportSize is the largest import file Parse accepts. The caller enforces
// it before reading; Parse refuses bigger input too.
const MaxImportSize = 512 << 20

// maxBundleDepth bounds Bundles nested inside Bundles.
const maxBundleDepth = 8

// SyntaxError is malformed JSON in an import file. Line and Column count from
// 1 (Column in characters); Offset is the byte offset in the file. For NDJSON,
// Line is the line of the broken resource.
type SyntaxError struct {
	File         string
	Line, Column int
	Offset       int64
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s: line %d, column %d: %s", e.File, e.Line, e.Column, e.Msg)
}
