package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/internal/pdftext"
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
