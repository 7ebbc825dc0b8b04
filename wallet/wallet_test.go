package wallet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

const fixtureDir = "../../shared/fixtures"

// testKDF keeps key derivation cheap in tests; one test uses the default.
var testKDF = keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

var passphrase = []byte("correct horse battery staple")

func newWallet(t testing.TB) *Wallet {
	t.Helper()
	w, _, err := Create(filepath.Join(t.TempDir(), "wallet"), passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func fixtureFiles(t testing.TB) []string {
	var files []string
	for _, pat := range []string{"fhir/synthea/*.json", "fhir/ips/*.json"} {
		m, _ := filepath.Glob(filepath.Join(fixtureDir, pat))
		files = append(files, m...)
	}
	if len(files) != 7 {
		t.Fatalf("found %d fixture bundles, want 7", len(files))
	}
	return files
}

func importFile(t testing.TB, w *Wallet, path string) *ImportReport {
	t.Helper()
	rep, err := w.Import(context.Background(), filepath.Base(path), readImportFile(t, path), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestImportEveryFixtureBundle(t *testing.T) {
	w := newWallet(t)
	total := 0
	for _, f := range fixtureFiles(t) {
		var calls, last int
		rep, err := w.Import(context.Background(), filepath.Base(f), readImportFile(t, f), ImportOptions{Progress: func(done, n int) { calls++; last = done }})
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if rep.Added == 0 || calls == 0 || last != rep.Added+rep.Updated+rep.Unchanged {
			t.Errorf("%s: added %d, progress calls %d ending at %d", filepath.Base(f), rep.Added, calls, last)
		}
		for _, s := range rep.Skipped {
			if s.Where == "" || s.Reason == "" {
				t.Errorf("%s: a skip without where or why: %+v", filepath.Base(f), s)
			}
		}
		total += rep.Added
	}
	if w.Count() != total {
		t.Errorf("count %d after adding %d", w.Count(), total)
	}
}

func TestImportIsIdempotent(t *testing.T) {
	w := newWallet(t)
	f := filepath.Join(fixtureDir, "fhir/synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")
	first := importFile(t, w, f)
	var size1 uint64
	w.db.View(func(tx kv.Txn) (err error) { size1, err = w.log.Size(tx); return })
	second := importFile(t, w, f)
	var size2 uint64
	w.db.View(func(tx kv.Txn) (err error) { size2, err = w.log.Size(tx); return })
	if second.Added != 0 || second.Updated != 0 || second.Unchanged != first.Added {
		t.Fatalf("second import: %+v", second)
	}
	if size1 != size2 || w.Count() != first.Added {
		t.Fatalf("log grew from %d to %d; count %d", size1, size2, w.Count())
	}
}

func TestMalformedFileImportsNothingAndNamesThePlace(t *testing.T) {
	w := newWallet(t)
	good, _ := os.ReadFile(filepath.Join(fixtureDir, "fhir/ips/bundle-minimal.json"))
	bad := bytes.Replace(good, []byte(`"resourceType": "Composition"`), []byte(`"resourceType": "Composition",,`), 1)
	if bytes.Equal(good, bad) {
		t.Fatal("fixture changed; adjust the corruption")
	}
	_, err := w.Import(context.Background(), "broken.json", bad, ImportOptions{})
	var se *fhir.SyntaxError
	if !errors.As(err, &se) || se.Line == 0 || !strings.Contains(err.Error(), "broken.json") {
		t.Fatalf("err = %v, want a syntax error naming the file and line", err)
	}
	if w.Count() != 0 {
		t.Fatalf("%d records after a failed import", w.Count())
	}
	nd := "{\"resourceType\":\"Condition\",\"id\":\"a\"}\n{\"resourceType\":\"Condition\",\"id\":\"b\"}\n{\"resourceType\":\n"
	_, err = w.Import(context.Background(), "conditions.ndjson", []byte(nd), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "line 3") || w.Count() != 0 {
		t.Fatalf("ndjson: err = %v, count %d", err, w.Count())
	}
}

func TestCancelledImportWritesNothing(t *testing.T) {
	w := newWallet(t)
	ctx, cancel := context.WithCancel(context.Background())
	clemente := filepath.Join(fixtureDir, "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json")
	_, err := w.Import(ctx, filepath.Base(clemente), readImportFile(t, clemente), ImportOptions{Progress: func(done, _ int) {
		if done == 10 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || w.Count() != 0 {
		t.Fatalf("err = %v, count = %d", err, w.Count())
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	w := newWallet(t)
	var secrets []string
	idRE := regexp.MustCompile(`"id" *: *"([0-9a-f-]{36})"`)
	for _, f := range fixtureFiles(t) {
		importFile(t, w, f)
		b, _ := os.ReadFile(f)
		if m := idRE.FindSubmatch(b); m != nil {
			secrets = append(secrets, string(m[1]))
		}
	}
	att, err := w.WriteAttachment("scan.txt", "text/plain", strings.NewReader("Radiology report for Kreiger: no fracture"))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := fhir.Build(fhir.Draft{Kind: fhir.KindNote, Title: "Knee pain diary", Note: "Pain since the marathon", Date: time.Now()})
	if _, err := w.AddWithAttachments(doc, Source{Type: SourcePatient}, []Attachment{att}); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, "Kreiger", "Clemente", "Ullrich", "Fletcher", "Hyatt", "Rempel",
		"Hemoglobin", "Hypertension", "4548-4", "http://loinc.org", "Knee pain", "marathon", "fracture")
	dir := w.Dir()
	w.Close()
	n := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		n++
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) || bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(s))) {
				t.Errorf("%s holds %q in plaintext", strings.TrimPrefix(p, dir), s)
			}
		}
		return nil
	})
	if n < 3 {
		t.Fatalf("only %d files under the wallet", n)
	}
}

func TestFlippedByteIsAnErrorNamingTheRecord(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, filepath.Join(fixtureDir, "fhir/ips/bundle-minimal.json"))
	e := w.Search(Query{Kinds: []fhir.Kind{fhir.KindCondition}})[0]
	m, _ := w.Master()
	enc := m.Key(keys.PurposeBadger)
	dir := w.Dir()
	w.Close()

	flipBeneathSeal(t, dir, enc, versionKey(e.ID, e.Version))

	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = w.Get(e.ID)
	if !errors.Is(err, kv.ErrTampered) || !strings.Contains(err.Error(), e.ID) {
		t.Fatalf("err = %v, want ErrTampered naming record %s", err, e.ID)
	}
	rep, err := w.Audit()
	if err != nil || rep.OK() || len(rep.Unreadable) != 1 {
		t.Fatalf("audit = %+v, %v; want one unreadable version", rep, err)
	}
}

