package app

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
	"medwallet/wallet/shc"
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
	// Type picks one resource type for an NDJSON export to a single file
	// (which holds one type); the others are named by its references.
	Type     string
	Progress export.Progress
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
func ExportRecords(w *wallet.Wallet, format string, f export.Filter, path string, o ExportOptions) (ExportResult, error) {
	if !slices.Contains(ExportFormats, format) {
		return ExportResult{}, fmt.Errorf("export: unknown format %q; use one of %s", format, strings.Join(ExportFormats, ", "))
	}
	if path == "" {
		return ExportResult{}, errors.New("export: name the file to write")
	}
	recs, err := exportSelection(w, f, format == FormatIPS)
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
			po := export.PDFOptions{Now: o.Now, Locale: o.Locale, Progress: o.Progress}
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
// the wallet's list order. An IPS needs its subject, so withPatient adds
// the Patient records when the filter left them out.
func exportSelection(w *wallet.Wallet, f export.Filter, withPatient bool) ([]wallet.Record, error) {
	var ids []string
	if len(f.IDs) > 0 {
		for _, id := range f.IDs {
			if _, err := w.Get(id); err != nil {
				return nil, fmt.Errorf("export: record %s: %w; 'medwallet list' shows the IDs", id, err)
			}
		}
		ids = f.IDs
	} else {
		for _, e := range w.Search(wallet.Query{Kinds: f.Kinds}) {
			ids = append(ids, e.ID)
		}
	}
	recs, err := w.Records(ids)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	recs = export.Select(recs, f)
	if withPatient && len(recs) > 0 && !slices.ContainsFunc(recs, func(r wallet.Record) bool { return r.Summary.Kind == fhir.KindPatient }) {
		var pids []string
		for _, e := range w.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindPatient}}) {
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

// Attached files travel in FHIR and NDJSON exports as Binary resources
// marked with the attachmentTag, one per file:
//
//	{"resourceType":"Binary","id":"att-<attachment id>",
//	 "meta":{"tag":[{"system":"urn:medwallet:tag","code":"attachment"}],
//	         "extension":[{"url":"urn:medwallet:fhir:StructureDefinition:attachment-name","valueString":name},
//	                      {"url":export.AttachmentSHA256Extension,"valueBase64Binary":sha256}]},
//	 "contentType":…,
//	 "securityContext":{"reference":"<Type>/<id> of its record",
//	                    "identifier":{"system":"urn:medwallet:resource-sha256","value":hex SHA-256 of JCS(record's resource)}},
//	 "data":base64}
//
// The record's own resource goes out unchanged. Other FHIR software sees an
// ordinary Binary whose securityContext names the record it belongs to;
// ImportPaths recognises the tag, stores the file encrypted with the record
// (matched by the canonical hash, so the reference need not resolve) and
// does not keep the Binary as a record of its own.
const (
	attachmentTagSystem = "urn:medwallet:tag"
	attachmentTagCode   = "attachment"
	attachmentNameExt   = "urn:medwallet:fhir:StructureDefinition:attachment-name"
	ownerHashSystem     = "urn:medwallet:resource-sha256"
)

type attachmentBinary struct {
	ResourceType    string       `json:"resourceType"`
	ID              string       `json:"id"`
	Meta            binaryMeta   `json:"meta"`
	ContentType     string       `json:"contentType"`
	SecurityContext *binaryOwner `json:"securityContext,omitempty"`
	Data            []byte       `json:"data"`
}

// inlineFile is an attached file read from an export's Binary.
type inlineFile struct {
	name, contentType string
	data, sha256      []byte
	owner             string // hex SHA-256 of JCS(owner resource)
	where             string
	taken             bool // stored with its record
}

type binaryMeta struct {
	Tag       []fhirCoding    `json:"tag"`
	Extension []fhirExtension `json:"extension,omitempty"`
}

type fhirCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type fhirExtension struct {
	URL               string `json:"url"`
	ValueString       string `json:"valueString,omitempty"`
	ValueBase64Binary []byte `json:"valueBase64Binary,omitempty"`
}

type binaryOwner struct {
	Reference  string          `json:"reference,omitempty"`
	Identifier *fhirIdentifier `json:"identifier,omitempty"`
}

type fhirIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
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

// parseInlineFile recognises a Binary this package's exports write. ok is
// false for any other resource (a foreign Binary stays a record).
func parseInlineFile(res []byte, where string) (f inlineFile, ok bool, err error) {
	if !bytes.Contains(res, []byte(attachmentTagSystem)) || !bytes.Contains(res, []byte(`"Binary"`)) {
		return f, false, nil
	}
	var b attachmentBinary
	if err := json.Unmarshal(res, &b); err != nil || b.ResourceType != "Binary" {
		return f, false, nil
	}
	if !slices.Contains(b.Meta.Tag, fhirCoding{attachmentTagSystem, attachmentTagCode}) {
		return f, false, nil
	}
	f = inlineFile{name: b.ID, contentType: b.ContentType, data: b.Data, where: where}
	if f.name == "" {
		f.name = "attachment"
	}
	if b.SecurityContext == nil || b.SecurityContext.Identifier == nil || b.SecurityContext.Identifier.System != ownerHashSystem {
		return f, true, errors.New("the attached file names no record it belongs to")
	}
	if v := b.SecurityContext.Identifier.Value; len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
		return f, true, errors.New("the attached file's record hash is not a SHA-256 in hex")
	}
	f.owner = b.SecurityContext.Identifier.Value
	for _, e := range b.Meta.Extension {
		switch e.URL {
		case attachmentNameExt:
			if n := filepath.Base(e.ValueString); n != "." && n != string(filepath.Separator) && n != "" {
				f.name = n
			}
		case export.AttachmentSHA256Extension:
			f.sha256 = e.ValueBase64Binary
		}
	}
	sum := sha256.Sum256(f.data)
	if len(f.sha256) > 0 && !bytes.Equal(sum[:], f.sha256) {
		return f, true, errors.New("the attached file's bytes do not match the SHA-256 it carries")
	}
	f.sha256 = sum[:]
	return f, true, nil
}

