package app

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/checkin"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
	"medwallet/wallet/shc"
)

// The receiver vectors of the KTC profile's test catalogue, served from a
// local HTTPS host: how a link is written, how its host answers, how its
// file is encrypted, and what the file holds.

const ktcPatient = `{"resourceType":"Patient","id":"pt","name":[{"given":["Zoë"],"family":"Ñúñez"}],"birthDate":"1962-03-01","gender":"female","identifier":[{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"MRN-4471"}]}`

// ktcResources are the four types a KTC receiver SHALL persist, and a
// Coverage (an insurance card).
var ktcResources = map[string]string{
	"Condition":          `{"resourceType":"Condition","id":"c1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006","display":"Type 2 diabetes mellitus"}]},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"}}`,
	"MedicationRequest":  `{"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"860975","display":"metformin 500 MG Oral Tablet"}]},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"}}`,
	"AllergyIntolerance": `{"resourceType":"AllergyIntolerance","id":"a1","category":["medication"],"code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7980","display":"Penicillin G"}]},"patient":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"}}`,
	"Immunization":       `{"resourceType":"Immunization","id":"i1","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140","display":"Influenza, seasonal"}]},"occurrenceDateTime":"2025-10-01","patient":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"}}`,
	"Coverage":           `{"resourceType":"Coverage","id":"cov1","status":"active","subscriberId":"ZXQ123456789","beneficiary":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"},"payor":[{"display":"Acme Health Plan"}]}`,
}

// ktcPDF is a small PDF whose text names what it is.
func ktcPDF(what string) []byte {
	return []byte("%PDF-1.4\n% " + what + "\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

// ktcDocument is a patient-shared DocumentReference holding pdf inline.
func ktcDocument(id, loinc, title string, pdf []byte) string {
	return fmt.Sprintf(`{"resourceType":"DocumentReference","id":%q,"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"PATAST"}]},"status":"current","type":{"coding":[{"system":"http://loinc.org","code":%q}]},"category":[{"coding":[{"system":"https://cms.gov/fhir/CodeSystem/patient-shared-category","code":"patient-shared"}]}],"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"},"date":"2026-07-01T09:00:00Z","description":%q,"content":[{"attachment":{"contentType":"application/pdf","title":%q,"data":%q}}]}`,
		id, loinc, title, title, base64.StdEncoding.EncodeToString(pdf))
}

// ktcBundle is a KTC collection Bundle: the Patient first, urn:uuid fullUrls.
func ktcBundle(resources ...string) []byte {
	entries := []string{`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000001","resource":` + ktcPatient + `}`}
	for i, r := range resources {
		entries = append(entries, fmt.Sprintf(`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-%012d","resource":%s}`, i+2, r))
	}
	return []byte(`{"resourceType":"Bundle","type":"collection","timestamp":"2026-07-01T09:00:00Z","entry":[` + strings.Join(entries, ",") + `]}`)
}

// ktcFile is one file a ktcHost serves.
type ktcFile struct {
	contentType string
	jwe         string
}

// ktcHost is a local HTTPS share host: GET /u (a U link's file), POST /m
// (a manifest, passcode-checked when passcode is set), GET /f/N (the Nth
// file by location). It records every request.
type ktcHost struct {
	srv      *httptest.Server
	passcode string
	location bool // manifest files by location instead of embedded
	status   int  // answer every request with this status when set

	mu       sync.Mutex
	files    []ktcFile
	requests []string // "GET /u recipient=…"
}

func newKTCHost(t *testing.T) *ktcHost {
	t.Helper()
	h := &ktcHost{}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *ktcHost) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests = append(h.requests, r.Method+" "+r.URL.Path+" recipient="+r.URL.Query().Get("recipient"))
	files := h.files
	h.mu.Unlock()
	if h.status != 0 {
		w.WriteHeader(h.status)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/u" && len(files) > 0:
		w.Header().Set("Content-Type", "application/jose")
		w.Write([]byte(files[0].jwe))
	case r.Method == http.MethodPost && r.URL.Path == "/m":
		var req share.ManifestRequest
		json.NewDecoder(r.Body).Decode(&req)
		if h.passcode != "" && req.Passcode != h.passcode {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"remainingAttempts":4}`))
			return
		}
		var out []string
		for i, f := range files {
			if h.location {
				out = append(out, fmt.Sprintf(`{"contentType":%q,"location":"https://%s/f/%d"}`, f.contentType, r.Host, i))
			} else {
				out = append(out, fmt.Sprintf(`{"contentType":%q,"embedded":%q}`, f.contentType, f.jwe))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"files":[` + strings.Join(out, ",") + `]}`))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/f/"):
		var i int
		fmt.Sscanf(r.URL.Path, "/f/%d", &i)
		if i < 0 || i >= len(files) {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(files[i].jwe))
	default:
		http.NotFound(w, r)
	}
}