// flipBeneathSeal alters the sealed value of key in the closed wallet in
// dir beneath its seal, as a flipped byte on disk does once Badger's
// unauthenticated decryption has run.
func flipBeneathSeal(t *testing.T, dir string, enc, key []byte) {
	t.Helper()
	raw, err := kv.OpenBadger(filepath.Join(dir, dbDir), kv.Options{EncryptionKey: enc})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	err = raw.Update(func(tx kv.Txn) error {
		v, err := tx.Get(key)
		if err != nil {
			return err
		}
		v[len(v)/2] ^= 0x20
		return tx.Set(key, v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditOfASoundWalletIsOK(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, filepath.Join(fixtureDir, "fhir/ips/bundle-minimal.json"))
	rep, err := w.Audit()
	if err != nil || !rep.OK() || rep.Checked != w.Count() {
		t.Fatalf("audit = %+v, %v", rep, err)
	}
}

func TestSecondOpenIsInUse(t *testing.T) {
	w := newWallet(t)
	if _, err := Open(w.Dir(), passphrase); !errors.Is(err, ErrInUse) {
		t.Fatalf("err = %v, want ErrInUse", err)
	}
}

func TestWrongPassphraseAndBadHeaders(t *testing.T) {
	w := newWallet(t)
	dir := w.Dir()
	w.Close()
	if _, err := Open(dir, []byte("nope")); !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := Open(t.TempDir(), passphrase); !errors.Is(err, keys.ErrNoWallet) {
		t.Fatalf("missing wallet.json: %v", err)
	}
	h, _ := os.ReadFile(filepath.Join(dir, HeaderFile))
	newer := bytes.Replace(h, []byte(`"format": 1`), []byte(`"format": 9`), 1)
	if bytes.Equal(h, newer) {
		newer = bytes.Replace(h, []byte(`"format":1`), []byte(`"format":9`), 1)
	}
	os.WriteFile(filepath.Join(dir, HeaderFile), newer, 0o600)
	if _, err := Open(dir, passphrase); !errors.Is(err, keys.ErrNewerFormat) {
		t.Fatalf("newer format: %v", err)
	}
	os.WriteFile(filepath.Join(dir, HeaderFile), h, 0o600)
	if w, err := Open(dir, passphrase); err != nil {
		t.Fatalf("after restoring the header: %v", err)
	} else {
		w.Close()
	}
}

func TestDefaultKDFUnlocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	w, rk, err := Create(dir, passphrase, keys.DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, err = OpenWithRecoveryKey(dir, rk)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
}

func TestEditKeepsOldVersionsAndDeleteRemovesAll(t *testing.T) {
	w := newWallet(t)
	res, _ := fhir.Build(fhir.Draft{Kind: fhir.KindAllergy, Title: "Peanut", Reaction: "hives", Date: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)})
	r1, err := w.Add(res, Source{Type: SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := fhir.DraftOf(r1.Resource)
	d.Reaction = "anaphylaxis"
	edited, _ := fhir.Apply(r1.Resource, d)
	r2, err := w.Update(r1.ID, edited, Source{Type: SourcePatient})
	if err != nil || r2.Version != 2 || r2.ID != r1.ID {
		t.Fatalf("update: %+v %v", r2, err)
	}
	old, err := w.GetVersion(r1.ID, 1)
	if err != nil || !bytes.Equal(old.Resource, r1.Resource) {
		t.Fatalf("version 1: %v", err)
	}
	if vs, _ := w.Versions(r1.ID); len(vs) != 2 {
		t.Fatalf("versions = %v", vs)
	}
	other, _ := fhir.Build(fhir.Draft{Kind: fhir.KindAllergy, Title: "Latex", Date: time.Now()})
	if _, err := w.Update(r1.ID, other, Source{Type: SourcePatient}); err == nil {
		t.Fatal("an edit that changes the resource's identity was accepted")
	}
	if err := w.Delete(r1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Get(r1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := w.GetVersion(r1.ID, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old version after delete: %v", err)
	}
}

func TestSearchByKindDateCodeAndText(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, filepath.Join(fixtureDir, "fhir/synthea/Tobie_Rempel_38cde5fd-1861-44db-b7cc-58769b464658.json"))
	all := w.Search(Query{})
	if len(all) != w.Count() {
		t.Fatalf("empty query found %d of %d", len(all), w.Count())
	}
	for i := 1; i < len(all); i++ {
		if all[i].Summary.Date.After(all[i-1].Summary.Date) {
			t.Fatal("not newest first")
		}
	}
	labs := w.Search(Query{Kinds: []fhir.Kind{fhir.KindLab}})
	if len(labs) == 0 {
		t.Fatal("no lab results")
	}
	code := labs[0].Summary.Code
	byCode := w.Search(Query{Code: code.System + "|" + code.Code})
	if len(byCode) == 0 {
		t.Fatal("code search found nothing")
	}
	for _, e := range byCode {
		if e.Summary.Code.Code != code.Code {
			t.Errorf("code search let through %v", e.Summary.Code)
		}
	}
	word := strings.Fields(labs[0].Summary.Title)[0]
	for _, e := range w.Search(Query{Text: strings.ToUpper(word)}) {
		if !e.containsWords([]string{strings.ToLower(word)}) {
			t.Errorf("text search let through %q", e.Summary.Title)
		}
	}
	from := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range w.Search(Query{From: from, To: to}) {
		if e.Summary.Date.Before(from) || !e.Summary.Date.Before(to) {
			t.Errorf("date range let through %v", e.Summary.Date)
		}
	}
}

func TestAttachmentRoundTripAndTamper(t *testing.T) {
	w := newWallet(t)
	data := bytes.Repeat([]byte("scan-bytes-"), 300_000) // ~3.3 MB, several chunks
	a, err := w.WriteAttachment("/home/p/scan.pdf", "application/pdf", bytes.NewReader(data))
	if err != nil || a.Size != int64(len(data)) || a.Name != "scan.pdf" {
		t.Fatalf("write: %+v %v", a, err)
	}
	rc, err := w.OpenAttachment(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	// Another attachment's file put in its place is detected.
	b, _ := w.WriteAttachment("other.pdf", "application/pdf", strings.NewReader("different"))
	os.Rename(w.attachmentPath(b.ID), w.attachmentPath(a.ID))
	rc, _ = w.OpenAttachment(a)
	if _, err := readAll(rc); err == nil {
		t.Fatal("a swapped attachment file read without error")
	}
	if _, err := w.OpenAttachment(Attachment{ID: "../../etc/passwd"}); err == nil {
		t.Fatal("a path-like attachment ID was opened")
	}
}

func readAll(rc interface {
	Read([]byte) (int, error)
	Close() error
}) ([]byte, error) {
	defer rc.Close()
	var buf bytes.Buffer
	_, err := buf.ReadFrom(rc)
	return buf.Bytes(), err
}

func TestSettingsPersist(t *testing.T) {
	w := newWallet(t)
	if w.Settings().AutoLockMinutes != 10 {
		t.Fatalf("default auto-lock = %d", w.Settings().AutoLockMinutes)
	}
	if err := w.SaveSettings(Settings{AutoLockMinutes: 3, Theme: "dark"}); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSettings(Settings{Theme: "purple"}); err == nil {
		t.Fatal("accepted an unknown theme")
	}
	dir := w.Dir()
	w.Close()
	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if s := w.Settings(); s.AutoLockMinutes != 3 || s.Theme != "dark" {
		t.Fatalf("settings after reopen: %+v", s)
	}
	b, _ := json.Marshal(w.Settings())
	if !strings.Contains(string(b), "autoLockMinutes") {
		t.Fatal(string(b))
	}
}

func TestRemoveWitnessForgetsOnlyThatWitness(t *testing.T) {
	w := newWallet(t)
	w.db.Update(func(tx kv.Txn) error {
		for _, n := range []string{"clinic-a", "clinic-b"} {
			_, priv, _ := ed25519.GenerateKey(nil)
			c, err := ledger.NewCosigner(n, priv, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			if err := ledger.SetWitness(tx, ledger.Witness{Name: n, Key: c.Key().String(), URL: "https://" + n}); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if err := w.RemoveWitness("clinic-a"); err != nil {
		t.Fatal(err)
	}
	ws, _ := w.Witnesses()
	if len(ws) != 1 || ws[0].Name != "clinic-b" {
		t.Fatalf("witnesses after removal: %+v", ws)
	}
	if err := w.RemoveWitness("clinic-a"); !errors.Is(err, ErrNoSuchWitness) {
		t.Fatalf("removing an unknown witness: %v", err)
	}
}

// readImportFile reads a fixture for Import, as an importer reads a file.
func readImportFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
