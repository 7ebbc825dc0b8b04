package share

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// getDirect sends method to share id's URL with the given raw query.
func getDirect(t *testing.T, h *harness, method, id, rawQuery string, header http.Header) response {
	t.Helper()
	u := h.srv.ManifestURL(h.ts.URL, id)
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

func recipientQuery(r string) string { return "recipient=" + url.QueryEscape(r) }

func TestDirectGetServesTheJWEWithCORS(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{Direct: true, Exp: h.clock.Now().Add(15 * time.Minute)}, `{"resourceType":"Bundle"}`)
	got := getDirect(t, h, http.MethodGet, sh.ID, recipientQuery("Riverside Clinic front desk"), nil)
	jwe, _ := h.reg.File(sh.ID, 0)
	if got.StatusCode != http.StatusOK || got.body != string(jwe) {
		t.Fatalf("GET: %d %.40q", got.StatusCode, got.body)
	}
	if ct, cc := got.header.Get("Content-Type"), got.header.Get("Cache-Control"); ct != "application/jose" || cc != "no-store" {
		t.Errorf("content type %q, cache control %q", ct, cc)
	}
	if o := got.header.Get("Access-Control-Allow-Origin"); o != "*" {
		t.Errorf("Access-Control-Allow-Origin %q, want * so a browser-based EHR can fetch it", o)
	}
	log := waitLog(t, h.reg, sh.ID, 1)
	if len(log) != 1 || log[0].Recipient != "Riverside Clinic front desk" || log[0].Outcome != OutcomeOK || log[0].Time.IsZero() {
		t.Errorf("access log %+v", log)
	}
}

func TestDirectGetRecipientCannotInjectIntoTheAccessLog(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{Direct: true}, `{"resourceType":"Bundle"}`)
	hostile := "Dr Evil\r\n2026-07-14 09:00 Riverside Clinic OK\x1b[2K\x00\u202egnp.exe\u200b"
	if got := getDirect(t, h, http.MethodGet, sh.ID, recipientQuery(hostile), nil); got.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d", got.StatusCode)
	}
	log := waitLog(t, h.reg, sh.ID, 1)
	if len(log) != 1 {
		t.Fatalf("log %+v", log)
	}
	for _, r := range log[0].Recipient {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("logged recipient %q keeps %U, which can forge lines or reorder text where the patient reads it", log[0].Recipient, r)
		}
	}
	if !strings.HasPrefix(log[0].Recipient, "Dr Evil") {
		t.Errorf("logged recipient %q lost its text", log[0].Recipient)
	}
}

func TestDirectGetWithAHugeOrMissingRecipientIsRefusedUnlogged(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{Direct: true}, `{"resourceType":"Bundle"}`)
	unknown, _ := NewID()
	for name, q := range map[string]string{
		"missing":   "",
		"empty":     "recipient=",
		"huge":      recipientQuery(strings.Repeat("A", maxRecipient+1)),
		"other key": "Recipient=x",
	} {
		live := getDirect(t, h, http.MethodGet, sh.ID, q, nil)
		guess := getDirect(t, h, http.MethodGet, unknown, q, nil)
		if live.StatusCode != http.StatusBadRequest || live.body != guess.body || guess.StatusCode != live.StatusCode {
			t.Errorf("%s recipient: live share %d %q, unknown share %d %q; want the same 400 for both", name, live.StatusCode, live.body, guess.StatusCode, guess.body)
		}
		if live.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s recipient: the 400 has no CORS header, so a browser client cannot read why", name)
		}
	}
	if log, _ := h.reg.AccessLog(sh.ID); len(log) != 0 {
		t.Errorf("refused requests were logged as accesses: %+v", log)
	}
}

func TestDirectGetOfAPasscodeOrManifestShareIsTheUniform404(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	p, _ := h.addShare(t, Options{Passcode: "1234"}, `{"resourceType":"Bundle"}`)
	m, _ := h.addShare(t, Options{}, `{"resourceType":"Bundle"}`)
	unknown, _ := NewID()
	want := getDirect(t, h, http.MethodGet, unknown, recipientQuery("x"), nil)
	for name, id := range map[string]string{"passcode": p.ID, "manifest": m.ID} {
		got := getDirect(t, h, http.MethodGet, id, recipientQuery("x"), nil)
		if got.StatusCode != http.StatusNotFound || got.body != want.body || got.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET of a %s share: %d %q, want the 404 of an unknown share", name, got.StatusCode, got.body)
		}
	}
	if p2, _ := h.reg.Get(p.ID); p2.AttemptsLeft != DefaultMaxAttempts {
		t.Errorf("a GET cost the passcode share an attempt: %d left", p2.AttemptsLeft)
	}
}