func (h *ktcHost) asked() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.requests...)
}

// serve sets the files the host serves, each encrypted under key.
func (h *ktcHost) serveFiles(t *testing.T, key [32]byte, contentType string, plains ...[]byte) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files = nil
	for _, p := range plains {
		jwe, err := share.Encrypt(key, p, contentType)
		if err != nil {
			t.Fatal(err)
		}
		h.files = append(h.files, ktcFile{contentType, jwe})
	}
}

// serveJWE sets one ready-made JWE as the host's file.
func (h *ktcHost) serveJWE(contentType, jwe string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files = []ktcFile{{contentType, jwe}}
}

// link is the link text to path on the host with the payload members given.
func (h *ktcHost) link(t *testing.T, key [32]byte, path, flag string, exp time.Time, label string) string {
	t.Helper()
	text, err := share.Link{URL: h.srv.URL + path, Key: key, Flags: flag, Exp: exp, Label: label}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func ktcKey() [32]byte {
	var k [32]byte
	rand.Read(k[:])
	return k
}

// deflatedJWE seals plain deflated (zip DEF), as some senders do; the
// wallet's own Encrypt never compresses.
func deflatedJWE(t *testing.T, key [32]byte, plain []byte) string {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(plain)
	fw.Close()
	protected := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM","zip":"DEF","cty":"application/fhir+json"}`))
	block, _ := aes.NewCipher(key[:])
	gcm, _ := cipher.NewGCM(block)
	iv := make([]byte, 12)
	rand.Read(iv)
	sealed := gcm.Seal(nil, iv, buf.Bytes(), []byte(protected))
	n := len(sealed) - 16
	e := base64.RawURLEncoding
	return protected + ".." + e.EncodeToString(iv) + "." + e.EncodeToString(sealed[:n]) + "." + e.EncodeToString(sealed[n:])
}

func fetchKTC(t *testing.T, s *Session, text, passcode string) (*Pending, error) {
	t.Helper()
	return FetchShare(context.Background(), s, text, passcode, "Riverside Clinic front desk", AllowPrivateHosts(), RedeemTimeout(20*time.Second))
}

func TestKTCLinkFormsAreRead(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	soon := time.Now().Add(15 * time.Minute)
	dashKey := [32]byte{}
	for i := range dashKey {
		dashKey[i] = 0xfb
	}
	if k := base64.RawURLEncoding.EncodeToString(dashKey[:]); !strings.ContainsAny(k, "-") || !strings.ContainsAny(k, "_") {
		t.Fatalf("key %s lacks - or _", k)
	}
	bare := func(key [32]byte, flag string, exp time.Time, label string) string {
		return host.link(t, key, "/u", flag, exp, label)
	}
	cases := []struct {
		name   string
		key    [32]byte
		text   func(key [32]byte) string
		label  string
		noExp  bool
		passes string
	}{
		{"bare", ktcKey(), func(k [32]byte) string { return bare(k, "U", soon, "Check-in") }, "Check-in", false, ""},
		{"viewer-prefixed", ktcKey(), func(k [32]byte) string { return "https://viewer.example/#" + bare(k, "U", soon, "Check-in") }, "Check-in", false, ""},
		{"key with - and _", dashKey, func(k [32]byte) string { return bare(k, "U", soon, "Check-in") }, "Check-in", false, ""},
		{"UTF-8 label", ktcKey(), func(k [32]byte) string { return bare(k, "U", soon, "Zoë Ñúñez · 診察") }, "Zoë Ñúñez · 診察", false, ""},
		{"no label", ktcKey(), func(k [32]byte) string { return bare(k, "U", soon, "") }, "", false, ""},
		{"missing exp", ktcKey(), func(k [32]byte) string { return bare(k, "U", time.Time{}, "Check-in") }, "Check-in", true, ""},
		{"empty flag (manifest)", ktcKey(), func(k [32]byte) string { return host.link(t, k, "/m", "", soon, "Check-in") }, "Check-in", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host.serveFiles(t, c.key, share.ContentFHIR, ktcBundle(ktcResources["Condition"]))
			p, err := fetchKTC(t, clinician, c.text(c.key), c.passes)
			if err != nil {
				t.Fatal(err)
			}
			if p.Link.Label != c.label || p.Link.Expires.IsZero() != c.noExp || len(p.Records) != 2 {
				t.Errorf("link facts %+v, %d records", p.Link, len(p.Records))
			}
			if p.Patient == nil || p.Patient.Name != "Zoë Ñúñez" || p.Patient.BirthDate != "1962-03-01" || p.Patient.Gender != "female" ||
				len(p.Patient.Identifiers) != 1 || p.Patient.Identifiers[0].Value != "MRN-4471" {
				t.Errorf("patient %+v", p.Patient)
			}
			warnedNoExp := strings.Contains(strings.Join(p.Warnings, " "), "no expiry")
			if warnedNoExp != c.noExp {
				t.Errorf("warnings %q", p.Warnings)
			}
		})
	}
	// U links were one GET each with the recipient; no manifest request.
	for _, r := range host.asked() {
		if strings.HasPrefix(r, "GET /u") && !strings.HasSuffix(r, "recipient=Riverside Clinic front desk") {
			t.Errorf("request %q lacks the recipient", r)
		}
	}
	assertNothingReceived(t, clinician)
}

