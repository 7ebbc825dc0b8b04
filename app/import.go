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
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
	"medwallet/wallet/shc"
)

// ImportOptions adjust ImportPaths.
type ImportOptions struct {
	Progress wallet.Progress
	// Trust verifies SMART Health Cards; nil means TrustList(s).
	Trust *shc.TrustList
	// Now judges card expiry and dates documents without a file time
	// (default time.Now()).
	Now time.Time
	// Person files every record of the files under this person (an ID or
	// a name, as FindPerson takes it), whoever the files' Patients are;
	// a Patient who is plainly someone else is noted in the report and
	// kept on record with the person. Empty: each file's records go to the
	// person its Patient is, and a Patient who is nobody in the wallet yet
	// is added as a new person (the first becomes the owner).
	Person string
	// NewPerson, when set, is asked instead what to do with a Patient who
	// is nobody in the wallet yet (add, file under someone, or skip the
	// file). It runs while the wallet's writer is held and must not write
	// to the wallet.
	NewPerson func(candidate wallet.Person) PersonChoice
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
	Kind  string       `json:"kind"`
	Cards []CardResult `json:"cards,omitempty"`
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
// and atomically, its attachments included (wallet.Store); the first
// failure stops and is returned with the reports of the files before it.
// Each report's Entries say which record every entry of its file became.
func ImportPaths(ctx context.Context, s *Session, paths []string, o ImportOptions) ([]*ImportReport, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	done := s.Busy()
	defer done()
	w := s.Wallet
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	person, err := personID(s, o.Person)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	o.Person = person
	// Each file lands on its own, but they are made durable together.
	defer w.Bulk()()
	defer importGC()()
	files, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	// A first pass sorts the files by kind and gathers the attached files
	// that travel as Binaries, possibly in another file of the set
	// (Binary.ndjson beside DocumentReference.ndjson), on every core. It
	// keeps no FHIR file's bytes: each is read again when its turn comes,
	// so however large the set, only a few files' records are held at a
	// time.
	inputs, err := sortInputs(files)
	if err != nil {
		return nil, err
	}
	inline := map[string][]inlineFile{}
	for _, in := range inputs {
		for _, f := range in.files {
			inline[f.owner] = append(inline[f.owner], f)
		}
		in.files = nil
	}
	if (o.Trust == nil) && slices.ContainsFunc(inputs, func(in *importInput) bool { return in.kind == inCard || in.kind == inChunk }) {
		if o.Trust, err = TrustList(s); err != nil {
			return nil, err
		}
	}
	var reports []*ImportReport
	var chunks []*importInput
	stop := make(chan struct{})
	defer close(stop)
	held := newAheadLimit()
	defer held.stop()
	free := make(chan []byte, aheadFiles)
	parsed := readAhead(w, inputs, held, free, stop)
	for _, in := range inputs {
		var rep *ImportReport
		var err error
		switch in.kind {
		case inFHIR:
			p := <-parsed
			if p.err != nil {
				return reports, p.err
			}
			rep, err = importFHIR(ctx, w, p.in, p.pb, inline, o)
			importGCFollow(heapLive())
			data := p.in.data
			p.in.release()
			p.pb = nil
			held.done(p.size)
			if err == nil {
				select {
				case free <- data[:0]:
				default:
				}
			}
		case inCard:
			rep, err = importCards(ctx, w, in.name, [][]byte{in.data}, o)
		case inChunk:
			chunks = append(chunks, in)
			continue
		case inDocument:
			rep, err = importDocument(ctx, w, in, o)
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
	// A file that an earlier import left half-written is named, so that
	// the user imports it again.
	if len(reports) > 0 {
		left, err := w.InterruptedImports()
		if err != nil {
			return reports, err
		}
		last := reports[len(reports)-1]
		for _, ii := range left {
			last.Notes = append(last.Notes, fmt.Sprintf("the import of %s on %s stopped after %d of its %d records; import %s again to store the rest",
				ii.Name, ii.Started.Local().Format("2006-01-02 15:04"), ii.Stored, ii.Records, ii.Name))
		}
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
	size        int    // a FHIR file's length when the set was first read
	qr          string // shc:/ text of a QR image or text file (inChunk)
	contentType string // documents
	parsed      *fhir.Parsed
	files       []inlineFile // inline attachments found in a FHIR file
	filesBad    []fhir.Skipped
	entries     []fhir.Entry // the FHIR file's entries but those files
}

// classifyInto reads enough of path to know what it is, into buf's
// memory where it is large enough: in.data may share it.
func classifyInto(path string, buf []byte) (*importInput, error) {
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
	data, err := readFHIRFile(f, path, head, buf)
	if err != nil {
		return nil, err
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

// readFHIRFile reads the rest of f after head (which it starts with),
// refusing a file larger than the largest FHIR file the wallet imports.
func readFHIRFile(f *os.File, path string, head, buf []byte) ([]byte, error) {
	data, err := readRest(f, head, fhir.MaxImportSize+1, buf)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if len(data) > fhir.MaxImportSize {
		return nil, fmt.Errorf("import %s: the file is larger than %d MiB; split it into smaller files", path, fhir.MaxImportSize>>20)
	}
	return data, nil
}

// readRest returns head followed by the rest of f, at most limit bytes in
// all, read into one buffer sized by the file's length (growing a buffer
// as io.ReadAll does copies a large file several times): buf's memory when
// it is large enough, else a new buffer.
func readRest(f *os.File, head []byte, limit int, buf []byte) ([]byte, error) {
	size := len(head)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = int(min(max(fi.Size(), int64(size)), int64(limit)))
	}
	if cap(buf) < size+1 {
		buf = make([]byte, 0, size+1) // +1: EOF is seen without growing
	}
	buf = append(buf[:0], head...)
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // the file grew while it was read
		}
		n, err := f.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

func isCardFile(text []byte) bool {
	if len(text) == 0 || text[0] != '{' || !containsMember(text, "verifiableCredential") {
		return false
	}
	var v struct {
		VC []json.RawMessage `json:"verifiableCredential"`
	}
	return json.Unmarshal(text, &v) == nil && len(v.VC) > 0
}

// containsMember reports whether text holds the JSON string "name",
// searching for its rarer first letter rather than for the quote every
// string of a JSON file starts with (thirty times quicker on FHIR).
func containsMember(text []byte, name string) bool {
	sep := []byte(name + `"`)
	for i := 1; i < len(text); {
		j := bytes.Index(text[i:], sep)
		if j < 0 {
			return false
		}
		if text[i+j-1] == '"' {
			return true
		}
		i += j + 1
	}
	return false
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

// release drops what reading and parsing a FHIR file left in memory.
func (in *importInput) release() {
	in.data, in.parsed, in.files, in.filesBad, in.entries = nil, nil, nil, nil, nil
}

// sortInputs reads each file, a goroutine a core, and says what it is: a
// FHIR file keeps only its size and the files it carries inline, a card
// file its bytes, a document nothing. The first error, in the order of
// files, is returned; once one is found no further file is begun (every
// file before it was begun already, so none can have an earlier error).
func sortInputs(files []string) ([]*importInput, error) {
	inputs := make([]*importInput, len(files))
	errs := make([]error, len(files))
	var next atomic.Int64
	var failed atomic.Bool
	take := func() int {
		if failed.Load() {
			return len(files)
		}
		return int(next.Add(1) - 1)
	}
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(files))) {
		wg.Go(func() {
			var buf []byte // one buffer for every file this goroutine reads
			for i := take(); i < len(files); i = take() {
				in, err := classifyInto(files[i], buf)
				if err != nil {
					errs[i] = err
					failed.Store(true)
					continue
				}
				if cap(in.data) > cap(buf) {
					buf = in.data[:0]
				}
				switch in.kind {
				case inFHIR:
					in.size = len(in.data)
					if bytes.Contains(in.data, []byte(attachmentTagSystem)) {
						if err := in.parseFHIR(); err != nil {
							errs[i] = err
							failed.Store(true)
							continue
						}
					}
					files := in.files
					in.release()
					in.files = files
				case inCard:
					in.data = bytes.Clone(in.data) // kept until its turn
				default:
					in.data = nil
				}
				inputs[i] = in
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return inputs, nil
}

// readFHIR reads (into buf's memory if it is large enough) and parses a
// FHIR file of the set again. It is not sorted again, which would search
// all of it for a health card's members: only a file that no longer
// parses is, and one that is no longer FHIR changed since the set was
// read.
func readFHIR(in *importInput, buf []byte) (*importInput, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	data, err := readFHIRFile(f, in.path, nil, buf)
	f.Close()
	if err != nil {
		return nil, err
	}
	again := &importInput{path: in.path, name: in.name, kind: inFHIR, data: data}
	if err := again.parseFHIR(); err != nil {
		if now, cerr := classifyInto(in.path, nil); cerr == nil && now.kind != inFHIR {
			return nil, fmt.Errorf("import %s: the file changed while it was being imported; try again", in.path)
		}
		return nil, err
	}
	return again, nil
}

// parsedFHIR is a FHIR file of the set read ahead of its import, its
// entries prepared (wallet.Prepare). size is what it counts in the
// aheadLimit.
type parsedFHIR struct {
	in   *importInput
	pb   *wallet.PreparedBatch
	size int
	err  error
}

// What readAhead holds at most: the file being stored and the next one,
// whatever their size, and more while they are at most aheadFiles files
// of aheadBytes in all. Small files are then read several ahead, so that
// reading and parsing one, preparing the next and storing a third overlap
// on every core however their times vary from file to file; large files
// are read one ahead. A variable for tests.
var aheadBytes = 16 << 20

const aheadFiles = 6

// aheadLimit counts the files readAhead holds, from the moment one is
// read until its import ends (done), and makes reading the next wait
// while they are as many or as large as aheadBytes and aheadFiles allow.
type aheadLimit struct {
	mu           sync.Mutex
	cond         sync.Cond
	files, bytes int
	stopped      bool
}

func newAheadLimit() *aheadLimit {
	l := &aheadLimit{}
	l.cond.L = &l.mu
	return l
}

// take waits until a file of size bytes may be read and counts it; it
// reports false, counting nothing, once stop was called.
func (l *aheadLimit) take(size int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.stopped && l.files >= 2 && (l.files >= aheadFiles || l.bytes+size > aheadBytes) {
		l.cond.Wait()
	}
	if l.stopped {
		return false
	}
	l.files++
	l.bytes += size
	return true
}

// done says a file taken has been imported.
func (l *aheadLimit) done(size int) {
	l.mu.Lock()
	l.files--
	l.bytes -= size
	l.mu.Unlock()
	l.cond.Broadcast()
}

// stop ends every take, now and later.
func (l *aheadLimit) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.cond.Broadcast()
}

// readAhead reads, parses and prepares the set's FHIR files in order
// ahead of the import that takes them from the channel, as far as held
// allows, in two stages: one goroutine reads and parses a file while
// another prepares the file before it (wallet.Prepare, on every core), and
// both overlap the storing of the file before that. Files are read into
// the buffers of files already stored, sent back on free (nothing of a
// stored file refers to its bytes), so that reading a folder does not
// allocate it. It stops at the first error (sent) or when done is closed.
func readAhead(w *wallet.Wallet, inputs []*importInput, held *aheadLimit, free <-chan []byte, done <-chan struct{}) <-chan parsedFHIR {
	read := make(chan parsedFHIR, aheadFiles)
	go func() {
		defer close(read)
		for _, in := range inputs {
			if in.kind != inFHIR {
				continue
			}
			if !held.take(in.size) {
				return
			}
			var buf []byte
			select {
			case buf = <-free:
			default:
			}
			p := parsedFHIR{size: in.size}
			p.in, p.err = readFHIR(in, buf)
			select {
			case read <- p:
			case <-done:
				return
			}
			if p.err != nil {
				return
			}
		}
	}()
	ch := make(chan parsedFHIR, aheadFiles)
	go func() {
		defer close(ch)
		for p := range read {
			if p.err == nil {
				p.pb, p.err = w.Prepare(fhirBatch(p.in))
			}
			select {
			case ch <- p:
			case <-done:
				return
			}
			if p.err != nil {
				return
			}
		}
	}()
	return ch
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

// fhirBatch is the wallet.Batch of a parsed FHIR file's entries, their
// exact bytes, with no files attached yet.
func fhirBatch(in *importInput) wallet.Batch {
	b := wallet.Batch{Name: in.name, Format: in.parsed.Format, Skipped: append(slices.Clone(in.parsed.Skipped), in.filesBad...), Parsed: true}
	b.Entries = make([]wallet.Incoming, len(in.entries))
	for i, e := range in.entries {
		b.Entries[i] = wallet.Incoming{Where: e.Where, Resource: e.Resource}
	}
	return b
}

// importFHIR imports one FHIR file, prepared as pb, as one wallet.Store
// batch: the entries' exact bytes, each with the files an export of this
// app carried for it inline (matched by the record's canonical hash,
// possibly from another file of the set), all in one transaction.
func importFHIR(ctx context.Context, w *wallet.Wallet, in *importInput, pb *wallet.PreparedBatch, inline map[string][]inlineFile, o ImportOptions) (*ImportReport, error) {
	b := &pb.Batch
	b.Progress, b.Person, b.NewPerson = o.Progress, o.Person, o.NewPerson
	owned := make([][]inlineFile, len(in.entries))
	// With no attached files in the set there is nothing to match (the
	// wallet hashes each resource itself).
	for i, e := range in.entries {
		if len(inline) == 0 {
			break
		}
		if hash, err := ledger.ResourceHash(e.Resource); err == nil {
			owned[i] = unused(inline[hex.EncodeToString(hash[:])])
			for _, f := range owned[i] {
				b.Entries[i].Files = append(b.Entries[i].Files, wallet.IncomingFile{Name: f.name, ContentType: f.contentType, Data: f.data, SHA256: f.sha256})
			}
		}
	}
	rep, err := w.StorePrepared(ctx, pb)
	if err != nil {
		return nil, err
	}
	for i, er := range rep.Entries {
		if er.Outcome == wallet.OutcomeSkipped {
			continue
		}
		for _, f := range owned[i] {
			markUsed(inline, f)
		}
	}
	return &ImportReport{ImportReport: *rep, Kind: ImportedFHIR}, nil
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

// cardScope keeps each card's records apart (see wallet.Batch.Scope): cards
// reuse resource ids ("resource:0"), and an issuer's name on a card proves
// nothing until its signature is checked, so the scope is the card itself,
// the same whether it is imported from a file or redeemed from a share.
func cardScope(r shc.Result) string {
	sum := sha256.Sum256([]byte(r.JWS))
	return "shc|" + r.Issuer + "|" + hex.EncodeToString(sum[:12])
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
		got, err := w.Import(ctx, fmt.Sprintf("%s (card %d)", name, i+1), r.Bundle, wallet.ImportOptions{Source: src, Scope: cardScope(r), Progress: o.Progress,
			Person: o.Person, NewPerson: o.NewPerson})
		if err == nil {
			rep.Entries = append(rep.Entries, got.Entries...)
			rep.People = append(rep.People, got.People...)
		}
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
// time, in one wallet.Store. The same file again is one record, unchanged,
// and is not written again.
func importDocument(ctx context.Context, w *wallet.Wallet, in *importInput, o ImportOptions) (*ImportReport, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("import %s: %w", in.path, err)
	}
	// Hash first: the DocumentReference carries the digest, and a file
	// already stored is not written again.
	h := sha256.New()
	size, err := io.Copy(h, io.LimitReader(f, wallet.MaxAttachmentSize+1))
	f.Close()
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
	path := in.path
	rep, err := w.Store(ctx, wallet.Batch{Name: in.name, Format: in.contentType, Progress: o.Progress, Person: o.Person,
		Entries: []wallet.Incoming{{Where: in.name, Resource: doc, Files: []wallet.IncomingFile{{
			Name: in.name, ContentType: in.contentType, SHA256: sum,
			Open: func() (io.ReadCloser, error) { return os.Open(path) },
		}}}}})
	if err != nil {
		return nil, err
	}
	return &ImportReport{ImportReport: *rep, Kind: ImportedDocument}, nil
}

// freeUnlockMemory gives the memory an unlock left behind back to the
// system (NewSession), unless an import is under way: an import that
// starts at once (medwallet import) has its heap grown by then, and a
// collection of it all followed by the return of its pages makes it fault
// them in again (0.5 s of CPU at 600 MB); its collector keeps its own
// budget (importGC).
func freeUnlockMemory() { freeUnlockMemoryWith(debug.FreeOSMemory) }

// freeUnlockMemoryWith is freeUnlockMemory giving the memory back with
// free.
func freeUnlockMemoryWith(free func()) {
	st := &importGCState
	st.Lock()
	importing := st.imports > 0
	st.Unlock()
	if !importing {
		free()
	}
}

// heapLive is the heap the last collection found live, in bytes.
func heapLive() int64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}

// importGCFollow sets the collector's percent again for the heap an
// import keeps as it grows (the index, its reports), live: the goal stays
// where importGC put it (importGCPercent).
func importGCFollow(live int64) {
	st := &importGCState
	st.Lock()
	defer st.Unlock()
	if st.imports == 0 {
		return
	}
	if p := importGCPercent(live, st.goal, st.percent); p != st.current {
		debug.SetGCPercent(p)
		st.current = p
	}
}

// importHeapBudget is how far the heap may grow beyond what was live when
// an import began before the garbage collector runs (importGC). It was
// 600 MiB; with files read several ahead (readAhead), a second import in
// the same process reached 1,010-1,021 MiB resident at its peak, and 560
// MiB keeps it under 0.95 GiB (see README, benchmarks).
const importHeapBudget = 560 << 20

var importGCState struct {
	sync.Mutex
	imports int
	percent int   // GOGC before the first import began
	goal    int64 // the heap live then plus importHeapBudget
	current int
}

// importGCPercent is the percent (GOGC) that sets the collector's goal, for
// a heap of live bytes, at goal; for a live heap that nears it (a very
// large import's index and reports), at half as much again as the live
// heap, so that the collector never runs over and over. A collector
// turned off before (GOGC=off) stays off.
func importGCPercent(live, goal int64, before int) int {
	if before < 0 {
		return before
	}
	live = max(live, 4<<20)
	return max(int(max(0, goal-live)*100/live), 50)
}

// importGC makes the garbage collector run, while imports are under way,
// when the heap reaches what was live when the first began plus
// importHeapBudget, rather than each time it doubles (importGCFollow
// keeps the percent in step with the live heap after each file); the
// returned func puts it back when the last ends. An import allocates many
// times the corpus (each file read, decoded, prepared, sealed and written
// by the store) and keeps little of it: a fixed budget makes a few large collections early
// on where doubling a small heap makes many, and keeps the heap under the
// budget later where doubling would pass it. At a 600 MB corpus the peak
// resident memory was 0.87-0.92 GiB beside 0.93-1.0 GiB with doubling; the CPU is
// about the same (fewer collections early, but allocation into a larger,
// colder heap, and more collections late). It sets the percent and no
// memory limit: a heap pressed against a limit has the runtime return its
// pages to the system and take them back again (2 s of CPU at 600 MB).
func importGC() (end func()) {
	st := &importGCState
	st.Lock()
	defer st.Unlock()
	if st.imports == 0 {
		st.percent = debug.SetGCPercent(100)
		live := heapLive()
		st.goal = live + importHeapBudget
		st.current = importGCPercent(live, st.goal, st.percent)
		debug.SetGCPercent(st.current)
	}
	st.imports++
	var once sync.Once
	return func() {
		once.Do(func() {
			st.Lock()
			defer st.Unlock()
			if st.imports--; st.imports == 0 {
				debug.SetGCPercent(st.percent)
			}
		})
	}
}