// ImportOptions adjust ImportPaths.
type ImportOptions struct {
	Progress wallet.Progress
	// Trust verifies SMART Health Cards; nil means TrustList(w).
	Trust *shc.TrustList
	// Now judges card expiry and dates documents without a file time
	// (default time.Now()).
	Now time.Time
}

// What ImportReport.Kind says a file was.
const (
	ImportedFHIR     = "fhir"
	ImportedCard     = "smart-health-card"
	ImportedDocument = "document"
)

// ImportReport says what ImportPaths did with one file (or one set of
// chunked QR codes, named together in File).
type ImportReport struct {
	wallet.ImportReport
	Kind        string       `json:"kind"`
	Attachments int          `json:"attachments"`
	Cards       []CardResult `json:"cards,omitempty"`
	// Notes are what the person should know about the import, such as a
	// card stored although its signature could not be verified.
	Notes []string `json:"notes,omitempty"`
}

// CardResult is the verdict on one imported SMART Health Card.
type CardResult struct {
	Issuer     string     `json:"issuer"`
	IssuerName string     `json:"issuerName,omitempty"`
	Status     shc.Status `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	Records    int        `json:"records"`
}

// ImportPath imports one file or directory; see ImportPaths.
func ImportPath(ctx context.Context, w *wallet.Wallet, path string, o ImportOptions) ([]*ImportReport, error) {
	return ImportPaths(ctx, w, []string{path}, o)
}

// ImportPaths imports files of any kind the wallet reads, recognised by
// content, never by name:
//   - FHIR JSON (any Bundle, a resource, NDJSON), through wallet.Import,
//     with the files a FHIR or NDJSON export of this app carries inline
//     stored back as encrypted attachments of their records;
//   - SMART Health Cards: .smart-health-card files, a bare JWS, shc:/ QR
//     text files, and PNG/JPEG images of their QR codes (chunked shc:/i/n
//     codes across several files named together are joined); each card is
//     verified against the trust list and stored with a provider source
//     when verified, else with an "unverified: <reason>" import source and a
//     note;
//   - PDF, PNG, JPEG and DICOM documents: stored encrypted as an attachment
//     of a new DocumentReference (title and date editable with
//     wallet.Update).
//
// A directory stands for the files in it (a Bulk Data NDJSON export). Files
// named together share their attachments: an NDJSON export split by type
// restores its files with their records. Each file is imported on its own
// (a FHIR file atomically, but the records carrying attachments each in its
// own step after the rest); the first failure stops and is returned with
// the reports of the files before it.
func ImportPaths(ctx context.Context, w *wallet.Wallet, paths []string, o ImportOptions) ([]*ImportReport, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	files, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	var inputs []*importInput
	for _, p := range files {
		in, err := classify(p)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, in)
	}
	// Files attached to records travel as Binaries, possibly in another file
	// of the set (Binary.ndjson beside DocumentReference.ndjson).
	inline := map[string][]inlineFile{}
	for _, in := range inputs {
		if in.kind != inFHIR {
			continue
		}
		if err := in.parseFHIR(); err != nil {
			return nil, err
		}
		for _, f := range in.files {
			inline[f.owner] = append(inline[f.owner], f)
		}
	}
	if (o.Trust == nil) && slices.ContainsFunc(inputs, func(in *importInput) bool { return in.kind == inCard || in.kind == inChunk }) {
		if o.Trust, err = TrustList(w); err != nil {
			return nil, err
		}
	}
	var reports []*ImportReport
	var chunks []*importInput
	for _, in := range inputs {
		var rep *ImportReport
		var err error
		switch in.kind {
		case inFHIR:
			rep, err = importFHIR(ctx, w, in, inline, o)
		case inCard:
			rep, err = importCards(ctx, w, in.name, [][]byte{in.data}, o)
		case inChunk:
			chunks = append(chunks, in)
			continue
		case inDocument:
			rep, err = importDocument(w, in, o)
		}
		if err != nil {
			return reports, err
		}
		reports = append(reports, rep)
	}
	if len(chunks) > 0 {
		rep, err := importChunks(ctx, w, chunks, o)
		if err != nil {
			return reports, err
		}
		reports = append(reports, rep)
	}
	// Files whose record was in none of the files given are reported.
	for owner, fs := range inline {
		if owner == "" {
			continue
		}
		for _, f := range fs {
			if rep := reportFor(reports, f.where); rep != nil && !f.used() {
				rep.Skipped = append(rep.Skipped, fhir.Skipped{Where: f.where, Reason: "an attached file whose record is not among the files imported; import them together"})
			}
		}
	}
	return reports, nil
}

func reportFor(reports []*ImportReport, where string) *ImportReport {
	for _, r := range reports {
		if strings.HasPrefix(where, r.File+": ") {
			return r
		}
	}
	return nil
}

// used reports whether a record in the set took the file.
func (f inlineFile) used() bool { return f.taken }

// expandPaths replaces each directory by the regular, non-hidden files in it.
func expandPaths(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("import: name at least one file")
	}
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", p, err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		des, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", p, err)
		}
		n := 0
		for _, de := range des {
			if de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".") {
				out = append(out, filepath.Join(p, de.Name()))
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("import %s: the folder holds no files", p)
		}
	}
	return out, nil
}

type inputKind int

const (
	inFHIR inputKind = iota
	inCard
	inChunk
	inDocument
)

// importInput is one file, classified.
type importInput struct {
	path, name  string
	kind        inputKind
	data        []byte // FHIR and card files, whole
	qr          string // shc:/ text of a QR image or text file (inChunk)
	contentType string // documents
	parsed      *fhir.Parsed
	files       []inlineFile // inline attachments found in a FHIR file
	filesBad    []fhir.Skipped
	entries     []fhir.Entry // the FHIR file's entries but those files
}

// classify reads enough of path to know what it is.
func classify(path string) (*importInput, error) {
	in := &importInput{path: path, name: filepath.Base(path)}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, export.SniffHeadSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	head = head[:n]
	if ct, err := export.SniffContentType(head, in.name); err == nil {
		in.kind, in.contentType = inDocument, ct
		if ct == export.TypePNG || ct == export.TypeJPEG {
			// An image of a health card's QR code is a card, not a picture.
			if text, err := share.DecodeQRFile(path); err == nil {
				text = strings.TrimSpace(text)
				switch {
				case strings.HasPrefix(strings.ToLower(text), "shc:/"):
					in.kind, in.qr = inChunk, text
				case strings.Contains(text, "shlink:/") || strings.HasPrefix(text, "medwallet:/"):
					return nil, fmt.Errorf("import %s: the image holds a SMART Health Link, not records; open it with 'medwallet redeem --qr %s'", path, in.name)
				}
			}
		}
		return in, nil
	}
	data, err := io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(head), f), fhir.MaxImportSize+1))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if len(data) > fhir.MaxImportSize {
		return nil, fmt.Errorf("import %s: the file is larger than %d MiB; split it into smaller files", path, fhir.MaxImportSize>>20)
	}
	in.data = data
	text := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(text, []byte("shc:/")):
		in.kind, in.qr = inChunk, string(text)
		if bytes.ContainsAny(text, "\n") {
			// Several QR texts, one per line, are cards of their own or
			// chunks of one: read them as a card file.
			in.kind = inCard
		}
	case len(text) <= shc.MaxFileSize && isCardFile(text):
		in.kind = inCard
	case len(text) <= shc.MaxJWSSize && isJWS(text):
		in.kind = inCard
	default:
		in.kind = inFHIR
	}
	return in, nil
}

func isCardFile(text []byte) bool {
	if len(text) == 0 || text[0] != '{' || !bytes.Contains(text, []byte(`"verifiableCredential"`)) {
		return false
	}
	var v struct {
		VC []json.RawMessage `json:"verifiableCredential"`
	}
	return json.Unmarshal(text, &v) == nil && len(v.VC) > 0
}

func isJWS(text []byte) bool {
	if bytes.Count(text, []byte(".")) != 2 {
		return false
	}
	for _, c := range text {
		if !(c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// parseFHIR parses a FHIR file and takes out the inline attachments.
func (in *importInput) parseFHIR() error {
	p, err := fhir.Parse(in.name, in.data)
	if err != nil {
		return fmt.Errorf("import %s: %w", in.path, err)
	}
	in.parsed = p
	for _, e := range p.Entries {
		f, ok, err := parseInlineFile(e.Resource, in.name+": "+e.Where)
		switch {
		case !ok:
			in.entries = append(in.entries, e)
		case err != nil:
			in.filesBad = append(in.filesBad, fhir.Skipped{Where: e.Where, Reason: err.Error()})
		default:
			in.files = append(in.files, f)
		}
	}
	return nil
}

// importFHIR imports one FHIR file. Without inline attachments it is
// wallet.Import of the file as is. Otherwise the entries but the Binaries,
// and but the records that carry files, are imported atomically as one
// collection Bundle of their exact bytes; each record with files is then
// stored with its files, unless the same resource with the same files is
// there already.
func importFHIR(ctx context.Context, w *wallet.Wallet, in *importInput, inline map[string][]inlineFile, o ImportOptions) (*ImportReport, error) {
	wo := wallet.ImportOptions{Progress: o.Progress}
	type owned struct {
		e     fhir.Entry
		files []inlineFile
	}
	var plain []fhir.Entry
	var owners []owned
	for _, e := range in.entries {
		if hash, err := ledger.ResourceHash(e.Resource); err == nil {
			if fs := unused(inline[hex.EncodeToString(hash[:])]); len(fs) > 0 {
				owners = append(owners, owned{e, fs})
				continue
			}
		}
		plain = append(plain, e) // wallet.Import names any problem
	}
	if len(owners) == 0 && len(in.files) == 0 && len(in.filesBad) == 0 {
		rep, err := w.Import(ctx, in.name, in.data, wo)
		if err != nil {
			return nil, err
		}
		return &ImportReport{ImportReport: *rep, Kind: ImportedFHIR}, nil
	}
	rep := &ImportReport{Kind: ImportedFHIR}
	rep.File, rep.Format = in.name, in.parsed.Format
	rep.Skipped = append(slices.Clone(in.parsed.Skipped), in.filesBad...)
	if len(plain) > 0 {
		var buf bytes.Buffer
		buf.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
		for i, e := range plain {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("\n{\"resource\":")
			buf.Write(e.Resource)
			buf.WriteByte('}')
		}
		buf.WriteString("]}")
		r, err := w.Import(ctx, in.name, buf.Bytes(), wo)
		if err != nil {
			return nil, err
		}
		rep.Added, rep.Updated, rep.Unchanged, rep.IDs = r.Added, r.Updated, r.Unchanged, r.IDs
		// The rebuilt bundle's entry numbers are not the file's: name
		// skipped entries by the file's own places.
		for _, sk := range r.Skipped {
			var n int
			if _, err := fmt.Sscanf(sk.Where, "entry %d", &n); err == nil && n >= 1 && n <= len(plain) {
				sk.Where = plain[n-1].Where
			}
			rep.Skipped = append(rep.Skipped, sk)
		}
	}
	src := wallet.Source{Type: wallet.SourceImport, Name: in.name}
	for _, ow := range owners {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("import %s: cancelled at %s: %w", in.name, ow.e.Where, err)
		}
		out, id, err := storeWithFiles(w, ow.e.Resource, ow.files, src)
		if err != nil {
			return nil, fmt.Errorf("import %s: %s: %w", in.name, ow.e.Where, err)
		}
		switch out {
		case storedAdded:
			rep.Added++
		case storedUpdated:
			rep.Updated++
		default:
			rep.Unchanged++
		}
		if out != storedUnchanged {
			rep.IDs = append(rep.IDs, id)
			rep.Attachments += len(ow.files)
		}
		for i := range ow.files {
			markUsed(inline, ow.files[i])
		}
	}
	return rep, nil
}

func unused(fs []inlineFile) []inlineFile {
	var out []inlineFile
	for _, f := range fs {
		if !f.used() {
			out = append(out, f)
		}
	}
	return out
}

func markUsed(inline map[string][]inlineFile, f inlineFile) {
	fs := inline[f.owner]
	for i := range fs {
		if fs[i].where == f.where {
			fs[i].taken, fs[i].data = true, nil
		}
	}
}

type storeOutcome int

const (
	storedAdded storeOutcome = iota
	storedUpdated
	storedUnchanged
)

// storeWithFiles stores resource with files as attachments, unless its
// record already holds the same resource with files of the same content.
func storeWithFiles(w *wallet.Wallet, resource []byte, files []inlineFile, src wallet.Source) (storeOutcome, string, error) {
	id, err := w.RecordID(resource)
	if err != nil {
		return 0, "", err
	}
	existing, err := w.Get(id)
	exists := err == nil
	if err != nil && !errors.Is(err, wallet.ErrNotFound) {
		return 0, "", err
	}
	if exists && sameResource(existing.Resource, resource) && sameFiles(existing.Attachments, files) {
		return storedUnchanged, id, nil
	}
	var atts []wallet.Attachment
	for _, f := range files {
		a, err := w.WriteAttachment(f.name, f.contentType, bytes.NewReader(f.data))
		if err != nil {
			return 0, "", err
		}
		atts = append(atts, a)
	}
	rec, err := w.AddWithAttachments(resource, src, atts)
	if err != nil {
		return 0, "", err
	}
	if exists {
		return storedUpdated, rec.ID, nil
	}
	return storedAdded, rec.ID, nil
}

func sameResource(a, b []byte) bool {
	ha, err1 := ledger.ResourceHash(a)
	hb, err2 := ledger.ResourceHash(b)
	return err1 == nil && err2 == nil && ha == hb
}

func sameFiles(atts []wallet.Attachment, files []inlineFile) bool {
	if len(atts) != len(files) {
		return false
	}
	for i := range atts {
		if !bytes.Equal(atts[i].SHA256, files[i].sha256) {
			return false
		}
	}
	return true
}

// importCards verifies and imports the cards in the given inputs (card
// files, JWS texts, or shc:/ texts one per line).
func importCards(ctx context.Context, w *wallet.Wallet, name string, inputs [][]byte, o ImportOptions) (*ImportReport, error) {
	var results []shc.Result
	for _, data := range inputs {
		var rs []shc.Result
		var err error
		if text := bytes.TrimSpace(data); bytes.HasPrefix(text, []byte("shc:/")) && bytes.Contains(text, []byte("\n")) {
			rs, err = verifyQRLines(o.Trust, string(text), o.Now)
		} else {
			rs, err = o.Trust.VerifyInput(data, o.Now)
		}
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", name, err)
		}
		results = append(results, rs...)
	}
	return storeCards(ctx, w, name, results, o)
}

// verifyQRLines reads a text file of shc:/ QR texts, one per line: single
// codes are cards of their own, chunked codes are joined.
func verifyQRLines(t *shc.TrustList, text string, now time.Time) ([]shc.Result, error) {
	var single, chunked []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		c, err := shc.ParseQR(line)
		if err != nil {
			return nil, err
		}
		if c.Total > 1 {
			chunked = append(chunked, line)
		} else {
			single = append(single, c.JWS)
		}
	}
	if len(chunked) > 0 {
		jws, err := shc.Assemble(chunked)
		if err != nil {
			return nil, err
		}
		single = append(single, jws)
	}
	var out []shc.Result
	for _, jws := range single {
		r, err := t.Verify(jws, now)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// importChunks joins the shc:/ codes of QR images and text files named
// together: unchunked codes are cards of their own, chunked ones one card.
func importChunks(ctx context.Context, w *wallet.Wallet, ins []*importInput, o ImportOptions) (*ImportReport, error) {
	var names []string
	var lines []string
	for _, in := range ins {
		names = append(names, in.name)
		lines = append(lines, in.qr)
	}
	name := strings.Join(names, ", ")
	rs, err := verifyQRLines(o.Trust, strings.Join(lines, "\n"), o.Now)
	if errors.Is(err, shc.ErrIncompleteChunks) {
		return nil, fmt.Errorf("import %s: %w: name every part of the card's QR codes in one import", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	return storeCards(ctx, w, name, rs, o)
}

// storeCards stores each card's FHIR Bundle, scoped to the card so that
// the resource ids cards reuse ("resource:0") never merge two cards.
func storeCards(ctx context.Context, w *wallet.Wallet, name string, results []shc.Result, o ImportOptions) (*ImportReport, error) {
	rep := &ImportReport{Kind: ImportedCard}
	rep.File, rep.Format = name, "smart-health-card"
	for i, r := range results {
		cr := CardResult{Issuer: r.Issuer, IssuerName: r.IssuerName, Status: r.Status, Reason: r.Reason}
		var src wallet.Source
		if r.Status == shc.Verified {
			issuer := r.IssuerName
			if issuer == "" {
				issuer = r.Issuer
			}
			src = wallet.Source{Type: wallet.SourceProvider, Name: issuer, Detail: "SMART Health Card signed by " + r.Issuer}
		} else {
			reason := r.Reason
			if reason == "" {
				reason = string(r.Status)
			}
			src = wallet.Source{Type: wallet.SourceImport, Name: name, Detail: "unverified: " + reason}
			rep.Notes = append(rep.Notes, fmt.Sprintf("card %d (issuer %s) is %s: %s; its records are stored marked unverified", i+1, r.Issuer, r.Status, reason))
		}
		sum := sha256.Sum256([]byte(r.JWS))
		scope := "shc|" + r.Issuer + "|" + hex.EncodeToString(sum[:12])
		got, err := w.Import(ctx, fmt.Sprintf("%s (card %d)", name, i+1), r.Bundle, wallet.ImportOptions{Source: src, Scope: scope, Progress: o.Progress})
		if err != nil {
			return nil, fmt.Errorf("import %s: card %d: %w", name, i+1, err)
		}
		rep.Added += got.Added
		rep.Updated += got.Updated
		rep.Unchanged += got.Unchanged
		rep.IDs = append(rep.IDs, got.IDs...)
		rep.Skipped = append(rep.Skipped, got.Skipped...)
		cr.Records = got.Added + got.Updated + got.Unchanged
		rep.Cards = append(rep.Cards, cr)
	}
	return rep, nil
}

// importDocument stores a PDF, image or DICOM file as an encrypted
// attachment of a new DocumentReference dated by the file's modification
// time. The same file again is one record, unchanged.
func importDocument(w *wallet.Wallet, in *importInput, o ImportOptions) (*ImportReport, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	// Hash first, so that a file already stored is not written again.
	h := sha256.New()
	size, err := io.Copy(h, io.LimitReader(f, wallet.MaxAttachmentSize+1))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	if size > wallet.MaxAttachmentSize {
		return nil, fmt.Errorf("import %s: the file is larger than %d GiB", in.path, wallet.MaxAttachmentSize>>30)
	}
	sum := h.Sum(nil)
	date := fi.ModTime()
	if date.IsZero() {
		date = o.Now
	}
	doc, err := export.Document(in.name, in.contentType, size, sum, "", date.UTC().Truncate(time.Second))
	if err != nil {
		return nil, err
	}
	rep := &ImportReport{Kind: ImportedDocument}
	rep.File, rep.Format = in.name, in.contentType
	id, err := w.RecordID(doc)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	if r, err := w.Get(id); err == nil && len(r.Attachments) > 0 && bytes.Equal(r.Attachments[0].SHA256, sum) {
		rep.Unchanged = 1
		return rep, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	a, err := w.WriteAttachment(in.name, in.contentType, f)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(a.SHA256, sum) {
		return nil, fmt.Errorf("import %s: the file changed while it was being imported; try again", in.path)
	}
	rec, err := w.AddWithAttachments(doc, wallet.Source{Type: wallet.SourceImport, Name: in.name}, []wallet.Attachment{a})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	if rec.Version > 1 {
		rep.Updated = 1
	} else {
		rep.Added = 1
	}
	rep.IDs = []string{rec.ID}
	rep.Attachments = 1
	if o.Progress != nil {
		o.Progress(1, 1)
	}
	return rep, nil
}

// trustKey is where the wallet keeps the user's own SMART Health Card
// trust list (the issuers added with AddTrustedIssuer): in its store, so
// that it travels with backups.
const trustKey = "shc/trust"

// TrustList is the SMART Health Card trust list the wallet verifies cards
// with: the issuers shipped with the app (shc.DefaultTrustList) and those
// the user added (AddTrustedIssuer), kept in the wallet's store.
func TrustList(w *wallet.Wallet) (*shc.TrustList, error) {
	t, err := shc.DefaultTrustList()
	if err != nil {
		return nil, fmt.Errorf("trust list: %w", err)
	}
	user, err := userTrustList(w)
	if err != nil {
		return nil, err
	}
	for _, is := range user.Issuers() {
		if err := mergeIssuer(t, is); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func mergeIssuer(t *shc.TrustList, is shc.Issuer) error {
	jwks, _ := json.Marshal(is.JWKS)
	if err := t.AddIssuer(is.Iss, is.Name, jwks); err != nil {
		return fmt.Errorf("trust list: issuer %s: %w", is.Iss, err)
	}
	for _, c := range is.CRLs {
		cb, _ := json.Marshal(c)
		if err := t.AddCRL(is.Iss, cb); err != nil {
			return fmt.Errorf("trust list: issuer %s: revocation list: %w", is.Iss, err)
		}
	}
	return nil
}

// userTrustList reads the issuers the user added.
func userTrustList(w *wallet.Wallet) (*shc.TrustList, error) {
	var data []byte
	err := w.DB().View(func(tx kv.Txn) (err error) {
		data, err = tx.Get([]byte(trustKey))
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return shc.NewTrustList(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the trust list: %w", err)
	}
	t, err := shc.LoadTrustList(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read the trust list: %w", err)
	}
	return t, nil
}

// TrustedIssuer is one issuer of the trust list.
type TrustedIssuer struct {
	Iss  string `json:"iss"`
	Name string `json:"name"`
	Keys int    `json:"keys"`
	CRLs int    `json:"crls"`
	// Builtin issuers ship with the app; the others were added by the user.
	Builtin bool `json:"builtin"`
}

// TrustedIssuers lists the trust list's issuers, sorted by iss.
func TrustedIssuers(w *wallet.Wallet) ([]TrustedIssuer, error) {
	t, err := TrustList(w)
	if err != nil {
		return nil, err
	}
	def, err := shc.DefaultTrustList()
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	for _, is := range def.Issuers() {
		builtin[is.Iss] = true
	}
	user, err := userTrustList(w)
	if err != nil {
		return nil, err
	}
	added := map[string]bool{}
	for _, is := range user.Issuers() {
		added[is.Iss] = true
	}
	var out []TrustedIssuer
	for _, is := range t.Issuers() {
		out = append(out, TrustedIssuer{Iss: is.Iss, Name: is.Name, Keys: len(is.JWKS.Keys), CRLs: len(is.CRLs), Builtin: builtin[is.Iss] && !added[is.Iss]})
	}
	return out, nil
}

// AddTrustedIssuer trusts the SMART Health Card issuer iss with the keys of
// jwks (its /.well-known/jwks.json) and any revocation lists (its
// /.well-known/crl/<kid>.json), and keeps it in the wallet.
func AddTrustedIssuer(w *wallet.Wallet, iss, name string, jwks []byte, crls ...[]byte) error {
	if !strings.HasPrefix(iss, "https://") {
		return fmt.Errorf("trust %s: an issuer is an https URL (the card's iss claim)", iss)
	}
	user, err := userTrustList(w)
	if err != nil {
		return err
	}
	if err := user.AddIssuer(iss, name, jwks); err != nil {
		return fmt.Errorf("trust %s: %w", iss, err)
	}
	for _, c := range crls {
		if err := user.AddCRL(iss, c); err != nil {
			return fmt.Errorf("trust %s: revocation list: %w", iss, err)
		}
	}
	var buf bytes.Buffer
	if err := user.Save(&buf); err != nil {
		return fmt.Errorf("trust %s: %w", iss, err)
	}
	if err := w.DB().Update(func(tx kv.Txn) error { return tx.Set([]byte(trustKey), buf.Bytes()) }); err != nil {
		return fmt.Errorf("trust %s: save the trust list: %w", iss, err)
	}
	return nil
}