func TestKTCUFlagNeverAsksForAManifest(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, ktcBundle())
	if _, err := fetchKTC(t, clinician, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), ""), ""); err != nil {
		t.Fatal(err)
	}
	if got := host.asked(); len(got) != 1 || got[0] != "GET /u recipient=Riverside Clinic front desk" {
		t.Errorf("requests %q, want one GET with the recipient", got)
	}
}

func TestKTCFlagPAsksForThePasscodeBeforeAnyRequest(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	host.passcode = "4711"
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, ktcBundle(ktcResources["Immunization"]))
	text := host.link(t, key, "/m", "P", time.Now().Add(time.Hour), "Visit")
	_, err := fetchKTC(t, clinician, text, "")
	if !errors.Is(err, share.ErrPasscodeRequired) || len(host.asked()) != 0 {
		t.Fatalf("no passcode: %v after %d requests, want ErrPasscodeRequired before any", err, len(host.asked()))
	}
	var pe *share.ErrPasscode
	if _, err := fetchKTC(t, clinician, text, "1234"); !errors.As(err, &pe) || pe.Remaining != 4 {
		t.Errorf("wrong passcode: %v", err)
	}
	p, err := fetchKTC(t, clinician, text, "4711")
	if err != nil || len(p.Records) != 2 {
		t.Fatalf("right passcode: %v", err)
	}
	assertNothingReceived(t, clinician)
}

func TestKTCBrokenLinksAreRefusedBeforeAnyRequest(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, ktcBundle())
	good := host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Check-in")
	payload := strings.TrimPrefix(good, "shlink:/")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	cases := []struct {
		name   string
		text   string
		want   error
		advice string
	}{
		{"truncated", good[:len(good)-10], share.ErrTruncatedLink, "cut short"},
		{"plain base64", "shlink:/" + base64.StdEncoding.EncodeToString(append(raw, []byte("   ?>?>")...)), share.ErrInvalidLink, "damaged"},
		{"expired", host.link(t, key, "/u", "U", time.Now().Add(-time.Minute), "Check-in"), share.ErrExpired, "expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := fetchKTC(t, clinician, c.text, "")
			if !errors.Is(err, c.want) {
				t.Fatalf("%v, want %v", err, c.want)
			}
			if a, ok := AdviceFor(err); !ok || !strings.Contains(a.What, c.advice) {
				t.Errorf("advice %+v, want it to say %q", a, c.advice)
			}
		})
	}
	if n := len(host.asked()); n != 0 {
		t.Errorf("the host was asked %d times", n)
	}
}

func TestKTCHostAnswers(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	key := ktcKey()
	host.status = http.StatusNotFound
	_, err := fetchKTC(t, clinician, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), ""), "")
	if !errors.Is(err, share.ErrNotFound) {
		t.Errorf("404: %v, want ErrNotFound", err)
	}
	host.status = 0
	host.location = true
	host.serveFiles(t, key, share.ContentFHIR, ktcBundle(ktcResources["AllergyIntolerance"]))
	p, err := fetchKTC(t, clinician, host.link(t, key, "/m", "", time.Now().Add(time.Hour), ""), "")
	if err != nil || len(p.Records) != 2 {
		t.Errorf("file by location: %v", err)
	}
	assertNothingReceived(t, clinician)
}

