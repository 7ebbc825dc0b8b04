package app

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
)

// Export formats ExportRecords writes.
const (
	FormatFHIR   = "fhir"   // one FHIR Bundle (collection), attachments inline as Binary
	FormatNDJSON = "ndjson" // Bulk Data NDJSON: one stream, or one file per type into a directory
	FormatIPS    = "ips"    // International Patient Summary document Bundle
	FormatCSV    = "csv"    // lab results and vital signs
	FormatPDF    = "pdf"    // printable summary
)

// ExportFormats lists the formats, for help texts and menus.
var ExportFormats = []string{FormatFHIR, FormatNDJSON, FormatIPS, FormatCSV, FormatPDF}

// MaxInlineAttachments bounds the attached files one FHIR or NDJSON export
// carries inside itself (base64 makes them a third larger, and an import
// reads a file of at most fhir.MaxImportSize). A backup carries any size.
const MaxInlineAttachments = 256 << 20

// ErrAttachmentsTooLarge: the selection's files are too large to carry
// inside a FHIR file.
var ErrAttachmentsTooLarge = errors.New("the attached files are too large to carry inside a FHIR export; export without attachments, select fewer records, or make a backup")

// ExportOptions adjust ExportRecords.
type ExportOptions struct {
	// Locale picks the PDF's date format (see export.PDFOptions).
	Locale string
	// NoAttachments leaves attached files out of FHIR and NDJSON exports.
	NoAttachments bool
	// Now is the export's generation time (default time.Now()).
	Now time.Time
	// IncludeIdentifiers prints the patient's social security, driver's
	// licence and passport numbers in a PDF (left out by default).
	IncludeIdentifiers bool
	// Type picks one resource type for an NDJSON export to a single file
	// (which holds one type); the others are named by its references.
	Type     string
	Progress export.Progress
	// Person exports one person's records (an ID or a name, as FindPerson
	// takes it); records that belong to nobody (an Organization, a
	// Practitioner) go along when named by ID. Empty: every person's.
	Person string
}

// ExportResult says what an export wrote.
type ExportResult struct {
	Paths       []string `json:"paths"`
	Records     int      `json:"records"`
	Attachments int      `json:"attachments"`
}

// ExportRecords writes the records that pass f in format to path, atomically
// (a failed export leaves no file and never half-replaces one). For
// FormatNDJSON a path that ends in a separator or names a directory gets one
// <ResourceType>.ndjson file per type. FHIR and NDJSON exports carry each
// record's attached files inline as Binary resources (see attachmentBinary),
// so that ImportPaths restores them; the PDF footer carries the log's latest
// signed checkpoint.
func ExportRecords(s *Session, format string, f export.Filter, path string, o ExportOptions) (ExportResult, error) {
	if s.Locked() {
		return ExportResult{}, ErrSessionLocked
	}
	w := s.Wallet
	if !slices.Contains(ExportFormats, format) {
		return ExportResult{}, fmt.Errorf("export: unknown format %q; use one of %s", format, strings.Join(ExportFormats, ", "))
	}
	if path == "" {
		return ExportResult{}, errors.New("export: name the file to write")
	}
	person, err := personID(s, o.Person)
	if err != nil {
		return ExportResult{}, fmt.Errorf("export: %w", err)
	}
	recs, err := exportSelection(w, f, format == FormatIPS, person)
	if err != nil {
		return ExportResult{}, err
	}
	if len(recs) == 0 {
		return ExportResult{}, fmt.Errorf("export: %w: no record matches the selection", export.ErrNoRecords)
	}
	res := ExportResult{Records: len(recs)}
	var opts []export.Option
	if o.Progress != nil {
		opts = append(opts, export.WithProgress(o.Progress))
	}
	all := recs
	if (format == FormatFHIR || format == FormatNDJSON) && !o.NoAttachments {
		bins, err := attachmentBinaries(w, recs)
		if err != nil {
			return ExportResult{}, err
		}
		res.Attachments = len(bins)
		all = append(slices.Clip(recs), bins...)
	}
	if format == FormatNDJSON && isDirTarget(path) {
		paths, err := export.NDJSONByType(path, all, opts...)
		if err != nil {
			return ExportResult{}, err
		}
		res.Paths = paths
		return res, nil
	}
	write := func(out io.Writer) error {
		switch format {
		case FormatFHIR:
			return export.FHIR(out, all, opts...)
		case FormatNDJSON:
			if o.Type != "" {
				return export.NDJSONOfType(out, all, o.Type, opts...)
			}
			return export.NDJSON(out, all, opts...)
		case FormatIPS:
			return export.IPS(out, recs, export.IPSOptions{Now: o.Now, Progress: o.Progress})
		case FormatCSV:
			return export.CSV(out, recs, opts...)
		default:
			po := export.PDFOptions{Now: o.Now, Locale: o.Locale, Progress: o.Progress, IncludeIdentifiers: o.IncludeIdentifiers}
			if _, cp, err := w.LogState(); err == nil && cp != nil {
				po.Checkpoint = string(cp.Note)
			}
			return export.PDF(out, recs, po)
		}
	}
	if err := export.WriteFile(path, write); err != nil {
		return ExportResult{}, err
	}
	res.Paths = []string{path}
	return res, nil
}

