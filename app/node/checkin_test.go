package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/app/cli"
	"medwallet/internal/pdftext"
	"medwallet/wallet"
	"medwallet/wallet/checkin"
	"medwallet/wallet/fhir"
	"medwallet/wallet/share"
)

const clementeFixture = "synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"

// httpsNode starts a node serving HTTPS on loopback with a test
// certificate, and returns a plain HTTPS client that trusts it.
func httpsNode(t testing.TB, cfg Config) (*Node, *http.Client) {
	t.Helper()
	certFile, keyFile, pool := writeTestCert(t, t.TempDir())
	cfg.HTTPSAddr, cfg.CertFile, cfg.KeyFile = "127.0.0.1:0", certFile, keyFile
	n := startNode(t, cfg)
	return n, trustingClient(pool)
}

func trustingClient(pool *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// getKTC fetches a U link as a KTC receiver does: a plain HTTPS GET of its
// url with a recipient.
func getKTC(t testing.TB, hc *http.Client, rawURL, recipient string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := hc.Get(rawURL + "?recipient=" + url.QueryEscape(recipient))
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

type ktcEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

// ktcPDF returns the inline PDF of the DocumentReference typed loinc.
func ktcPDF(t testing.TB, entries []ktcEntry, loinc string) []byte {
	t.Helper()
	for _, e := range entries {
		var d struct {
			ResourceType string `json:"resourceType"`
			Type         struct {
				Coding []struct{ Code string } `json:"coding"`
			} `json:"type"`
			Content []struct {
				Attachment struct {
					Data string `json:"data"`
				} `json:"attachment"`
			} `json:"content"`
		}
		json.Unmarshal(e.Resource, &d)
		if d.ResourceType != "DocumentReference" || len(d.Type.Coding) == 0 || d.Type.Coding[0].Code != loinc || len(d.Content) != 1 {
			continue
		}
		pdf, err := base64.StdEncoding.DecodeString(d.Content[0].Attachment.Data)
		if err != nil {
			t.Fatal(err)
		}
		return pdf
	}
	t.Fatalf("no DocumentReference typed %s", loinc)
	return nil
}

// TestCheckInOverLibp2pIsFetchedByAPlainHTTPSGetAndPassesEveryKTCRule is the
// check-in end to end: the patient's wallet uploads a check-in to a clinic
// node over libp2p; the link it gets names the node's https URL; a plain
// net/http GET with a recipient (a KTC receiver) fetches the JWE, which
// passes the KTC checker; the QR decodes to the link; the PDF renders every
// resource; the patient sees the recipient in the share's log; revoking it
// ends it.
func TestCheckInOverLibp2pIsFetchedByAPlainHTTPSGetAndPassesEveryKTCRule(t *testing.T) {
	n, hc := httpsNode(t, Config{})
	pt := newPatient(t)
	pt.importFixture(t, clementeFixture)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	card, err := checkin.NewInsuranceCard("Acme Health Plan", "ACM123456789", "GRP-42", "Gold PPO", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.SaveInsuranceCard(pt.s, "", card); err != nil {
		t.Fatalf("save insurance card: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const story = "I get dizzy when I stand up quickly since the new blood pressure pill."
	res, err := app.CheckIn(ctx, pt.s, app.CheckInRequest{Host: n.Addrs()[0], Insurance: true, Story: story})
	if err != nil {
		t.Fatalf("check-in: %v", err)
	}

	// The link: a KTC link naming the node's https URL.
	if !strings.HasPrefix(res.Link, share.SchemeSHL) {
		t.Fatalf("link %.40q…, want shlink:/", res.Link)
	}
	l, err := share.Parse(res.Link)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkin.CheckLink(l, time.Now()) {
		t.Errorf("link: %s", p)
	}
	if !strings.HasPrefix(l.URL, n.HTTPSURL()+"/shl/") || l.P2P != nil {
		t.Errorf("link url %q (p2p %v), want the node's https URL %s and nothing else", l.URL, l.P2P, n.HTTPSURL())
	}
	if d := time.Until(l.Exp); d <= 10*time.Minute || d > app.DefaultCheckInExpiry {
		t.Errorf("expires in %s, want the default %s", d, app.DefaultCheckInExpiry)
	}
	var raw map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(res.Link, share.SchemeSHL))
	if err := json.Unmarshal(payload, &raw); err != nil || raw["flag"] != "U" || raw["exp"] == nil {
		t.Errorf("payload %s: want flag exactly U and exp", payload)
	}
	qr, err := share.DecodeQRBytes(res.QRPNG)
	if err != nil || qr != res.Link {
		t.Errorf("QR decodes to %.40q… (%v), want the link", qr, err)
	}

	// A KTC receiver: a plain HTTPS GET with a recipient.
	code, hdr, body := getKTC(t, hc, l.URL, "Riverside Clinic front desk")
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/jose" || hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET: %d %q, CORS %q", code, hdr.Get("Content-Type"), hdr.Get("Access-Control-Allow-Origin"))
	}
	plain, probs := checkin.CheckJWE(string(body), l.Key)
	for _, p := range probs {
		t.Errorf("file: %s", p)
	}
	var b struct {
		Entry []ktcEntry `json:"entry"`
	}
	if err := json.Unmarshal(plain, &b); err != nil {
		t.Fatal(err)
	}
	if res.Records < 20 || len(b.Entry) < res.Records+3 {
		t.Errorf("%d records shared in %d entries; want Clemente's records, his Patient and both PDFs", res.Records, len(b.Entry))
	}
	got, err := checkin.Read(plain)
	if err != nil {
		t.Fatal(err)
	}
	coverage := 0
	for _, e := range got.Resources {
		if bytes.Contains(e.Resource, []byte(`"resourceType":"Coverage"`)) && bytes.Contains(e.Resource, []byte("ACM123456789")) {
			coverage++
		}
	}
	if coverage != 1 || len(got.Rendered) != 1 || len(got.Stories) != 1 {
		t.Errorf("read back: %d Coverage with the card's member ID, %d rendered and %d story PDFs; want one of each", coverage, len(got.Rendered), len(got.Stories))
	}
	provenances := 0
	text := pdftext.Collapsed(t, ktcPDF(t, b.Entry, checkin.LOINCRenderedPDF))
	for i, e := range b.Entry {
		s, err := fhir.Summarize(e.Resource)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		switch s.ResourceType {
		case "Patient":
			continue // its name heads the page
		case "DocumentReference":
			if bytes.Contains(e.Resource, []byte(checkin.CategoryCode)) {
				continue // the PDFs themselves
			}
		case "Provenance":
			provenances++
		}
		if want := pdftext.Collapse(s.Title); s.Title != "" && !strings.Contains(text, want) {
			t.Errorf("the rendered PDF lacks entry %d's title %q", i, s.Title)
		}
	}
	if provenances == 0 {
		t.Error("no Provenance carries the records' log proofs")
	}
	if st := pdftext.Collapsed(t, ktcPDF(t, b.Entry, checkin.LOINCStoryPDF)); !strings.Contains(st, pdftext.Collapse(story)) {
		t.Errorf("the story PDF lacks the story: %.200q", st)
	}

	// The patient's own view of the share.
	shares, err := app.ListShares(pt.s)
	if err != nil || len(shares) != 1 || shares[0].ID != res.ID || shares[0].Status != app.ShareActive {
		t.Fatalf("share list %+v (%v)", shares, err)
	}
	log, err := app.ShareLog(ctx, pt.s, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, e := range log.Entries {
		seen = seen || (e.Recipient == "Riverside Clinic front desk" && e.Outcome == share.OutcomeOK && !e.Time.IsZero())
	}
	if !seen || len(log.Unreachable) > 0 {
		t.Errorf("share log %+v, want the clinic's fetch", log)
	}
	if err := app.RevokeShare(ctx, pt.s, res.ID); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := getKTC(t, hc, l.URL, "Riverside Clinic front desk"); code != http.StatusNotFound {
		t.Errorf("GET after revoke: %d, want 404", code)
	}
}

func TestCheckInOnANodeWithoutHTTPSIsRefusedAndLeavesNothingBehind(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	pt.importFixture(t, clementeFixture)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := app.CheckIn(ctx, pt.s, app.CheckInRequest{Host: n.Addrs()[0]})
	if !errors.Is(err, app.ErrCheckInNeedsHTTPS) {
		t.Fatalf("check-in on a libp2p-only node: %v, want ErrCheckInNeedsHTTPS", err)
	}
	if list, _ := app.ListShares(pt.s); len(list) != 0 {
		t.Errorf("the refused check-in stays in the wallet: %+v", list)
	}
	hosted, _ := n.Shares.List()
	for _, sh := range hosted {
		if !sh.Revoked {
			t.Errorf("the node still serves the refused check-in %.8s…", sh.ID)
		}
	}
}

func TestDefaultNodeHostsAPrintedCheckInOf48Hours(t *testing.T) {
	n, hc := httpsNode(t, Config{})
	pt := newPatient(t)
	pt.importFixture(t, clementeFixture)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := app.CheckIn(ctx, pt.s, app.CheckInRequest{Host: n.Addrs()[0], Expires: app.MaxCheckInExpiry, Label: "Printed for Dr Osei"})
	if err != nil {
		t.Fatalf("48-hour check-in on a node with default limits: %v", err)
	}
	l, _ := share.Parse(res.Link)
	for _, p := range checkin.CheckLink(l, time.Now()) {
		t.Errorf("link: %s", p)
	}
	if l.Label != "Printed for Dr Osei" || time.Until(l.Exp) < 47*time.Hour {
		t.Errorf("label %q, expires in %s", l.Label, time.Until(l.Exp))
	}
	if code, _, _ := getKTC(t, hc, l.URL, "Dr Osei"); code != http.StatusOK {
		t.Errorf("GET: %d", code)
	}
}

// TestNodeAnswersKTCClientsOverHTTPSWithoutLeakingOrForging holds the
// node's HTTPS service (its request guard and log around the share server)
// to what a browser-based receiver and an attacker with the URL send.
func TestNodeAnswersKTCClientsOverHTTPSWithoutLeakingOrForging(t *testing.T) {
	logs := &logBuffer{}
	n, hc := httpsNode(t, Config{Logger: testLogger(t, logs)})
	pt := newPatient(t)
	pt.importFixture(t, clementeFixture)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := app.CheckIn(ctx, pt.s, app.CheckInRequest{Host: n.Addrs()[0]})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := share.Parse(res.Link)
	do := func(method, rawURL string, h http.Header) *http.Response {
		req, _ := http.NewRequest(method, rawURL, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	pre := do(http.MethodOptions, l.URL, http.Header{"Origin": {"https://ehr.example"}, "Access-Control-Request-Method": {"GET"}})
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight through the node: %d %v", pre.StatusCode, pre.Header)
	}
	if r := do(http.MethodHead, l.URL+"?recipient=x", nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD: %d, want 405", r.StatusCode)
	}
	unknown, _ := share.NewID()
	miss := do(http.MethodGet, n.HTTPSURL()+"/shl/"+unknown+"?recipient=x", nil)
	if miss.StatusCode != http.StatusNotFound || miss.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET of an unknown share: %d, CORS %q", miss.StatusCode, miss.Header.Get("Access-Control-Allow-Origin"))
	}
	if r := do(http.MethodGet, l.URL+"?recipient="+strings.Repeat("A", 600), nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a 600-byte recipient: %d, want 400", r.StatusCode)
	}
	forged := "Dr Evil\n" + `time=2026-07-14T09:00:00Z level=INFO msg="share opened" recipient="Riverside Clinic"`
	if code, _, _ := getKTC(t, hc, l.URL, forged); code != http.StatusOK {
		t.Fatalf("GET: %d", code)
	}
	log, err := app.ShareLog(ctx, pt.s, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log.Entries {
		if strings.ContainsAny(e.Recipient, "\r\n") {
			t.Errorf("the patient's log shows a recipient with a line break: %q", e.Recipient)
		}
	}
	if len(log.Entries) != 1 || !strings.HasPrefix(log.Entries[0].Recipient, "Dr Evil") {
		t.Errorf("share log %+v, want the one fetch (HEAD, preflight and refusals are not accesses)", log.Entries)
	}
	if strings.Contains(logs.String(), "Dr Evil") || strings.Contains(logs.String(), "recipient=") {
		t.Error("the node's own log holds the recipient; it belongs in the share's access log only")
	}
}

// TestCheckInFromTheCommandLine: the insurance card entered once, then
// 'share create --checkin' prints one shlink:/ line and writes its QR code,
// a KTC receiver fetches it, and 'share log' shows the receiver.
func TestCheckInFromTheCommandLine(t *testing.T) {
	n, hc := httpsNode(t, Config{})
	dir := filepath.Join(t.TempDir(), "wallet")
	const pass = "correct horse battery staple"
	w, _, err := wallet.Create(dir, []byte(pass), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	s := app.NewSession(w)
	s.SetIdle(0)
	t.Cleanup(s.Lock)
	p, err := app.StartPeer(s, app.PeerOptions{ListenAddrs: []string{loopbackTCP}})
	if err != nil {
		t.Fatal(err)
	}
	pt := &patient{s: s, p: p}
	pt.importFixture(t, clementeFixture)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := cli.ServeControl(ctx, s); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		e := cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Cwd: t.TempDir(),
			Getenv: func(k string) string {
				if k == "MEDWALLET_PASSPHRASE" {
					return pass
				}
				return ""
			}}
		code := cli.Run(context.Background(), e, append([]string{"--wallet", dir}, args...))
		return out.String(), errb.String(), code
	}

	if _, errs, code := run("insurance", "show"); code == 0 || !strings.Contains(errs, "insurance set") {
		t.Errorf("insurance show before any card: %d %s", code, errs)
	}
	if _, errs, code := run("insurance", "set", "--payer", "Acme Health Plan", "--member-id", "ACM123456789", "--group", "GRP-42"); code != 0 {
		t.Fatalf("insurance set: %d %s", code, errs)
	}
	out, errs, code := run("insurance", "show", "--json")
	var card struct{ Payer, MemberID string }
	if json.Unmarshal([]byte(out), &card); code != 0 || card.Payer != "Acme Health Plan" || card.MemberID != "ACM123456789" {
		t.Fatalf("insurance show --json: %d %s %s", code, out, errs)
	}

	passcode := filepath.Join(t.TempDir(), "passcode")
	os.WriteFile(passcode, []byte("1234\n"), 0o600)
	if _, errs, code := run("share", "create", "--checkin", "--host", n.Addrs()[0], "--passcode-file", passcode); code == 0 || !strings.Contains(errs, "passcode") {
		t.Errorf("check-in with a passcode: %d %s", code, errs)
	}
	if _, errs, code := run("share", "create", "--checkin", "--host", n.Addrs()[0], "--expires", "3d"); code == 0 || !strings.Contains(errs, "48 hours") {
		t.Errorf("check-in for 3 days: %d %s", code, errs)
	}
	story := filepath.Join(t.TempDir(), "story.txt")
	os.WriteFile(story, []byte("Please ask me about my knee before the flu shot."), 0o600)
	qr := filepath.Join(t.TempDir(), "checkin.png")
	out, errs, code = run("share", "create", "--checkin", "--host", n.Addrs()[0], "--insurance", "--story", story, "--expires", "30m", "--qr", qr)
	if code != 0 {
		t.Fatalf("share create --checkin: %d %s", code, errs)
	}
	link := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(link, share.SchemeSHL) {
		t.Fatalf("printed %q, want one shlink:/ line", out)
	}
	if text, err := share.DecodeQRFile(qr); err != nil || text != link {
		t.Errorf("QR file decodes to %.40q (%v)", text, err)
	}
	l, err := share.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if probs := checkin.CheckLink(l, time.Now()); len(probs) > 0 || time.Until(l.Exp) > 30*time.Minute {
		t.Errorf("link problems %v, expires in %s", probs, time.Until(l.Exp))
	}
	code2, _, body := getKTC(t, hc, l.URL, "Lakeside Family Practice")
	if code2 != http.StatusOK {
		t.Fatalf("GET: %d", code2)
	}
	plain, probs := checkin.CheckJWE(string(body), l.Key)
	if len(probs) > 0 || !bytes.Contains(plain, []byte("ACM123456789")) {
		t.Errorf("file problems %v; card included: %v", probs, bytes.Contains(plain, []byte("ACM123456789")))
	}
	list, _ := app.ListShares(s)
	if len(list) != 1 {
		t.Fatalf("shares %+v", list)
	}
	out, errs, code = run("share", "log", list[0].ID)
	if code != 0 || !strings.Contains(out, "Lakeside Family Practice") {
		t.Errorf("share log: %d %s\n%s", code, errs, out)
	}
	if _, errs, code := run("share", "create", "--host", n.Addrs()[0], "--insurance"); code == 0 || !strings.Contains(errs, "--checkin") {
		t.Errorf("--insurance without --checkin: %d %s", code, errs)
	}
}

// TestShareHostedOverLibp2pOnAnHTTPSNodeGetsAnHTTPSLink: an ordinary share
// uploaded over libp2p to a node that serves HTTPS is a shlink:/ link of
// the node's https URL that a plain SHL client opens, and still names the
// node's peer, so Medwallet redeems it over libp2p.
func TestShareHostedOverLibp2pOnAnHTTPSNodeGetsAnHTTPSLink(t *testing.T) {
	n, hc := httpsNode(t, Config{})
	pt := newPatient(t)
	pt.importFixture(t, clementeFixture)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := app.CreateShare(ctx, pt.s, app.ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, Host: n.Addrs()[0], Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l, err := share.Parse(res.Link)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Link, share.SchemeSHL) || !strings.HasPrefix(l.URL, n.HTTPSURL()+"/shl/") || l.P2P == nil || l.P2P.Peer != n.ID().String() {
		t.Fatalf("link %+v, want a shlink:/ of %s naming peer %s", l, n.HTTPSURL(), n.ID())
	}
	files, err := share.Fetch(ctx, hc, l, "Dr Plain SHL", "", share.Limits{})
	if err != nil || len(files) != 1 || !bytes.Contains(files[0].Plaintext, []byte(`"Condition"`)) {
		t.Fatalf("a plain SHL client over HTTPS: %v", err)
	}
	clinician := newPatient(t)
	rcv, err := app.Redeem(ctx, clinician.s, res.Link, "", "Dr Medwallet")
	if err != nil {
		t.Fatalf("Medwallet's redeem: %v", err)
	}
	if len(rcv.Records) == 0 || !strings.Contains(rcv.From, n.ID().String()) {
		t.Errorf("redeemed %d records from %q, want them over libp2p from the node", len(rcv.Records), rcv.From)
	}
}