func TestKTCEncryptionVectors(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	key := ktcKey()
	plain := ktcBundle(ktcResources["Condition"], ktcResources["MedicationRequest"])
	text := host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "")

	host.serveFiles(t, key, share.ContentFHIR, plain)
	if p, err := fetchKTC(t, clinician, text, ""); err != nil || len(p.Records) != 3 {
		t.Errorf("plain: %v", err)
	}

	host.serveJWE(share.ContentFHIR, deflatedJWE(t, key, plain))
	if p, err := fetchKTC(t, clinician, text, ""); err != nil || len(p.Records) != 3 || !bytes.Equal(p.Bundle, plain) {
		t.Errorf("zip DEF: %v", err)
	}

	// A deflate bomb: a few kilobytes that would inflate past the limit.
	bomb := deflatedJWE(t, key, bytes.Repeat([]byte(" "), MaxShareBundle+1))
	if len(bomb) > MaxShareBundle/100 {
		t.Fatalf("bomb of %d bytes is not small", len(bomb))
	}
	host.serveJWE(share.ContentFHIR, bomb)
	if _, err := fetchKTC(t, clinician, text, ""); !errors.Is(err, share.ErrTooLarge) {
		t.Errorf("deflate bomb: %v, want ErrTooLarge", err)
	}
	assertNothingReceived(t, clinician)
}

func TestKTCTamperedFileFailsClosedAndStoresNothing(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	key := ktcKey()
	jwe, _ := share.Encrypt(key, ktcBundle(ktcResources["Condition"]), share.ContentFHIR)
	parts := strings.Split(jwe, ".")
	ct := []byte(parts[3])
	if ct[10] == 'A' {
		ct[10] = 'B'
	} else {
		ct[10] = 'A'
	}
	parts[3] = string(ct)
	host.serveJWE(share.ContentFHIR, strings.Join(parts, "."))
	text := host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "")
	if _, err := fetchKTC(t, clinician, text, ""); !errors.Is(err, share.ErrDecrypt) {
		t.Errorf("tampered ciphertext: %v, want ErrDecrypt", err)
	}
	if _, err := Redeem(context.Background(), clinician, text, "", "x", AllowPrivateHosts()); !errors.Is(err, share.ErrDecrypt) {
		t.Errorf("redeem of tampered ciphertext: %v, want ErrDecrypt", err)
	}
	assertNothingReceived(t, clinician)
}

func TestKTCContentVectors(t *testing.T) {
	host := newKTCHost(t)
	rendering, story := ktcPDF("everything else, rendered"), ktcPDF("what I want my doctor to know")
	cases := []struct {
		name      string
		resources []string
		records   int
		pdfs      int
	}{
		{"minimal", nil, 1, 0},
		{"discrete only", []string{ktcResources["Condition"], ktcResources["Immunization"]}, 3, 0},
		{"both PDFs", []string{ktcDocument("d1", LOINCPatientSharedPDF, "Health summary", rendering), ktcDocument("d2", LOINCPatientStory, "My story", story)}, 3, 2},
		{"the four SHALL-persist types", []string{ktcResources["Condition"], ktcResources["MedicationRequest"], ktcResources["AllergyIntolerance"], ktcResources["Immunization"]}, 5, 0},
		{"Coverage", []string{ktcResources["Coverage"]}, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clinician := newSession(t, "clinician")
			key := ktcKey()
			host.serveFiles(t, key, share.ContentFHIR, ktcBundle(c.resources...))
			p, err := fetchKTC(t, clinician, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Check-in"), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Records) != c.records || len(p.PDFs) != c.pdfs || p.Patients != 1 {
				t.Fatalf("%d records, %d PDFs, %d patients", len(p.Records), len(p.PDFs), p.Patients)
			}
			assertNothingReceived(t, clinician)
			rcv, err := KeepShare(context.Background(), clinician, p, KeepOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Every resource is kept, whatever its type.
			stored := 0
			for _, rr := range rcv.Records {
				if rr.Stored() {
					stored++
				}
			}
			if stored != c.records || clinician.Wallet.Count() != c.records {
				t.Errorf("%d of %d records stored, the wallet holds %d", stored, c.records, clinician.Wallet.Count())
			}
			for _, r := range c.resources {
				var h resourceHead
				json.Unmarshal([]byte(r), &h)
				if len(recordsHolding(t, clinician, `"id":"`+h.ID+`"`)) != 1 {
					t.Errorf("%s/%s was not kept", h.ResourceType, h.ID)
				}
			}
			if _, err := KeepShare(context.Background(), clinician, p, KeepOptions{}); !errors.Is(err, ErrAlreadyKept) {
				t.Errorf("second keep: %v, want ErrAlreadyKept", err)
			}
		})
	}
}

