package checkin

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"medwallet/wallet/share"
)

const testCondition = `{"resourceType":"Condition","id":"c1","code":{"text":"Asthma"},"subject":{"reference":"Patient/p1"}}`

var (
	baseOnce   sync.Once
	baseBundle []byte
)

// conformantBundle is a small check-in Build made: Patient, Condition and
// the rendered PDF, in that order.
func conformantBundle(t testing.TB) []byte {
	t.Helper()
	baseOnce.Do(func() {
		b, err := Build(Options{Patient: json.RawMessage(testPatient), Entries: []Entry{{Resource: json.RawMessage(testCondition)}}, Now: checkinTime})
		if err != nil {
			panic(err)
		}
		baseBundle = b
	})
	return baseBundle
}

// mutate decodes the conformant bundle, lets change edit it and encodes it
// again.
func mutate(t *testing.T, change func(b map[string]any)) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(conformantBundle(t), &b); err != nil {
		t.Fatal(err)
	}
	change(b)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func entries(b map[string]any) []any { return b["entry"].([]any) }
func resource(b map[string]any, i int) map[string]any {
	return entries(b)[i].(map[string]any)["resource"].(map[string]any)
}
func doc(b map[string]any) map[string]any { return resource(b, 2) }
func patientURLOf(b map[string]any) string {
	return entries(b)[0].(map[string]any)["fullUrl"].(string)
}

func rules(probs []Problem) []Rule {
	var out []Rule
	for _, p := range probs {
		if !slices.Contains(out, p.Rule) {
			out = append(out, p.Rule)
		}
	}
	slices.Sort(out)
	return out
}

func TestConformantBundleHasNoProblems(t *testing.T) {
	if probs := Check(conformantBundle(t)); len(probs) != 0 {
		t.Fatalf("problems in Build's output: %v", probs)
	}
}