func TestDirectGetAfterExpiryOrRevocationIsTheUniform404(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	exp, _ := h.addShare(t, Options{Direct: true, Exp: h.clock.Now().Add(15 * time.Minute)}, `{"resourceType":"Bundle"}`)
	rev, _ := h.addShare(t, Options{Direct: true, Exp: h.clock.Now().Add(48 * time.Hour)}, `{"resourceType":"Bundle"}`)
	if err := h.reg.Revoke(rev.ID); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(16 * time.Minute)
	unknown, _ := NewID()
	want := getDirect(t, h, http.MethodGet, unknown, recipientQuery("x"), nil)
	for name, id := range map[string]string{"expired": exp.ID, "revoked": rev.ID} {
		got := getDirect(t, h, http.MethodGet, id, recipientQuery("Dr Late"), nil)
		if got.StatusCode != http.StatusNotFound || got.body != want.body || got.header.Get("Content-Length") != want.header.Get("Content-Length") {
			t.Errorf("GET of a %s share: %d %q, want the 404 of an unknown share", name, got.StatusCode, got.body)
		}
	}
	log := waitLog(t, h.reg, exp.ID, 1)
	if outcomes(log) != OutcomeExpired || log[0].Recipient != "Dr Late" {
		t.Errorf("the late attempt is the patient's to see: %+v", log)
	}
}

func TestHeadAndPostOnADirectShareServeNothing(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{Direct: true}, `{"resourceType":"Bundle"}`)
	head := getDirect(t, h, http.MethodHead, sh.ID, recipientQuery("x"), nil)
	if head.StatusCode != http.StatusMethodNotAllowed || head.header.Get("Allow") == "" {
		t.Errorf("HEAD: %d (Allow %q), want 405: a HEAD would count as an access that delivered nothing", head.StatusCode, head.header.Get("Allow"))
	}
	unknown, _ := NewID()
	want := postManifest(t, h, unknown, `{"recipient":"x"}`)
	got := postManifest(t, h, sh.ID, `{"recipient":"x"}`)
	if got.StatusCode != http.StatusNotFound || got.body != want.body {
		t.Errorf("manifest POST on a U share: %d %.60q, want the 404 of an unknown share (a U share has no manifest)", got.StatusCode, got.body)
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if r := getDirect(t, h, m, sh.ID, recipientQuery("x"), nil); r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, r.StatusCode)
		}
	}
	if log, _ := h.reg.AccessLog(sh.ID); len(log) != 0 {
		t.Errorf("requests that served nothing were logged as accesses: %+v", log)
	}
}

func TestCORSPreflightIsAnsweredAlikeForEveryShareID(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{Direct: true}, `{"resourceType":"Bundle"}`)
	unknown, _ := NewID()
	pre := http.Header{"Origin": {"https://ehr.example"}, "Access-Control-Request-Method": {"GET"}}
	live := getDirect(t, h, http.MethodOptions, sh.ID, "", pre)
	guess := getDirect(t, h, http.MethodOptions, unknown, "", pre)
	if live.StatusCode != http.StatusNoContent || live.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(live.header.Get("Access-Control-Allow-Methods"), "GET") ||
		!strings.Contains(live.header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Fatalf("preflight: %d %v", live.StatusCode, live.header)
	}
	if guess.StatusCode != live.StatusCode || guess.header.Get("Access-Control-Allow-Methods") != live.header.Get("Access-Control-Allow-Methods") {
		t.Errorf("the preflight of an unknown ID differs (%d) from a live one's (%d)", guess.StatusCode, live.StatusCode)
	}
	if log, _ := h.reg.AccessLog(sh.ID); len(log) != 0 {
		t.Errorf("a preflight was logged as an access: %+v", log)
	}
}

// FuzzLoggedRequesterIsSafeToShow: whatever a requester sends as its
// recipient, the log keeps valid UTF-8 without control or format
// characters, within maxLogField bytes.
func FuzzLoggedRequesterIsSafeToShow(f *testing.F) {
	for _, s := range []string{"Riverside Clinic", "Dr\r\nEvil", "\x1b[2J", "\u202egnp", "\xff\xfe", strings.Repeat("é", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := clip(s)
		if len(got) > maxLogField || !utf8.ValidString(got) {
			t.Fatalf("clip(%q) = %q: %d bytes, valid %v", s, got, len(got), utf8.ValidString(got))
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("clip(%q) keeps %U", s, r)
			}
		}
	})
}
