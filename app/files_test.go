package app

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/ledger"
	"medwallet/wallet/shc"
)

const filesFixtures = "../../shared/fixtures"

var filesKDF = keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

func filesWallet(t testing.TB) *wallet.Wallet {
	t.Helper()
	w, _, err := wallet.Create(filepath.Join(t.TempDir(), "w"), []byte("pass phrase"), filesKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// sessionOf wraps a test wallet in a session that never locks by itself.
func sessionOf(w *wallet.Wallet) *Session {
	s := NewSession(w)
	s.SetIdle(0)
	return s
}

// addScan stores a DocumentReference with an attached PDF of n bytes.
func addScan(t testing.TB, w *wallet.Wallet, n int) (wallet.Record, []byte) {
	t.Helper()
	data := bytes.Repeat([]byte("scan bytes "), n/11+1)[:n]
	copy(data, "%PDF-1.7\n")
	a, err := w.WriteAttachment("discharge letter.pdf", export.TypePDF, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := export.Document(a.Name, a.ContentType, a.Size, a.SHA256, "Discharge letter", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.AddWithAttachments(doc, wallet.Source{Type: wallet.SourceImport, Name: a.Name}, []wallet.Attachment{a})
	if err != nil {
		t.Fatal(err)
	}
	return r, data
}

// contents maps the canonical hash of every record's resource to the
// SHA-256s of its files.
func contents(t testing.TB, w *wallet.Wallet) map[string]string {
	t.Helper()
	return contentsOf(t, w, func(b []byte) []byte { return b })
}

var referenceMember = regexp.MustCompile(`"reference":"(?:[^"\\]|\\.)*"`)

// contentsWithoutReferences is contents with every reference string
// blanked: NDJSON has no fullUrl, so a record named by an https URL comes
// back named by its Type/id, and so urn:uuid.
func contentsWithoutReferences(t testing.TB, w *wallet.Wallet) map[string]string {
	t.Helper()
	return contentsOf(t, w, func(b []byte) []byte { return referenceMember.ReplaceAll(b, []byte(`"reference":""`)) })
}

func contentsOf(t testing.TB, w *wallet.Wallet, form func([]byte) []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range w.Search(wallet.Query{}) {
		r, err := w.Get(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ledger.ResourceHash(form(r.Resource))
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, a := range r.Attachments {
			files = append(files, hex.EncodeToString(a.SHA256))
		}
		out[hex.EncodeToString(h[:])] = strings.Join(files, ",")
	}
	return out
}

func sameContents(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: %d records after the round trip, want %d", what, len(got), len(want))
	}
	for h, files := range want {
		g, ok := got[h]
		if !ok {
			t.Errorf("%s: a resource (JCS SHA-256 %s) is missing or changed after the round trip", what, h[:12])
			continue
		}
		if g != files {
			t.Errorf("%s: resource %s has files %q after the round trip, want %q", what, h[:12], g, files)
		}
	}
}

var roundTripFixtures = []string{
	"fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json",
	"fhir/synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json",
	"fhir/synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json",
	"fhir/synthea/Tobie_Rempel_38cde5fd-1861-44db-b7cc-58769b464658.json",
	"fhir/synthea/Fletcher_Hyatt_fe0562b5-f517-4951-8366-32fdab088930.json",
	"fhir/ips/bundle-minimal.json",
	"fhir/ips/bundle-no-info-required-sections.json",
}

func TestExportedFHIRAndNDJSONImportIntoANewWalletUnchanged(t *testing.T) {
	fixturesToRun := roundTripFixtures
	if testing.Short() {
		fixturesToRun = []string{roundTripFixtures[0], roundTripFixtures[5], roundTripFixtures[6]}
	}
	for _, fx := range fixturesToRun {
		t.Run(filepath.Base(fx), func(t *testing.T) {
			w := filesWallet(t)
			if _, err := w.Import(t.Context(), filepath.Base(filepath.Join(filesFixtures, fx)), readImportFile(t, filepath.Join(filesFixtures, fx)), wallet.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			_, scan := addScan(t, w, 200<<10)
			want := contents(t, w)
			dir := t.TempDir()
			for _, tc := range []struct{ format, path string }{
				{FormatFHIR, filepath.Join(dir, "all.json")},
				{FormatNDJSON, filepath.Join(dir, "bulk") + "/"},
			} {
				res, err := ExportRecords(sessionOf(w), tc.format, export.Filter{}, tc.path, ExportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if res.Attachments != 1 || res.Records != len(want) {
					t.Errorf("%s: exported %+v", tc.path, res)
				}
				fresh := filesWallet(t)
				reports, err := ImportPaths(t.Context(), sessionOf(fresh), []string{strings.TrimSuffix(tc.path, "/")}, ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range reports {
					if len(r.Skipped) > 0 {
						t.Errorf("%s: skipped %+v", r.File, r.Skipped)
					}
				}
				if tc.format == FormatNDJSON && strings.Contains(fx, "no-info") {
					sameContents(t, tc.path, contentsWithoutReferences(t, w), contentsWithoutReferences(t, fresh))
				} else {
					sameContents(t, tc.path, want, contents(t, fresh))
				}
				// The file itself, decrypted from the new wallet.
				var doc wallet.Record
				for _, e := range fresh.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindDocument}}) {
					if r, _ := fresh.Get(e.ID); len(r.Attachments) > 0 {
						doc = r
					}
				}
				if len(doc.Attachments) != 1 || doc.Attachments[0].Name != "discharge letter.pdf" {
					t.Fatalf("%s: the document's file did not come back: %+v", tc.path, doc.Attachments)
				}
				got, err := readAttachment(fresh, doc.Attachments[0])
				if err != nil || !bytes.Equal(got, scan) {
					t.Fatalf("%s: the document's bytes differ after the round trip: %v", tc.path, err)
				}
				if vs, _ := fresh.Versions(doc.ID); len(vs) != 1 {
					t.Errorf("%s: the document has %d versions after import, want 1", tc.path, len(vs))
				}
				// Importing the same export again changes nothing.
				again, err := ImportPaths(t.Context(), sessionOf(fresh), []string{strings.TrimSuffix(tc.path, "/")}, ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range again {
					if r.Added+r.Updated != 0 {
						t.Errorf("%s: a second import added %d and updated %d", r.File, r.Added, r.Updated)
					}
				}
			}
		})
	}
}

func TestExportSelectsByKindIDsAndDates(t *testing.T) {
	w := filesWallet(t)
	if _, err := w.Import(t.Context(), filepath.Base(filepath.Join(filesFixtures, roundTripFixtures[0])), readImportFile(t, filepath.Join(filesFixtures, roundTripFixtures[0])), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := ExportRecords(sessionOf(w), FormatCSV, export.Filter{Kinds: []fhir.Kind{fhir.KindLab, fhir.KindVital}}, filepath.Join(dir, "labs.csv"), ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records == 0 || res.Records >= w.Count() {
		t.Errorf("kind filter selected %d of %d", res.Records, w.Count())
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "labs.csv"))
	if !bytes.HasPrefix(csv, []byte(strings.Join(export.CSVHeader, ","))) {
		t.Errorf("CSV starts %q", csv[:40])
	}
	one := w.Search(wallet.Query{})[0].ID
	res, err = ExportRecords(sessionOf(w), FormatNDJSON, export.Filter{IDs: []string{one}}, filepath.Join(dir, "one.ndjson"), ExportOptions{})
	if err != nil || res.Records != 1 {
		t.Fatalf("ids filter: %+v %v", res, err)
	}
	if _, err := ExportRecords(sessionOf(w), FormatFHIR, export.Filter{IDs: []string{"aaaaaaaaaaaaaaaa"}}, filepath.Join(dir, "x.json"), ExportOptions{}); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("unknown id: got %v", err)
	}
	future := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := ExportRecords(sessionOf(w), FormatFHIR, export.Filter{From: future}, filepath.Join(dir, "none.json"), ExportOptions{}); !errors.Is(err, export.ErrNoRecords) {
		t.Errorf("empty selection: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.json")); err == nil {
		t.Error("an empty export left a file")
	}
	// An IPS of conditions only still has its subject.
	if _, err := ExportRecords(sessionOf(w), FormatIPS, export.Filter{Kinds: []fhir.Kind{fhir.KindCondition}}, filepath.Join(dir, "ips.json"), ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ExportRecords(sessionOf(w), "docx", export.Filter{}, filepath.Join(dir, "x.docx"), ExportOptions{}); err == nil {
		t.Error("an unknown format was accepted")
	}
}

func TestPDFExportOfTheLargestFixtureCarriesTheCheckpoint(t *testing.T) {
	w := filesWallet(t)
	if _, err := w.Import(t.Context(), filepath.Base(filepath.Join(filesFixtures, roundTripFixtures[4])), readImportFile(t, filepath.Join(filesFixtures, roundTripFixtures[4])), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// Without witnesses, anchoring signs the checkpoint and reports that
	// no witness cosigned it.
	w.Anchor(t.Context(), nil)
	_, cp, err := w.LogState()
	if err != nil || cp == nil {
		t.Fatalf("no signed checkpoint: %v", err)
	}
	path := filepath.Join(t.TempDir(), "summary.pdf")
	if _, err := ExportRecords(sessionOf(w), FormatPDF, export.Filter{}, path, ExportOptions{Locale: "de"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	if !bytes.Contains(pdfText(t, b), []byte(w.Log().Origin())) {
		t.Error("the PDF's pages do not carry the log's checkpoint")
	}
}

// pdfText inflates every compressed stream of a PDF.
func pdfText(t *testing.T, pdf []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	for {
		i := bytes.Index(pdf, []byte("stream\n"))
		if i < 0 {
			return out.Bytes()
		}
		pdf = pdf[i+len("stream\n"):]
		j := bytes.Index(pdf, []byte("endstream"))
		if j < 0 {
			return out.Bytes()
		}
		if zr, err := zlib.NewReader(bytes.NewReader(pdf[:j])); err == nil {
			io.Copy(&out, zr)
		}
		pdf = pdf[j:]
	}
}

func fixture(rel string) string { return filepath.Join(filesFixtures, rel) }

// trustSpecExample trusts the specification's example issuer in w, as a
// test may: the wallet ships no issuer (its private key is published).
func trustSpecExample(t testing.TB, w *wallet.Wallet) {
	t.Helper()
	jwks, err := os.ReadFile(fixture("shc/jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := os.ReadFile(fixture("shc/crl/3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := AddTrustedIssuer(sessionOf(w), shc.SpecExampleIssuer, shc.SpecExampleIssuerName, jwks, crl); err != nil {
		t.Fatal(err)
	}
}

func TestImportVerifiedCardStoresItWithTheIssuerAsSource(t *testing.T) {
	for _, rel := range []string{
		"shc/example-00-e-file.smart-health-card",
		"shc/example-00-d-jws.txt",
		"shc/example-00-f-qr-code-numeric-value-0.txt",
		"shc/example-00-g-qr-code-0.rendered.png",
	} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			w := filesWallet(t)
			trustSpecExample(t, w)
			reps, err := ImportPaths(t.Context(), sessionOf(w), []string{fixture(rel)}, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := reps[0]
			if r.Kind != ImportedCard || len(r.Cards) != 1 || r.Cards[0].Status != shc.Verified || r.Added != 4 || len(r.Notes) != 0 {
				t.Fatalf("report %+v", r)
			}
			rec, _ := w.Get(r.IDs[0])
			if rec.Source.Type != wallet.SourceProvider || rec.Source.Name != shc.SpecExampleIssuerName {
				t.Errorf("source %+v", rec.Source)
			}
			again, err := ImportPaths(t.Context(), sessionOf(w), []string{fixture(rel)}, ImportOptions{})
			if err != nil || again[0].Added+again[0].Updated != 0 {
				t.Errorf("a second import: %+v %v", again, err)
			}
		})
	}
}

func TestImportRevokedCardIsStoredUnverifiedWithANote(t *testing.T) {
	w := filesWallet(t)
	trustSpecExample(t, w)
	reps, err := ImportPaths(t.Context(), sessionOf(w), []string{fixture("shc/example-03-e-file.smart-health-card")}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := reps[0]
	if len(r.Cards) != 1 || r.Cards[0].Status != shc.Revoked || len(r.Notes) != 1 || r.Added == 0 {
		t.Fatalf("report %+v", r)
	}
	rec, _ := w.Get(r.IDs[0])
	if rec.Source.Type != wallet.SourceImport || !strings.HasPrefix(rec.Source.Detail, "unverified: ") {
		t.Errorf("source %+v", rec.Source)
	}
}

func TestTwoCardsWithTheSameResourceIDsStayApart(t *testing.T) {
	w := filesWallet(t)
	reps, err := ImportPaths(t.Context(), sessionOf(w), []string{fixture("shc/example-00-e-file.smart-health-card"), fixture("shc/example-03-e-file.smart-health-card")}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Added != 4 || reps[1].Added != 3 || w.Count() != 7 {
		t.Fatalf("added %d and %d, wallet holds %d", reps[0].Added, reps[1].Added, w.Count())
	}
}

func TestChunkedCardQRCodesImportWhenNamedTogether(t *testing.T) {
	parts := []string{
		fixture("shc/example-02-f-qr-code-numeric-value-2.txt"),
		fixture("shc/example-02-f-qr-code-numeric-value-0.txt"),
		fixture("shc/example-02-f-qr-code-numeric-value-1.txt"),
	}
	w := filesWallet(t)
	trustSpecExample(t, w)
	if _, err := ImportPaths(t.Context(), sessionOf(w), parts[:2], ImportOptions{}); !errors.Is(err, shc.ErrIncompleteChunks) {
		t.Fatalf("two of three parts: got %v", err)
	}
	if w.Count() != 0 {
		t.Fatal("an incomplete card stored records")
	}
	reps, err := ImportPaths(t.Context(), sessionOf(w), parts, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Cards[0].Status != shc.Verified || reps[0].Added != 55 {
		t.Fatalf("report %+v", reps[0])
	}
}

func TestChunkedCardQRImagesImportWhenNamedTogether(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 3 {
		text, err := os.ReadFile(fixture(fmt.Sprintf("shc/example-02-f-qr-code-numeric-value-%d.txt", i)))
		if err != nil {
			t.Fatal(err)
		}
		png, err := qrcode.Encode(string(bytes.TrimSpace(text)), qrcode.Low, 600)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("part-%d.png", i))
		os.WriteFile(p, png, 0o600)
		paths = append(paths, p)
	}
	w := filesWallet(t)
	trustSpecExample(t, w)
	reps, err := ImportPaths(t.Context(), sessionOf(w), paths, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Kind != ImportedCard || reps[0].Cards[0].Status != shc.Verified || reps[0].Added != 55 {
		t.Fatalf("report %+v", reps[0])
	}
}

func TestSpecExampleCardIsNotVerifiedWithTheTrustListTheWalletShips(t *testing.T) {
	w := filesWallet(t)
	reps, err := ImportPaths(t.Context(), sessionOf(w), []string{fixture("shc/example-00-e-file.smart-health-card")}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Cards[0].Status == shc.Verified {
		t.Fatal("a card of the specification's example issuer (published private key) was verified")
	}
	rec, _ := w.Get(reps[0].IDs[0])
	if rec.Source.Type == wallet.SourceProvider {
		t.Errorf("filed as coming from a provider: %+v", rec.Source)
	}
}

func TestCardFromAnUnknownIssuerIsImportedUnverified(t *testing.T) {
	w := filesWallet(t)
	reps, err := ImportPaths(t.Context(), sessionOf(w), []string{fixture("shl/carin-insurance-example-expected-decrypted.smart-health-card")}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Cards[0].Status != shc.Unverified || len(reps[0].Notes) != 1 {
		t.Fatalf("report %+v", reps[0])
	}
}

func TestAddedIssuerIsKeptInTheWallet(t *testing.T) {
	w := filesWallet(t)
	jwks, err := os.ReadFile(fixture("shc/jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	crl, _ := os.ReadFile(fixture("shc/crl/3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s.json"))
	if err := AddTrustedIssuer(sessionOf(w), "https://clinic.example/issuer", "Example clinic", jwks, crl); err != nil {
		t.Fatal(err)
	}
	if err := AddTrustedIssuer(sessionOf(w), "http://insecure.example", "x", jwks); err == nil {
		t.Error("an http issuer was accepted")
	}
	if err := AddTrustedIssuer(sessionOf(w), "https://bad.example", "x", []byte(`{"keys":[{"kty":"EC"`)); err == nil {
		t.Error("a broken JWKS was accepted")
	}
	list, err := TrustedIssuers(sessionOf(w))
	if err != nil {
		t.Fatal(err)
	}
	var found, builtin bool
	for _, is := range list {
		if is.Iss == "https://clinic.example/issuer" && !is.Builtin && is.Name == "Example clinic" && is.Keys > 0 && is.CRLs == 1 {
			found = true
		}
		builtin = builtin || is.Builtin
	}
	if !found || builtin {
		t.Fatalf("trust list %+v, want the added issuer and no builtin one (the wallet ships none)", list)
	}
	// It lives in the wallet's store, so it survives a restart (and a backup).
	dir := w.Dir()
	w.Close()
	w2, err := wallet.Open(dir, []byte("pass phrase"))
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if list2, _ := TrustedIssuers(sessionOf(w2)); len(list2) != len(list) {
		t.Errorf("after reopening: %d issuers, want %d", len(list2), len(list))
	}
}

func TestImportedPDFBecomesADocumentWithItsFileAndCanBeRetitled(t *testing.T) {
	w := filesWallet(t)
	path := filepath.Join(t.TempDir(), "lab report.pdf")
	data := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 100<<10)...)
	os.WriteFile(path, data, 0o600)
	reps, err := ImportPaths(t.Context(), sessionOf(w), []string{path}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := reps[0]
	if r.Kind != ImportedDocument || r.Added != 1 || r.Attachments != 1 {
		t.Fatalf("report %+v", r)
	}
	rec, _ := w.Get(r.IDs[0])
	if rec.Summary.Kind != fhir.KindDocument || len(rec.Attachments) != 1 || rec.Attachments[0].ContentType != export.TypePDF {
		t.Fatalf("record %+v", rec)
	}
	got, err := readAttachment(w, rec.Attachments[0])
	if err != nil || !bytes.Equal(got, data) {
		t.Fatal("the stored file differs")
	}
	again, err := ImportPaths(t.Context(), sessionOf(w), []string{path}, ImportOptions{})
	if err != nil || again[0].Unchanged != 1 || w.Count() != 1 {
		t.Fatalf("a second import: %+v %v", again[0], err)
	}
	// The title is edited as any record is; the file stays attached.
	edited := bytes.Replace(rec.Resource, []byte(`"description":"lab report.pdf"`), []byte(`"description":"Blood panel, March"`), 1)
	up, err := w.Update(rec.ID, edited, wallet.Source{Type: wallet.SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != 2 || len(up.Attachments) != 1 || !strings.Contains(string(up.Resource), "Blood panel") {
		t.Fatalf("after editing: %+v", up)
	}
}

func TestImportedPictureThatIsNotAQRCodeIsADocument(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(3, 3, color.Black)
	var buf bytes.Buffer
	png.Encode(&buf, img)
	path := filepath.Join(t.TempDir(), "rash.png")
	os.WriteFile(path, buf.Bytes(), 0o600)
	w := filesWallet(t)
	reps, err := ImportPaths(t.Context(), sessionOf(w), []string{path}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Kind != ImportedDocument || reps[0].Format != export.TypePNG {
		t.Fatalf("report %+v", reps[0])
	}
}

func TestImportOfASmartHealthLinkImageSaysToRedeemIt(t *testing.T) {
	w := filesWallet(t)
	_, err := ImportPaths(t.Context(), sessionOf(w), []string{fixture("shl/CARIN_INS_CD-shl.png")}, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "redeem") {
		t.Fatalf("got %v", err)
	}
}

func TestImportOfAnUnknownFileNamesIt(t *testing.T) {
	w := filesWallet(t)
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("just some text"), 0o600)
	if _, err := ImportPaths(t.Context(), sessionOf(w), []string{path}, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("got %v", err)
	}
}

func TestForeignBinaryStaysARecord(t *testing.T) {
	w := filesWallet(t)
	path := filepath.Join(t.TempDir(), "b.json")
	os.WriteFile(path, []byte(`{"resourceType":"Binary","id":"b1","contentType":"text/plain","data":"aGVsbG8="}`), 0o600)
	reps, err := ImportPaths(t.Context(), sessionOf(w), []string{path}, ImportOptions{})
	if err != nil || reps[0].Added != 1 {
		t.Fatalf("%+v %v", reps, err)
	}
}

func TestExportedFileWhoseRecordIsMissingIsReported(t *testing.T) {
	w := filesWallet(t)
	addScan(t, w, 1000)
	dir := filepath.Join(t.TempDir(), "bulk")
	if _, err := ExportRecords(sessionOf(w), FormatNDJSON, export.Filter{}, dir+"/", ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := filesWallet(t)
	reps, err := ImportPaths(t.Context(), sessionOf(fresh), []string{filepath.Join(dir, "Binary.ndjson")}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps[0].Skipped) != 1 || fresh.Count() != 0 {
		t.Fatalf("report %+v, %d records", reps[0], fresh.Count())
	}
}

func FuzzParseInlineFile(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Binary","id":"att-x","meta":{"tag":[{"system":"urn:medwallet:tag","code":"attachment"}]},"contentType":"application/pdf","securityContext":{"identifier":{"system":"urn:medwallet:resource-sha256","value":"00"}},"data":"aGVsbG8="}`))
	f.Add([]byte(`{"resourceType":"Binary","data":"!!"}`))
	f.Fuzz(func(t *testing.T, res []byte) {
		fl, ok, err := parseInlineFile(res, "x")
		if ok && err == nil && (fl.owner == "" || len(fl.sha256) != 32 || fl.name == "") {
			t.Fatalf("accepted a file without owner, hash or name: %+v", fl)
		}
	})
}

func TestImportOfAnExportWithAttachmentsIsOneTransaction(t *testing.T) {
	w := filesWallet(t)
	if _, err := w.Import(t.Context(), "a1c.json", []byte(`{"resourceType":"Observation","id":"a1c","status":"final","code":{"text":"HbA1c"},"valueQuantity":{"value":6.1,"unit":"%"}}`), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	addScan(t, w, 64<<10)
	path := filepath.Join(t.TempDir(), "all.json")
	if res, err := ExportRecords(sessionOf(w), FormatFHIR, export.Filter{}, path, ExportOptions{}); err != nil || res.Attachments != 1 {
		t.Fatalf("export: %+v, %v", res, err)
	}

	// The import stops after its first record: nothing of the file stays,
	// neither the records before nor the attached file.
	fresh := filesWallet(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := ImportPaths(ctx, sessionOf(fresh), []string{path}, ImportOptions{Progress: func(done, _ int) {
		if done >= 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want cancelled", err)
	}
	des, _ := os.ReadDir(filepath.Join(fresh.Dir(), "attachments"))
	size, _, _ := fresh.LogState()
	if fresh.Count() != 0 || len(des) != 0 || size != 0 {
		t.Errorf("after a failed import: %d records, %d attached files, log size %d; want none", fresh.Count(), len(des), size)
	}
	reps, err := ImportPaths(t.Context(), sessionOf(fresh), []string{path}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Added != 2 || reps[0].Attachments != 1 {
		t.Errorf("the import again: %+v", reps[0].ImportReport)
	}
}

func TestImportReportsTheRecordIDOfEachEntry(t *testing.T) {
	w := filesWallet(t)
	if _, err := w.Import(t.Context(), filepath.Base(fixture(roundTripFixtures[6])), readImportFile(t, fixture(roundTripFixtures[6])), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	scan, _ := addScan(t, w, 4<<10)
	path := filepath.Join(t.TempDir(), "all.json")
	if _, err := ExportRecords(sessionOf(w), FormatFHIR, export.Filter{}, path, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := filesWallet(t)
	reps, err := ImportPaths(t.Context(), sessionOf(fresh), []string{path}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep := reps[0]
	if len(rep.Entries) != w.Count() || rep.Added != w.Count() {
		t.Fatalf("%d entries reported, %d added, for %d records", len(rep.Entries), rep.Added, w.Count())
	}
	want := contents(t, w)
	for i, er := range rep.Entries {
		r, err := fresh.Get(er.RecordID)
		if err != nil {
			t.Fatalf("entry %d (%s): record %q: %v", i, er.Where, er.RecordID, err)
		}
		h, _ := ledger.ResourceHash(r.Resource)
		if _, ok := want[hex.EncodeToString(h[:])]; !ok || er.Summary.ResourceType != r.Summary.ResourceType {
			t.Errorf("entry %d (%s) names record %s, which holds no exported resource", i, er.Where, er.RecordID)
		}
		if r.Summary.ResourceID == scan.Summary.ResourceID && (er.Attachments != 1 || len(r.Attachments) != 1) {
			t.Errorf("the scan's entry: %d files reported, %d stored", er.Attachments, len(r.Attachments))
		}
	}
}