func TestCheckNamesEveryBrokenRule(t *testing.T) {
	const otherUUID = "urn:uuid:3f0e6b7a-1111-4222-8333-944455556666"
	for _, tc := range []struct {
		name   string
		change func(b map[string]any)
		want   []Rule
	}{
		{"two Patients", func(b map[string]any) {
			b["entry"] = append(entries(b), map[string]any{"fullUrl": otherUUID, "resource": map[string]any{"resourceType": "Patient", "id": "p2"}})
		}, []Rule{RuleOnePatient}},
		{"no Patient", func(b map[string]any) {
			b["entry"] = entries(b)[1:]
		}, []Rule{RuleOnePatient, RuleSubjectPatient, RuleDocSubject, RuleDocAuthor}},
		{"relative fullUrl", func(b map[string]any) {
			entries(b)[1].(map[string]any)["fullUrl"] = "Condition/c1"
		}, []Rule{RuleFullURL}},
		{"RESTful fullUrl", func(b map[string]any) {
			entries(b)[1].(map[string]any)["fullUrl"] = "https://ehr.example.org/fhir/Condition/c1"
		}, []Rule{RuleFullURL}},
		{"missing fullUrl", func(b map[string]any) {
			delete(entries(b)[1].(map[string]any), "fullUrl")
		}, []Rule{RuleFullURL}},
		{"two entries share a fullUrl", func(b map[string]any) {
			entries(b)[1].(map[string]any)["fullUrl"] = entries(b)[2].(map[string]any)["fullUrl"]
		}, []Rule{RuleFullURL}},
		{"dangling subject", func(b map[string]any) {
			resource(b, 1)["subject"] = map[string]any{"reference": otherUUID}
		}, []Rule{RuleSubjectPatient}},
		{"relative subject", func(b map[string]any) {
			resource(b, 1)["subject"] = map[string]any{"reference": "Patient/p1"}
		}, []Rule{RuleSubjectPatient}},
		{"subject without reference", func(b map[string]any) {
			resource(b, 1)["subject"] = map[string]any{"display": "Ada Lovelace"}
		}, []Rule{RuleSubjectPatient}},
		{"nested patient reference to someone else", func(b map[string]any) {
			resource(b, 1)["contained"] = []any{map[string]any{"resourceType": "Immunization", "id": "i1", "patient": map[string]any{"reference": "Patient/p2"}}}
		}, []Rule{RuleSubjectPatient}},
		{"meta.profile present", func(b map[string]any) {
			resource(b, 1)["meta"] = map[string]any{"profile": []any{"http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns"}}
		}, []Rule{RuleNoProfile}},
		{"meta.profile in a contained resource", func(b map[string]any) {
			resource(b, 1)["contained"] = []any{map[string]any{"resourceType": "Observation", "id": "o1", "meta": map[string]any{"profile": []any{"x"}}}}
		}, []Rule{RuleNoProfile}},
		{"PDF missing", func(b map[string]any) {
			b["entry"] = entries(b)[:2]
		}, []Rule{RuleRenderedPDF}},
		{"wrong LOINC", func(b map[string]any) {
			doc(b)["type"] = map[string]any{"coding": []any{map[string]any{"system": LOINC, "code": "34133-9"}}}
		}, []Rule{RuleDocType, RuleRenderedPDF}},
		{"LOINC code under another system", func(b map[string]any) {
			doc(b)["type"] = map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": LOINCRenderedPDF}}}
		}, []Rule{RuleDocType, RuleRenderedPDF}},
		{"status superseded", func(b map[string]any) {
			doc(b)["status"] = "superseded"
		}, []Rule{RuleDocStatus}},
		{"category missing", func(b map[string]any) {
			delete(doc(b), "category")
		}, []Rule{RuleDocCategory}},
		{"document about someone else", func(b map[string]any) {
			doc(b)["subject"] = map[string]any{"reference": otherUUID}
		}, []Rule{RuleSubjectPatient, RuleDocSubject}},
		{"author a practitioner", func(b map[string]any) {
			doc(b)["author"] = []any{map[string]any{"reference": "Practitioner/dr1"}}
		}, []Rule{RuleDocAuthor}},
		{"no date", func(b map[string]any) {
			delete(doc(b), "date")
		}, []Rule{RuleDocDate}},
		{"date not an instant", func(b map[string]any) {
			doc(b)["date"] = "yesterday"
		}, []Rule{RuleDocDate}},
		{"no PATAST", func(b map[string]any) {
			delete(doc(b), "meta")
		}, []Rule{RuleDocSecurity}},
		{"two contents", func(b map[string]any) {
			c := doc(b)["content"].([]any)
			doc(b)["content"] = append(c, c[0])
		}, []Rule{RuleDocContent}},
		{"PDF by url instead of inline", func(b map[string]any) {
			a := doc(b)["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
			delete(a, "data")
			a["url"] = "https://evil.example/summary.pdf"
		}, []Rule{RuleDocContent}},
		{"not application/pdf", func(b map[string]any) {
			doc(b)["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["contentType"] = "text/html"
		}, []Rule{RuleDocContent}},
		{"data not base64", func(b map[string]any) {
			doc(b)["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["data"] = "%%%"
		}, []Rule{RuleDocContent}},
		{"data not a PDF", func(b map[string]any) {
			doc(b)["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["data"] = base64.StdEncoding.EncodeToString([]byte("<html>hello</html>"))
		}, []Rule{RuleDocContent}},
		{"bundle of type transaction", func(b map[string]any) {
			b["type"] = "transaction"
		}, []Rule{RuleBundleType}},
		{"no timestamp", func(b map[string]any) {
			delete(b, "timestamp")
		}, []Rule{RuleTimestamp}},
		{"timestamp a date only", func(b map[string]any) {
			b["timestamp"] = "2026-07-14"
		}, []Rule{RuleTimestamp}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(mutate(t, tc.change))
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(rules(got), want) {
				t.Errorf("rules %v, want %v; problems: %v", rules(got), want, got)
			}
			for _, p := range got {
				if p.Detail == "" || p.String() == "" {
					t.Errorf("problem without detail: %#v", p)
				}
			}
		})
	}
}

func TestCheckRefusesUnreadableAndOversizedBundlesUnread(t *testing.T) {
	for name, data := range map[string][]byte{
		"not JSON":       []byte("<Bundle/>"),
		"a JSON array":   []byte(`[{"resourceType":"Bundle"}]`),
		"truncated":      conformantBundle(t)[:len(conformantBundle(t))/2],
		"over MaxBundle": append([]byte(`{"resourceType":"Bundle","type":"collection","entry":[],"x":"`), bytes.Repeat([]byte("a"), MaxBundle)...),
	} {
		t.Run(name, func(t *testing.T) {
			if got := rules(Check(data)); !slices.Equal(got, []Rule{RuleReadable}) {
				t.Errorf("rules %v, want only %s", got, RuleReadable)
			}
		})
	}
}

func TestCheckLetsOtherDocumentReferencesBe(t *testing.T) {
	// A clinical note the patient shares is not a KTC PDF and needs none of
	// its labels.
	b := mutate(t, func(b map[string]any) {
		b["entry"] = append(entries(b), map[string]any{"fullUrl": "urn:uuid:7d1f6c2a-2222-4333-8444-955566667777", "resource": map[string]any{
			"resourceType": "DocumentReference", "id": "note", "status": "current",
			"type":    map[string]any{"coding": []any{map[string]any{"system": LOINC, "code": "34117-2"}}},
			"subject": map[string]any{"reference": patientURLOf(b)},
			"content": []any{map[string]any{"attachment": map[string]any{"contentType": "text/plain", "data": "aGk="}}}}})
	})
	if probs := Check(b); len(probs) != 0 {
		t.Errorf("problems: %v", probs)
	}
}

func randomKey(t testing.TB) [32]byte {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	return k
}

// sealJWE makes a compact JWE with the given protected header, the way a
// sender that compresses would.
func sealJWE(t *testing.T, key [32]byte, header string, plaintext []byte) string {
	t.Helper()
	block, _ := aes.NewCipher(key[:])
	gcm, _ := cipher.NewGCM(block)
	iv := make([]byte, 12)
	rand.Read(iv)
	protected := base64.RawURLEncoding.EncodeToString([]byte(header))
	sealed := gcm.Seal(nil, iv, plaintext, []byte(protected))
	ct, tag := sealed[:len(sealed)-16], sealed[len(sealed)-16:]
	e := base64.RawURLEncoding
	return protected + ".." + e.EncodeToString(iv) + "." + e.EncodeToString(ct) + "." + e.EncodeToString(tag)
}

func TestCheckInJWEIsDirA256GCMFHIRUncompressed(t *testing.T) {
	key := randomKey(t)
	bundle := conformantBundle(t)
	jwe, err := share.Encrypt(key, bundle, share.ContentFHIR)
	if err != nil {
		t.Fatal(err)
	}
	plain, probs := CheckJWE(jwe, key)
	if len(probs) != 0 || !bytes.Equal(plain, bundle) {
		t.Fatalf("share.Encrypt's check-in JWE: problems %v", probs)
	}
	var hdr map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(strings.SplitN(jwe, ".", 2)[0])
	json.Unmarshal(raw, &hdr)
	if len(hdr) != 3 || hdr["alg"] != "dir" || hdr["enc"] != "A256GCM" || hdr["cty"] != "application/fhir+json" {
		t.Errorf("header %v, want exactly alg dir, enc A256GCM, cty application/fhir+json", hdr)
	}
}

func TestCheckJWENamesWhatAKTCReceiverWouldNotTake(t *testing.T) {
	key := randomKey(t)
	bundle := conformantBundle(t)
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestCompression)
	fw.Write(bundle)
	fw.Close()
	shc, _ := share.Encrypt(key, bundle, share.ContentSHC)
	good, _ := share.Encrypt(key, bundle, share.ContentFHIR)
	parts := strings.Split(good, ".")
	ct := []byte(parts[3])
	ct[10] ^= 1
	if ct[10] == '.' || ct[10] == '=' {
		ct[10] = 'A'
	}
	tampered := strings.Join([]string{parts[0], parts[1], parts[2], string(ct), parts[4]}, ".")
	for name, tc := range map[string]struct {
		jwe  string
		key  [32]byte
		want []Rule
	}{
		"compressed":     {sealJWE(t, key, `{"alg":"dir","enc":"A256GCM","cty":"application/fhir+json","zip":"DEF"}`, deflated.Bytes()), key, []Rule{RuleJWEHeader}},
		"no cty":         {sealJWE(t, key, `{"alg":"dir","enc":"A256GCM"}`, bundle), key, []Rule{RuleJWEHeader}},
		"health card":    {shc, key, []Rule{RuleJWEHeader}},
		"tampered":       {tampered, key, []Rule{RuleJWEDecrypt}},
		"another key":    {good, randomKey(t), []Rule{RuleJWEDecrypt}},
		"not a JWE":      {"hello", key, []Rule{RuleJWEDecrypt, RuleJWEHeader}},
		"broken payload": {sealJWE(t, key, `{"alg":"dir","enc":"A256GCM","cty":"application/fhir+json"}`, bundle[:100]), key, []Rule{RuleReadable}},
	} {
		t.Run(name, func(t *testing.T) {
			_, probs := CheckJWE(tc.jwe, tc.key)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(rules(probs), want) {
				t.Errorf("rules %v, want %v: %v", rules(probs), want, probs)
			}
		})
	}
}

func ktcLink(t *testing.T, now time.Time) share.Link {
	key := randomKey(t)
	id := randomKey(t)
	return share.Link{
		URL:   "https://clinic.example.org/shl/" + base64.RawURLEncoding.EncodeToString(id[:]),
		Key:   key,
		Exp:   now.Add(15 * time.Minute),
		Flags: "U",
		Label: "Check-in: Ada Lovelace",
	}
}

func TestKTCLinkRoundTripsThroughShareAndPasses(t *testing.T) {
	now := time.Now()
	l := ktcLink(t, now)
	text, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := share.Parse(text)
	if err != nil {
		t.Fatalf("share does not take a U link: %v", err)
	}
	if probs := CheckLink(parsed, now); len(probs) != 0 {
		t.Errorf("problems: %v", probs)
	}
}

func TestCheckLinkNamesEveryBrokenRule(t *testing.T) {
	now := time.Date(2026, 7, 14, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		change func(l *share.Link)
		want   []Rule
	}{
		{"flag LU", func(l *share.Link) { l.Flags = "LU" }, nil},
		{"flag P", func(l *share.Link) { l.Flags = "P" }, nil},
		{"no flag (a manifest link)", func(l *share.Link) { l.Flags = "" }, nil},
		{"no exp", func(l *share.Link) { l.Exp = time.Time{} }, []Rule{RuleLinkExp}},
		{"expired", func(l *share.Link) { l.Exp = now.Add(-time.Second) }, []Rule{RuleLinkExp}},
		{"exp beyond 48 hours", func(l *share.Link) { l.Exp = now.Add(48*time.Hour + time.Minute) }, []Rule{RuleLinkExp}},
		{"zero key", func(l *share.Link) { l.Key = [32]byte{} }, []Rule{RuleLinkKey}},
		{"plain http", func(l *share.Link) { l.URL = "http" + strings.TrimPrefix(l.URL, "https") }, []Rule{RuleLinkURL}},
		{"url over 128 characters", func(l *share.Link) {
			l.URL = "https://" + strings.Repeat("a", 65) + ".example.org/" + strings.Repeat("Zz", 22)
		}, []Rule{RuleLinkURL}},
		{"guessable path", func(l *share.Link) { l.URL = "https://clinic.example.org/shl/checkin-ada-2026-07-14" }, []Rule{RuleLinkURLEntropy}},
		{"63 hex characters is 252 bits", func(l *share.Link) { l.URL = "https://c.example.org/s/" + strings.Repeat("ab", 31) + "c" }, []Rule{RuleLinkURLEntropy}},
		{"label over 80 characters", func(l *share.Link) { l.Label = strings.Repeat("é", 81) }, []Rule{RuleLinkLabel}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ktcLink(t, now)
			tc.change(&l)
			want := tc.want
			if want == nil {
				want = []Rule{RuleLinkFlag}
			}
			if got := rules(CheckLink(l, now)); !slices.Equal(got, want) {
				t.Errorf("rules %v, want %v", got, want)
			}
		})
	}
	for name, change := range map[string]func(l *share.Link){
		"exp exactly 48 hours":   func(l *share.Link) { l.Exp = now.Add(48 * time.Hour) },
		"64 hex characters":      func(l *share.Link) { l.URL = "https://c.example.org/s/" + strings.Repeat("ab", 32) },
		"80 characters of label": func(l *share.Link) { l.Label = strings.Repeat("é", 80) },
		"url of exactly 128": func(l *share.Link) {
			l.URL = "https://" + strings.Repeat("a", 64) + ".example.org/" + strings.Repeat("Zz", 22)[:43]
		},
		"no label":                    func(l *share.Link) { l.Label = "" },
		"key and path in one segment": func(l *share.Link) { l.URL += "?x=1" },
	} {
		t.Run(name, func(t *testing.T) {
			l := ktcLink(t, now)
			change(&l)
			if probs := CheckLink(l, now); len(probs) != 0 {
				t.Errorf("problems: %v (url %d characters)", probs, len(l.URL))
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(conformantBundle(f))
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","timestamp":"2026-07-14T09:30:00Z","entry":[{"fullUrl":"urn:uuid:3f0e6b7a-1111-4222-8333-944455556666","resource":{"resourceType":"Patient"}}]}`))
	f.Add([]byte(`{"entry":[{"resource":{"resourceType":"DocumentReference","category":[{"coding":[{"system":"` + CategorySystem + `","code":"patient-shared"}]}],"content":[{"attachment":{"data":7}}]}}]}`))
	f.Add([]byte(`{"entry":[{"resource":[[[[[{"subject":{"meta":{"profile":1}}}]]]]]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range Check(data) {
			if p.Rule == "" || p.Detail == "" || p.Entry < 0 {
				t.Fatalf("malformed problem %#v", p)
			}
		}
	})
}