func TestKTCPDFsAreKeptApartByTypeAndMarkedPatientShared(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	key := ktcKey()
	rendering, story := ktcPDF("rendering"), ktcPDF("story")
	// The story comes first: order must not decide which is which.
	host.serveFiles(t, key, share.ContentFHIR, ktcBundle(
		ktcDocument("d2", LOINCPatientStory, "My story", story),
		ktcResources["Condition"],
		ktcDocument("d1", LOINCPatientSharedPDF, "Health summary", rendering)))
	p, err := fetchKTC(t, clinician, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), ""), "")
	if err != nil {
		t.Fatal(err)
	}
	var gotStory, gotRendering *SharedPDF
	for i := range p.PDFs {
		switch pdf := &p.PDFs[i]; pdf.Type {
		case LOINCPatientStory:
			gotStory = pdf
		case LOINCPatientSharedPDF:
			gotRendering = pdf
		}
	}
	if gotStory == nil || !gotStory.Story() || !bytes.Equal(gotStory.Data, story) || gotStory.Title != "My story" || !gotStory.PatientShared {
		t.Errorf("story %+v", gotStory)
	}
	if gotRendering == nil || gotRendering.Story() || !bytes.Equal(gotRendering.Data, rendering) || gotRendering.Title != "Health summary" {
		t.Errorf("rendering %+v", gotRendering)
	}
	marked := map[string]bool{}
	for _, r := range p.Records {
		marked[r.Summary.ResourceType] = marked[r.Summary.ResourceType] || r.PatientShared
	}
	if !marked["DocumentReference"] || marked["Condition"] || marked["Patient"] {
		t.Errorf("patient-shared marks by type: %v", marked)
	}
	// Grouped by kind, every record once, each group of one kind.
	var grouped int
	for _, g := range p.ByKind() {
		for _, r := range g.Records {
			grouped++
			if r.Summary.Kind != g.Kind || g.Label != g.Kind.Label() {
				t.Errorf("%s record in the %s group", r.Summary.Kind, g.Kind)
			}
		}
	}
	if grouped != len(p.Records) {
		t.Errorf("ByKind holds %d records of %d", grouped, len(p.Records))
	}
	rcv, err := KeepShare(context.Background(), clinician, p, KeepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rcv.Records {
		kept, err := ReceivedCheck(clinician, rr.RecordID)
		if err != nil {
			t.Fatal(err)
		}
		if want := rr.Summary.ResourceType == "DocumentReference"; kept.PatientShared != want {
			t.Errorf("%s kept with patient-shared %v", rr.Summary.ResourceType, kept.PatientShared)
		}
	}
}

