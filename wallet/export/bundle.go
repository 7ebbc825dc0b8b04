package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// bundleEntries are recs as entries for fhir.WriteBundle and
// fhir.ResolveReferences.
func bundleEntries(recs []wallet.Record) []fhir.BundleEntry {
	out := make([]fhir.BundleEntry, len(recs))
	for i := range recs {
		out[i] = fhir.BundleEntry{Resource: recs[i].Resource}
	}
	return out
}

// checkResources names the first record whose resource is not a FHIR
// resource object, so that an export says which record is damaged.
func checkResources(recs []wallet.Record) error {
	for i := range recs {
		if _, err := fhir.Identity(recs[i].Resource); err != nil {
			return fmt.Errorf("record %s: %w; the record may be damaged", recs[i].ID, err)
		}
	}
	return nil
}

// FHIR writes recs as one FHIR R4 Bundle of type collection, by the
// wallet's one rule for identities (fhir.WriteBundle): every entry has an
// absolute fullUrl and every reference between the records names one.
// Resources stored since that rule keep their exact bytes.
func FHIR(w io.Writer, recs []wallet.Record, opts ...Option) error {
	s := apply(opts)
	if len(recs) == 0 {
		return fmt.Errorf("export FHIR bundle: %w", ErrNoRecords)
	}
	if err := checkResources(recs); err != nil {
		return fmt.Errorf("export FHIR bundle: %w", err)
	}
	_, err := fhir.WriteBundle(w, fhir.Bundle{Type: "collection", Entries: bundleEntries(recs), Progress: s.progress})
	if err != nil {
		return fmt.Errorf("export FHIR bundle: %w", err)
	}
	return nil
}

// ErrMixedTypes: one NDJSON file holds one resource type (the FHIR Bulk Data
// convention); the selection has several.
var ErrMixedTypes = errors.New("one NDJSON file holds one resource type")

// relative returns recs' resources with "Type/id" references, as NDJSON
// readers resolve them, and their resource types.
func relative(recs []wallet.Record) ([]fhir.BundleEntry, []string, error) {
	if err := checkResources(recs); err != nil {
		return nil, nil, err
	}
	entries, err := fhir.ResolveReferences(bundleEntries(recs), fhir.ResolveOptions{Relative: true})
	if err != nil {
		return nil, nil, err
	}
	types := make([]string, len(entries))
	for i, e := range entries {
		types[i], _, _ = strings.Cut(e.FullURL, "/")
	}
	return entries, types, nil
}

// NDJSON writes recs as FHIR Bulk Data NDJSON: one compact resource per line,
// members in their original order, references as "Type/id". The records
// must all be of one resource type (ErrMixedTypes otherwise: write a
// directory with NDJSONByType, or select one type).
func NDJSON(w io.Writer, recs []wallet.Record, opts ...Option) error {
	s := apply(opts)
	if len(recs) == 0 {
		return fmt.Errorf("export NDJSON: %w", ErrNoRecords)
	}
	entries, types, err := relative(recs)
	if err != nil {
		return fmt.Errorf("export NDJSON: %w", err)
	}
	if seen := distinct(types); len(seen) > 1 {
		return fmt.Errorf("export NDJSON: %w, and the selection has %d (%s)", ErrMixedTypes, len(seen), strings.Join(seen, ", "))
	}
	return writeNDJSON(w, entries, s.progress, 0, len(entries))
}

// NDJSONOfType writes the records of resource type typ among recs as NDJSON
// (as NDJSON does); references to the other records are named "Type/id"
// too, as the files NDJSONByType writes beside it name them.
func NDJSONOfType(w io.Writer, recs []wallet.Record, typ string, opts ...Option) error {
	s := apply(opts)
	entries, types, err := relative(recs)
	if err != nil {
		return fmt.Errorf("export NDJSON: %w", err)
	}
	var of []fhir.BundleEntry
	for i, e := range entries {
		if types[i] == typ {
			of = append(of, e)
		}
	}
	if len(of) == 0 {
		return fmt.Errorf("export NDJSON: %w: none of type %s among the %d selected (types: %s)", ErrNoRecords, typ, len(recs), strings.Join(distinct(types), ", "))
	}
	return writeNDJSON(w, of, s.progress, 0, len(of))
}

func distinct(types []string) []string {
	var out []string
	for _, t := range types {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

func writeNDJSON(w io.Writer, entries []fhir.BundleEntry, p Progress, done, total int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line bytes.Buffer
	for i, e := range entries {
		line.Reset()
		if err := json.Compact(&line, e.Resource); err != nil {
			return fmt.Errorf("export NDJSON: %s: resource is not valid JSON: %w", e.FullURL, err)
		}
		line.WriteByte('\n')
		bw.Write(line.Bytes())
		p.report(done+i+1, total)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export NDJSON: %w", err)
	}
	return nil
}

// NDJSONByType writes one <ResourceType>.ndjson file per resource type into
// dir (created if missing, owner-only), each atomically, as a Bulk Data
// export lays them out, references as "Type/id". It returns the paths
// written, sorted.
func NDJSONByType(dir string, recs []wallet.Record, opts ...Option) ([]string, error) {
	s := apply(opts)
	if len(recs) == 0 {
		return nil, fmt.Errorf("export NDJSON files: %w", ErrNoRecords)
	}
	entries, types, err := relative(recs)
	if err != nil {
		return nil, fmt.Errorf("export NDJSON files: %w", err)
	}
	byType := make(map[string][]fhir.BundleEntry)
	for i, e := range entries {
		byType[types[i]] = append(byType[types[i]], e)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("export NDJSON files: %w", err)
	}
	var paths []string
	done := 0
	for _, t := range distinct(types) {
		// t is a valid resource type name (letters and digits), so the
		// name stays in dir.
		path := filepath.Join(dir, t+".ndjson")
		group := byType[t]
		err := WriteFile(path, func(w io.Writer) error { return writeNDJSON(w, group, s.progress, done, len(recs)) })
		if err != nil {
			return paths, fmt.Errorf("export NDJSON files: %w", err)
		}
		paths = append(paths, path)
		done += len(group)
	}
	return paths, nil
}