func isDirTarget(path string) bool {
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator)) {
		return true
	}
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// exportSelection returns the latest versions of the records f selects, in
// the wallet's list order, of person's only when person is not "". An IPS
// needs its subject, so withPatient adds the Patient records of the
// selection's person when the filter left them out.
func exportSelection(w *wallet.Wallet, f export.Filter, withPatient bool, person string) ([]wallet.Record, error) {
	var ids []string
	if len(f.IDs) > 0 {
		for _, id := range f.IDs {
			if _, err := w.Get(id); err != nil {
				return nil, fmt.Errorf("export: record %s: %w; 'medwallet list' shows the IDs", id, err)
			}
			if p, _ := w.PersonOf(id); person != "" && p != "" && p != person {
				return nil, fmt.Errorf("export: record %s is %s's, not %s's; leave it out or choose its person with --person", id, personName(w, p), personName(w, person))
			}
		}
		ids = f.IDs
	} else {
		for _, e := range w.Search(wallet.Query{Kinds: f.Kinds, Person: person, Own: true}) {
			ids = append(ids, e.ID)
		}
	}
	if withPatient && person == "" {
		// The Patient records added are those of the selection's person,
		// when it is one person's.
		if p, err := onePerson(w, ids, ""); err == nil {
			person = p
		}
	}
	recs, err := w.Records(ids)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	recs = export.Select(recs, f)
	if withPatient && len(recs) > 0 && !slices.ContainsFunc(recs, func(r wallet.Record) bool { return r.Summary.Kind == fhir.KindPatient }) {
		var pids []string
		for _, e := range w.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindPatient}, Person: person, Own: true}) {
			pids = append(pids, e.ID)
		}
		patients, err := w.Records(pids)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		recs = append(patients, recs...)
	}
	return recs, nil
}

// attachmentBinaries reads the files of recs into Binary resources, as
// stand-in records placed after the records themselves.
func attachmentBinaries(w *wallet.Wallet, recs []wallet.Record) ([]wallet.Record, error) {
	var total int64
	for _, r := range recs {
		for _, a := range r.Attachments {
			total += a.Size
		}
	}
	if total > MaxInlineAttachments {
		return nil, fmt.Errorf("export: %d MiB of attached files: %w", total>>20, ErrAttachmentsTooLarge)
	}
	var out []wallet.Record
	for _, r := range recs {
		if len(r.Attachments) == 0 {
			continue
		}
		hash, err := ledger.ResourceHash(r.Resource)
		if err != nil {
			return nil, fmt.Errorf("export: record %s: %w", r.ID, err)
		}
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		json.Unmarshal(r.Resource, &head)
		owner := &binaryOwner{Identifier: &fhirIdentifier{System: ownerHashSystem, Value: hex.EncodeToString(hash[:])}}
		if head.ID != "" {
			owner.Reference = head.ResourceType + "/" + head.ID
		}
		for _, a := range r.Attachments {
			data, err := readAttachment(w, a)
			if err != nil {
				return nil, fmt.Errorf("export: record %s: %w", r.ID, err)
			}
			b := attachmentBinary{
				ResourceType: "Binary", ID: "att-" + a.ID,
				Meta: binaryMeta{
					Tag: []fhirCoding{{attachmentTagSystem, attachmentTagCode}},
					Extension: []fhirExtension{
						{URL: attachmentNameExt, ValueString: a.Name},
						{URL: export.AttachmentSHA256Extension, ValueBase64Binary: a.SHA256},
					},
				},
				ContentType: a.ContentType, SecurityContext: owner, Data: data,
			}
			res, err := json.Marshal(b)
			if err != nil {
				return nil, fmt.Errorf("export: record %s: attachment %s: %w", r.ID, a.Name, err)
			}
			out = append(out, wallet.Record{ID: "att-" + a.ID, Version: 1, Resource: res})
		}
	}
	return out, nil
}

func readAttachment(w *wallet.Wallet, a wallet.Attachment) ([]byte, error) {
	rc, err := w.OpenAttachment(a)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return data, nil
}