func TestKTCAttestationPresentOrUnverifiable(t *testing.T) {
	card, err := os.ReadFile(filepath.Join(fixtures, "shc", "example-00-e-file.smart-health-card"))
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := os.ReadFile(filepath.Join(fixtures, "shc", "jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, trusted := range []bool{true, false} {
		t.Run(fmt.Sprintf("issuer trusted %v", trusted), func(t *testing.T) {
			clinician := newSession(t, "clinician")
			if trusted {
				if err := AddTrustedIssuer(clinician, "https://spec.smarthealth.cards/examples/issuer", "Example Issuer", jwks); err != nil {
					t.Fatal(err)
				}
			}
			host := newKTCHost(t)
			key := ktcKey()
			fhirJWE, _ := share.Encrypt(key, ktcBundle(ktcResources["Condition"]), share.ContentFHIR)
			cardJWE, _ := share.Encrypt(key, card, share.ContentSHC)
			host.files = []ktcFile{{share.ContentFHIR, fhirJWE}, {share.ContentSHC, cardJWE}}
			p, err := fetchKTC(t, clinician, host.link(t, key, "/m", "", time.Now().Add(time.Hour), "Visit"), "")
			if err != nil {
				t.Fatal(err)
			}
			var cards int
			for _, r := range p.Records {
				if r.Card == nil {
					continue
				}
				cards++
				if (r.Card.Status == shc.Verified) != trusted {
					t.Errorf("card verdict %s with the issuer trusted %v", r.Card.Status, trusted)
				}
			}
			if cards == 0 || len(p.Records) != 2+cards {
				t.Fatalf("%d records, %d from the card", len(p.Records), cards)
			}
			rcv, err := KeepShare(context.Background(), clinician, p, KeepOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Either card is kept as the share's (apart from the clinician's
			// own records), its verdict naming the issuer.
			for _, rr := range rcv.Records {
				if rr.Card == nil {
					continue
				}
				rec, err := clinician.Wallet.Get(rr.RecordID)
				if err != nil {
					t.Fatal(err)
				}
				if rec.Source.Type != wallet.SourceShare || rr.Card.Issuer != shc.SpecExampleIssuer {
					t.Errorf("card record source %+v, verdict %+v, with the issuer trusted %v", rec.Source, rr.Card, trusted)
				}
			}
		})
	}
}

func TestKTCReviewWarnsOfNewerVersionsUnknownFlagsAndMissingPatient(t *testing.T) {
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":`+ktcResources["Condition"]+`}]}`))
	payload := fmt.Sprintf(`{"url":%q,"flag":"UX","key":%q,"exp":%d,"v":3,"_unknown":{"a":1}}`, host.srv.URL+"/u", base64.RawURLEncoding.EncodeToString(key[:]), time.Now().Add(time.Hour).Unix())
	p, err := fetchKTC(t, clinician, "shlink:/"+base64.RawURLEncoding.EncodeToString([]byte(payload)), "")
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(p.Warnings, "\n")
	for _, want := range []string{"version 3", "flag(s) X", "name no patient"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	if p.Patient != nil || p.Link.Version != 3 || p.Link.Flags != "UX" {
		t.Errorf("pending %+v", p.Link)
	}
}

func TestKTCTamperedRecordIsListedNotStored(t *testing.T) {
	// A record whose log proof does not match is shown in the review and
	// refused when kept: the KTC receiver path keeps the wallet's rules.
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	bundle := forgedBundle(t, "medwallet.example/log/abc", key, hba1c("6.1"))
	bundle = bytes.Replace(bundle, []byte(`"value":6.1`), []byte(`"value":9.9`), 1)
	clinician := newSession(t, "clinician")
	kh := newKTCHost(t)
	lk := ktcKey()
	kh.serveFiles(t, lk, share.ContentFHIR, bundle)
	p, err := fetchKTC(t, clinician, kh.link(t, lk, "/u", "U", time.Now().Add(time.Hour), ""), "")
	if err != nil {
		t.Fatal(err)
	}
	if countPending(p.Records, ledger.Tampered) != 1 || len(p.Alarms) == 0 {
		t.Fatalf("review shows %d tampered, alarms %q", countPending(p.Records, ledger.Tampered), p.Alarms)
	}
	rcv, err := KeepShare(context.Background(), clinician, p, KeepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recordsHolding(t, clinician, "9.9")) != 0 || countStatus(rcv.Records, ledger.Tampered) != 1 {
		t.Errorf("the tampered record was stored")
	}
}

func TestKeepShareRefusesAPendingOfAnotherWallet(t *testing.T) {
	a, b := newSession(t, "a"), newSession(t, "b")
	host := newKTCHost(t)
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, ktcBundle(ktcResources["Condition"]))
	p, err := fetchKTC(t, a, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), ""), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := KeepShare(context.Background(), b, p, KeepOptions{}); err == nil {
		t.Error("a Pending fetched for one wallet was kept in another")
	}
	assertNothingReceived(t, b)
}

func FuzzReadKTCMarks(f *testing.F) {
	f.Add([]byte(ktcDocument("d", LOINCPatientStory, "t", ktcPDF("x"))))
	f.Add([]byte(ktcResources["AllergyIntolerance"]))
	f.Add([]byte(`{"resourceType":"DocumentReference","category":"x","type":[],"content":[{"attachment":{"contentType":"application/pdf","data":"JVBERi0="}}]}`))
	f.Add([]byte(`{"resourceType":"Organization","name":["x"],"meta":{"security":{}}}`))
	f.Fuzz(func(t *testing.T, res []byte) {
		m := readKTCMarks(res)
		if len(m.pdfs) > maxInlinePDFs {
			t.Fatalf("%d PDFs from one resource", len(m.pdfs))
		}
		for _, p := range m.pdfs {
			if !bytes.HasPrefix(p.Data, []byte("%PDF-")) || len(p.Data) > len(res) {
				t.Fatalf("PDF %q read from %d bytes", p.Data, len(res))
			}
		}
	})
}

// TestKTCReceiverReadsWhatTheCheckInBuilds reads a Bundle made by the
// check-in sender (wallet/checkin) as a clinic would: the Patient, both
// PDFs apart by type, the patient-shared marks, the insurance Coverage.
func TestKTCReceiverReadsWhatTheCheckInBuilds(t *testing.T) {
	card, err := checkin.NewInsuranceCard("Acme Health Plan", "ZXQ123456789", "G-77", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := checkin.Build(checkin.Options{
		Patient:        json.RawMessage(ktcPatient),
		PatientFullURL: "urn:uuid:00000000-0000-4000-8000-000000000001",
		Entries: []checkin.Entry{
			{FullURL: "urn:uuid:00000000-0000-4000-8000-000000000002", Resource: json.RawMessage(ktcResources["Condition"])},
			{FullURL: "urn:uuid:00000000-0000-4000-8000-000000000003", Resource: json.RawMessage(ktcResources["AllergyIntolerance"])},
		},
		Story:     "I get dizzy when I stand up quickly.",
		Insurance: &card,
	})
	if err != nil {
		t.Fatal(err)
	}
	clinician := newSession(t, "clinician")
	host := newKTCHost(t)
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, bundle)
	p, err := fetchKTC(t, clinician, host.link(t, key, "/u", "U", time.Now().Add(15*time.Minute), "Check-in"), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Patients != 1 || p.Patient == nil || p.Patient.BirthDate != "1962-03-01" || len(p.Warnings) != 0 {
		t.Errorf("patient %+v (%d), warnings %q", p.Patient, p.Patients, p.Warnings)
	}
	types := map[string]bool{}
	for _, pdf := range p.PDFs {
		types[pdf.Type] = pdf.PatientShared && bytes.HasPrefix(pdf.Data, []byte("%PDF-"))
	}
	if !types[LOINCPatientSharedPDF] || !types[LOINCPatientStory] || len(p.PDFs) != 2 {
		t.Errorf("PDFs by type %v", types)
	}
	kinds := map[string]int{}
	for _, r := range p.Records {
		kinds[r.Summary.ResourceType]++
	}
	if kinds["Coverage"] != 1 || kinds["Condition"] != 1 || kinds["AllergyIntolerance"] != 1 || kinds["DocumentReference"] != 2 {
		t.Errorf("records by type %v", kinds)
	}
}

// FuzzReadPending reads whatever a hostile sender could put in a file into
// the review: it may refuse it, never panic, and what it lists stays
// within what the file holds.
func FuzzReadPending(f *testing.F) {
	f.Add(ktcBundle(ktcResources["Condition"], ktcDocument("d", LOINCPatientStory, "t", ktcPDF("x"))))
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Patient","name":"x"}}]}`))
	f.Add([]byte(`{"resourceType":"Organization","name":7}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[null,{"resource":null},{"resource":{"resourceType":"Provenance"}}]}`))
	s := newSession(f, "fuzz")
	l := share.Link{URL: "https://clinic.example/u", Flags: "U"}
	f.Fuzz(func(t *testing.T, plain []byte) {
		p, err := readPending(s, l, "https://clinic.example:443", []share.FetchedFile{{ContentType: share.ContentFHIR, Plaintext: plain}})
		if err != nil {
			return
		}
		if p.Patients > len(p.Records) || len(p.PDFs) > maxInlinePDFs*len(p.Records) || len(p.Files) != 1 {
			t.Fatalf("%d patients, %d PDFs, %d files from %d records", p.Patients, len(p.PDFs), len(p.Files), len(p.Records))
		}
		for _, pdf := range p.PDFs {
			if len(pdf.Data) > len(plain) {
				t.Fatalf("a PDF of %d bytes from %d bytes", len(pdf.Data), len(plain))
			}
		}
	})
}
