package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
)

const fixtures = "../../shared/fixtures"

var (
	testKDF       = keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}
	cheapPasscode = share.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	// tlsTransport trusts httptest's TLS servers (they all share one certificate).
	tlsTransport http.RoundTripper
)

func TestMain(m *testing.M) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	tlsTransport = srv.Client().Transport
	srv.Close()
	webClient = func() *http.Client {
		c := WebClient()
		c.Transport = tlsTransport
		return c
	}
	code := m.Run()
	if benchCorpus.dir != "" {
		os.RemoveAll(benchCorpus.dir)
	}
	os.Exit(code)
}

func newSession(t testing.TB, name string) *Session {
	t.Helper()
	w, _, err := wallet.Create(filepath.Join(t.TempDir(), name), []byte("pass phrase"), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(w)
	s.SetIdle(0)
	t.Cleanup(s.Lock)
	return s
}

func startPeer(t testing.TB, s *Session) *Peer {
	t.Helper()
	p, err := StartPeer(s, PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func importFixture(t testing.TB, s *Session, rel string) {
	t.Helper()
	if _, err := s.Wallet.Import(context.Background(), filepath.Base(filepath.Join(fixtures, rel)), readImportFile(t, filepath.Join(fixtures, rel)), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
}

const clemente = "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"

// clementePatient is the id of the Patient in the clemente fixture.
const clementePatient = "d78af07c-9cb9-4f31-9b11-c45a28f2eec8"

// newWitness runs a C2SP witness on an httptest TLS server.
func newWitness(t testing.TB) *httptest.Server {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ws, err := witness.New(kv.Memory(), key, "witness.clinic.test", witness.EnrollOpen)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(ws)
	t.Cleanup(srv.Close)
	return srv
}

func enroll(t testing.TB, s *Session, srv *httptest.Server) {
	t.Helper()
	if _, err := s.Wallet.Enroll(context.Background(), s.httpClient(), srv.URL, "test"); err != nil {
		t.Fatal(err)
	}
}

// addDocument stores a record with an attached file of n random bytes.
func addDocument(t testing.TB, s *Session, n int) (wallet.Record, []byte) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	copy(data, "%PDF-1.7\n")
	w := s.Wallet
	att, err := w.WriteAttachment("scan.pdf", export.TypePDF, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := export.Document(att.Name, att.ContentType, att.Size, att.SHA256, "Discharge letter", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := w.AddWithAttachments(doc, wallet.Source{Type: wallet.SourceImport, Name: "scan.pdf"}, []wallet.Attachment{att})
	if err != nil {
		t.Fatal(err)
	}
	return rec, data
}

func kindIDs(s *Session, kinds ...fhir.Kind) []string {
	var ids []string
	for _, e := range s.Wallet.Search(wallet.Query{Kinds: kinds}) {
		ids = append(ids, e.ID)
	}
	return ids
}

// received maps "Type/id" of each received record to it.
func receivedByIdentity(t testing.TB, s *Session, rcv *Received) map[string]wallet.Record {
	t.Helper()
	out := map[string]wallet.Record{}
	for _, rr := range rcv.Records {
		r, err := s.Wallet.Get(rr.RecordID)
		if err != nil {
			t.Fatalf("received record %s: %v", rr.RecordID, err)
		}
		out[r.Summary.ResourceType+"/"+r.Summary.ResourceID] = r
	}
	return out
}

func statusOf(rcv *Received, recordID string) ledger.Status {
	for _, rr := range rcv.Records {
		if rr.RecordID == recordID {
			return rr.Verification.Status
		}
	}
	return -1
}

func TestShareOverQRAndRedeemPeerToPeerIsWitnessedAndByteExact(t *testing.T) {
	ctx := context.Background()
	wit := newWitness(t)
	patient := newSession(t, "patient")
	importFixture(t, patient, clemente)
	doc, pdf := addDocument(t, patient, 200<<10)
	enroll(t, patient, wit)
	startPeer(t, patient)

	clinician := newSession(t, "clinician")
	enroll(t, clinician, wit) // the clinician trusts the same witness
	cp := startPeer(t, clinician)

	ids := append(kindIDs(patient, fhir.KindImmunization, fhir.KindAllergy, fhir.KindCondition), doc.ID)
	res, err := CreateShare(ctx, patient, ShareRequest{IDs: ids, Label: "For Dr. Rivera", Passcode: "1234", PasscodeKDF: cheapPasscode})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Link, share.SchemeMedwallet) || !res.PeerToPeer || res.Files != 1 || res.Records != len(ids) {
		t.Fatalf("result %+v", res)
	}
	if res.QRVersion > 15 || !share.FitsVersion15(res.Link) {
		t.Errorf("QR version %d, want at most 15", res.QRVersion)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	png := filepath.Join(t.TempDir(), "share.png")
	if err := os.WriteFile(png, res.QRPNG, 0o600); err != nil {
		t.Fatal(err)
	}
	scanned, err := share.DecodeQRFile(png)
	if err != nil || scanned != res.Link {
		t.Fatalf("QR decodes to %q (%v), want the link", scanned, err)
	}

	rcv, err := Redeem(ctx, clinician, scanned, "1234", "Dr. Rivera")
	if err != nil {
		t.Fatal(err)
	}
	if rcv.Label != "For Dr. Rivera" || rcv.From != "peer "+patient.Peer().Host.ID().String() || rcv.Origin != patient.Wallet.Log().Origin() {
		t.Errorf("received %q from %q origin %q", rcv.Label, rcv.From, rcv.Origin)
	}
	got := receivedByIdentity(t, clinician, rcv)
	sent, _ := patient.Wallet.Records(ids)
	if len(rcv.Records) != len(ids)+1 { // the records and the attached file
		t.Errorf("%d records received, want %d and one file", len(rcv.Records), len(ids))
	}
	for _, r := range sent {
		g, ok := got[r.Summary.ResourceType+"/"+r.Summary.ResourceID]
		if !ok {
			t.Errorf("record %s (%s) did not arrive", r.ID, r.Summary.Title)
			continue
		}
		if !bytes.Equal(g.Resource, r.Resource) {
			t.Errorf("record %s arrived with other bytes", r.ID)
		}
		if st := statusOf(rcv, g.ID); st != ledger.Witnessed {
			t.Errorf("record %s: %v, want witnessed", r.ID, st)
		}
		if g.Source.Type != wallet.SourceShare || g.Source.Name != "For Dr. Rivera" {
			t.Errorf("record %s source %+v", g.ID, g.Source)
		}
	}
	// The attached file arrives whole, tied to its record, as witnessed as it.
	var binary *ReceivedRecord
	for i := range rcv.Records {
		if rcv.Records[i].Summary.ResourceType == "Binary" {
			binary = &rcv.Records[i]
		}
	}
	if binary == nil {
		t.Fatal("the attached file did not arrive")
	}
	docID := got["DocumentReference/"+doc.Summary.ResourceID].ID
	if binary.AttachmentOf != docID || binary.Verification.Status != ledger.Witnessed {
		t.Errorf("file: attachment of %q (want %q), %v", binary.AttachmentOf, docID, binary.Verification.Status)
	}
	br, _ := clinician.Wallet.Get(binary.RecordID)
	var b struct{ Data string }
	json.Unmarshal(br.Resource, &b)
	if data, _ := base64.StdEncoding.DecodeString(b.Data); !bytes.Equal(data, pdf) {
		t.Error("the attached file's bytes differ")
	}

	// The badge verdicts are kept.
	chk, err := ReceivedCheck(clinician, docID)
	if err != nil || chk.Verification.Status != ledger.Witnessed || chk.Share != rcv.ID {
		t.Errorf("kept verdict %+v, %v", chk, err)
	}
	if _, err := ReceivedCheck(clinician, "aaaaaaaaaaaaaaaa"); !errors.Is(err, ErrNotReceived) {
		t.Errorf("unknown record: %v", err)
	}
	list, _ := ListReceived(clinician)
	if len(list) != 1 || list[0].ID != rcv.ID || len(list[0].Records) != len(rcv.Records) {
		t.Errorf("received list %+v", list)
	}

	// The patient sees who opened it: the clinician's peer ID.
	lg, err := ShareLog(ctx, patient, res.ID)
	if err != nil || len(lg.Entries) != 1 {
		t.Fatalf("log %+v %v", lg, err)
	}
	if e := lg.Entries[0]; e.Requester != "peer "+cp.Host.ID().String() || e.Recipient != "Dr. Rivera" || e.Outcome != share.OutcomeOK {
		t.Errorf("log entry %+v", e)
	}
	shares, _ := ListShares(patient)
	if len(shares) != 1 || shares[0].Status != ShareActive || shares[0].Accesses != 1 || shares[0].Records != len(ids) || !shares[0].Passcode {
		t.Errorf("shares %+v", shares)
	}

	// A clinician whose wallet trusts no witness sees the patient's signature only.
	other := newSession(t, "other")
	startPeer(t, other)
	rcv2, err := Redeem(ctx, other, res.Link, "1234", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rcv2.Records {
		if rr.Verification.Status != ledger.SignedOnly {
			t.Errorf("%s: %v, want signed by the patient only", rr.Summary.Title, rr.Verification.Status)
		}
	}

	// Redeeming again changes no record and keeps the same verdicts.
	again, err := Redeem(ctx, clinician, res.Link, "1234", "Dr. Rivera")
	if err != nil || len(again.Records) != len(rcv.Records) {
		t.Fatalf("second redeem: %v, %d records", err, len(again.Records))
	}
	for _, rr := range again.Records {
		if statusOf(rcv, rr.RecordID) != rr.Verification.Status {
			t.Errorf("record %s matched differently the second time", rr.RecordID)
		}
	}

	// The saved bundle verifies offline, and an altered copy does not.
	file := filepath.Join(t.TempDir(), "received.json")
	os.WriteFile(file, rcv.Bundle, 0o600)
	fv, err := VerifyFile(clinician, file)
	if err != nil || fv.Proofs != len(ids) || len(fv.Records) != len(ids)+1 {
		t.Fatalf("verify file: %v %+v", err, fv)
	}
	for _, r := range fv.Records {
		if r.Verification.Status != ledger.Witnessed {
			t.Errorf("verify file: %s %v %s", r.Where, r.Verification.Status, r.Verification.Reason)
		}
	}
	altered := bytes.Replace(rcv.Bundle, []byte(`"resourceType":"Condition",`), []byte(`"resourceType":"Condition","note":[{"text":"x"}],`), 1)
	os.WriteFile(file, altered, 0o600)
	fv, _ = VerifyFile(nil, file)
	tampered := 0
	for _, r := range fv.Records {
		if r.Verification.Status == ledger.Tampered {
			tampered++
		}
	}
	if tampered != 1 {
		t.Errorf("altered file: %d records tampered, want 1", tampered)
	}
}

func TestWrongPasscodeLocksTheShareAfterFiveTries(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient")
	importFixture(t, patient, clemente)
	startPeer(t, patient)
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)
	res, err := CreateShare(ctx, patient, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, Passcode: "right", PasscodeKDF: cheapPasscode})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Redeem(ctx, clinician, res.Link, "", "x"); !errors.Is(err, share.ErrPasscodeRequired) {
		t.Errorf("no passcode: %v", err)
	}
	for want := 4; want >= 0; want-- {
		_, err := Redeem(ctx, clinician, res.Link, "wrong", "guesser")
		var pe *share.ErrPasscode
		if !errors.As(err, &pe) || pe.Remaining != want {
			t.Fatalf("wrong passcode: %v, want %d attempts left", err, want)
		}
	}
	if _, err := Redeem(ctx, clinician, res.Link, "right", "x"); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("right passcode after lockout: %v, want not found", err)
	}
	shares, _ := ListShares(patient)
	if shares[0].Status != ShareLockedOut || shares[0].AttemptsLeft != 0 {
		t.Errorf("share %+v", shares[0])
	}
	lg, _ := ShareLog(ctx, patient, res.ID)
	wrong := 0
	for _, e := range lg.Entries {
		if e.Outcome == share.OutcomeWrongPasscode {
			wrong += e.Count // repeated failures are one entry with a count
			if e.Requester != "peer "+clinician.Peer().Host.ID().String() {
				t.Errorf("requester %q", e.Requester)
			}
		}
	}
	if wrong != 5 {
		t.Errorf("%d wrong passcodes logged, want 5", wrong)
	}
}

func TestRedeemExpiredShareIsRefused(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient")
	importFixture(t, patient, clemente)
	startPeer(t, patient)
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)
	res, err := CreateShare(ctx, patient, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, Expires: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if _, err := Redeem(ctx, clinician, res.Link, "", "x"); !errors.Is(err, share.ErrExpired) {
		t.Errorf("expired link: %v", err)
	}
	// A client that ignores the link's exp is refused by the server.
	l, _ := share.Parse(res.Link)
	l.Exp = time.Time{}
	text, _ := l.Encode()
	if _, err := Redeem(ctx, clinician, text, "", "x"); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("expired share: %v", err)
	}
	shares, _ := ListShares(patient)
	if shares[0].Status != ShareExpired {
		t.Errorf("status %q", shares[0].Status)
	}
	// The server logs a refusal after answering it, so wait for the entry.
	var lg ShareAccessLog
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if lg, _ = ShareLog(ctx, patient, res.ID); len(lg.Entries) > 0 {
			break
		}
	}
	if len(lg.Entries) != 1 || lg.Entries[0].Outcome != share.OutcomeExpired {
		t.Errorf("log %+v", lg.Entries)
	}
}

func TestGuessedManifestIDGets404(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient")
	importFixture(t, patient, clemente)
	pp := startPeer(t, patient)
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)
	if _, err := CreateShare(ctx, patient, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}}); err != nil {
		t.Fatal(err)
	}
	id, _ := share.NewID()
	var key [32]byte
	rand.Read(key[:])
	l := share.Link{URL: p2pHost + "/shl/" + id, Key: key, P2P: &share.P2P{Peer: pp.Host.ID().String(), Addrs: linkAddrs(pp.Addrs(), pp.Host.ID().String())}}
	text, _ := l.Encode()
	if _, err := Redeem(ctx, clinician, text, "", "x"); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("guessed ID: %v, want not found", err)
	}
}

func TestTamperedRecordArrivesMarkedTampered(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient")
	importFixture(t, patient, clemente)
	pp := startPeer(t, patient)
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)
	ids := kindIDs(patient, fhir.KindImmunization)
	res, err := CreateShare(ctx, patient, ShareRequest{IDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	// Someone holding the key alters one record in the served ciphertext.
	victim, _ := patient.Wallet.Get(ids[0])
	alterServedRecord(t, pp, res.ID, victim)
	rcv, err := Redeem(ctx, clinician, res.Link, "", "x")
	if err != nil {
		t.Fatal(err)
	}
	tampered := 0
	for _, rr := range rcv.Records {
		switch rr.Verification.Status {
		case ledger.Tampered:
			tampered++
			if rr.Summary.ResourceID != victim.Summary.ResourceID {
				t.Errorf("record %s marked tampered", rr.Summary.ResourceID)
			}
		case ledger.SignedOnly:
		default:
			t.Errorf("%s: %v", rr.Summary.ResourceID, rr.Verification.Status)
		}
	}
	if tampered != 1 || len(rcv.Records) != len(ids) {
		t.Errorf("%d of %d records tampered, want 1 of %d", tampered, len(rcv.Records), len(ids))
	}
}

// clinicHosting is a clinic node's hosting policy for tests: it hosts for
// the logs it follows (follow), for uploads addressed to audience(r).
func clinicHosting(t testing.TB, audience func(*http.Request) string, follows ...*Session) *share.HostingPolicy {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	w, err := witness.New(kv.Memory(), key, "clinic.test/witness", witness.EnrollOpen)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range follows {
		l := s.Wallet.Log()
		if _, err := w.Enroll(ledger.EnrollRequest{Origin: l.Origin(), VKey: l.VerifierKey()}); err != nil {
			t.Fatal(err)
		}
	}
	return &share.HostingPolicy{LogKeys: w.HostingKey, Audience: audience, MaxLongLivedExpiry: 365 * 24 * time.Hour}
}

// clinicNode is a clinic node's share service on an httptest TLS server,
// hosting for the given sessions' logs.
func clinicNode(t testing.TB, follows ...*Session) (*httptest.Server, *share.Registry) {
	t.Helper()
	reg := share.NewRegistry(kv.Memory(), "")
	hosting := clinicHosting(t, func(r *http.Request) string { return "https://" + r.Host }, follows...)
	srv, err := share.NewServer(share.ServerConfig{Registry: reg, Hosting: hosting})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	return ts, reg
}

func TestHostedShareOverHTTPSIsAStandardLinkAndRevocationReachesTheNode(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient") // no peer: the node serves the share
	node, nodeReg := clinicNode(t, patient)
	importFixture(t, patient, clemente)
	clinician := newSession(t, "clinician")
	// A node hosts long-lived shares only when its operator allows them, and
	// every hosted share has an expiry.
	res, err := CreateShare(ctx, patient, ShareRequest{Kinds: []fhir.Kind{fhir.KindAllergy, fhir.KindCondition}, Host: node.URL, Label: "Hosted", LongLived: true, Expires: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Link, share.SchemeSHL) || res.PeerToPeer || res.Hosted != node.URL+"/shl" || res.Expires.IsZero() {
		t.Fatalf("result %+v", res)
	}
	l, _ := share.Parse(res.Link)
	if !strings.HasPrefix(l.URL, node.URL+"/shl/") || l.P2P != nil || l.Flags != "L" {
		t.Errorf("link %+v", l)
	}
	hosted, _ := nodeReg.List()
	if len(hosted) != 1 || len(hosted[0].Key) != 0 {
		t.Fatalf("the node holds %d shares (key stored: %v)", len(hosted), len(hosted) == 1 && len(hosted[0].Key) > 0)
	}
	rcv, err := Redeem(ctx, clinician, res.Link, "", "Front desk", AllowPrivateHosts())
	if err != nil {
		t.Fatal(err)
	}
	if rcv.From != node.URL || len(rcv.Records) == 0 {
		t.Errorf("from %q, %d records", rcv.From, len(rcv.Records))
	}
	for _, rr := range rcv.Records {
		if rr.Verification.Status != ledger.SignedOnly {
			t.Errorf("%s: %v", rr.Summary.Title, rr.Verification.Status)
		}
	}
	lg, err := ShareLog(ctx, patient, res.ID)
	if err != nil || len(lg.Entries) != 1 || lg.Entries[0].Where != node.URL+"/shl" || lg.Entries[0].Recipient != "Front desk" || len(lg.Unreachable) > 0 {
		t.Errorf("merged log %+v %v", lg, err)
	}
	if err := RevokeShare(ctx, patient, res.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := Redeem(ctx, clinician, res.Link, "", "x", AllowPrivateHosts()); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("after revoke: %v", err)
	}
	hosted, _ = nodeReg.List()
	if !hosted[0].Revoked {
		t.Error("the node still serves the revoked share")
	}
	shares, _ := ListShares(patient)
	if shares[0].Status != ShareRevoked || len(shares[0].Hosted) != 1 {
		t.Errorf("share %+v", shares[0])
	}
}

func TestHostedShareOverLibp2pNamesTheNodeAsPeer(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	nodeHost, err := peer.New(peer.Config{Key: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nodeHost.Close() })
	patient := newSession(t, "patient")
	nodeReg := share.NewRegistry(kv.Memory(), "")
	hosting := clinicHosting(t, func(*http.Request) string { return "http://" + nodeHost.ID().String() }, patient)
	hosting.Allow = func(r *http.Request) error {
		if _, ok := peer.RemotePeer(r); !ok {
			return errors.New("libp2p peers only")
		}
		return nil
	}
	srv, _ := share.NewServer(share.ServerConfig{Registry: nodeReg, Requester: ShareRequester, Hosting: hosting})
	mux := http.NewServeMux()
	mux.Handle("/shl/", srv)
	if err := nodeHost.Serve(mux); err != nil {
		t.Fatal(err)
	}
	nodeAddr := nodeHost.Addrs()[0].String()

	importFixture(t, patient, clemente)
	clinician := newSession(t, "clinician")
	cp := startPeer(t, clinician)
	res, err := CreateShare(ctx, patient, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, Host: nodeAddr})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := share.Parse(res.Link)
	if !strings.HasPrefix(res.Link, share.SchemeMedwallet) || l.P2P == nil || l.P2P.Peer != nodeHost.ID().String() {
		t.Fatalf("link %+v", l)
	}
	patient.Peer().Host.Close() // the patient's computer goes off; the node still serves
	rcv, err := Redeem(ctx, clinician, res.Link, "", "Dr. Lee")
	if err != nil {
		t.Fatal(err)
	}
	if rcv.From != "peer "+nodeHost.ID().String() || len(rcv.Records) == 0 {
		t.Errorf("from %q, %d records", rcv.From, len(rcv.Records))
	}
	logged, _ := nodeReg.List()
	entries, _ := nodeReg.AccessLog(logged[0].ID)
	if len(entries) != 1 || entries[0].Requester != "peer "+cp.Host.ID().String() {
		t.Errorf("node log %+v", entries)
	}
	// Revocation over libp2p starts a fresh dial-only peer for the patient.
	patient.setPeer(nil)
	if err := RevokeShare(ctx, patient, res.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := Redeem(ctx, clinician, res.Link, "", "x"); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("after revoke: %v", err)
	}
}

func TestPeerToPeerShareNeedsTheWalletsPeer(t *testing.T) {
	patient := newSession(t, "patient")
	importFixture(t, patient, clemente)
	if _, err := CreateShare(context.Background(), patient, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}}); !errors.Is(err, ErrNoPeer) {
		t.Errorf("got %v, want ErrNoPeer", err)
	}
	startPeer(t, patient)
	if _, err := CreateShare(context.Background(), patient, ShareRequest{}); !errors.Is(err, ErrNothingToShare) {
		t.Errorf("empty selection: %v", err)
	}
	if _, err := CreateShare(context.Background(), patient, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, Label: strings.Repeat("x", 81)}); !errors.Is(err, share.ErrInvalidLink) {
		t.Errorf("81-character label: %v", err)
	}
}

func TestRedeemTheHL7IPSLinkFromAnotherSystem(t *testing.T) {
	enc, err := os.ReadFile(filepath.Join(fixtures, "shl/IPS_IG-bundle-01-enc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var recipients []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/ips" {
			http.NotFound(w, r)
			return
		}
		recipients = append(recipients, r.URL.Query().Get("recipient"))
		w.Header().Set("Content-Type", "application/jose")
		w.Write(bytes.TrimSpace(enc))
	}))
	defer srv.Close()
	text, _ := os.ReadFile(filepath.Join(fixtures, "shl/IPS_IG-bundle-01-shl.txt"))
	l, err := share.Parse(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if l.Flags != "LU" {
		t.Fatalf("fixture flags %q", l.Flags)
	}
	l.URL = srv.URL + "/ips"
	link, _ := l.Encode()

	clinician := newSession(t, "clinician")
	rcv, err := Redeem(context.Background(), clinician, "https://viewer.example.org/shlink.html#"+link, "", "Dr. Ngo", AllowPrivateHosts())
	if err != nil {
		t.Fatal(err)
	}
	if len(recipients) != 1 || recipients[0] != "Dr. Ngo" {
		t.Errorf("server saw recipients %q", recipients)
	}
	want, _ := os.ReadFile(filepath.Join(fixtures, "shl/expected-decrypted.json"))
	if !bytes.Equal(rcv.Bundle, want) {
		t.Error("the received bundle differs from the expected plaintext")
	}
	entries, err := decodeBundle(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(rcv.Records) != len(entries) {
		t.Errorf("%d records, want %d", len(rcv.Records), len(entries))
	}
	// The records are the bundle's resources under the wallet's identity
	// rule (references resolved to the entries' fullUrls).
	in := make([]fhir.BundleEntry, len(entries))
	for i, e := range entries {
		in[i] = fhir.BundleEntry{FullURL: e.FullURL, Resource: e.Resource}
	}
	resolved, err := fhir.ResolveReferences(in, fhir.ResolveOptions{AssignIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	wantHashes := map[[32]byte]bool{}
	for _, e := range resolved {
		h, _ := ledger.ResourceHash(e.Resource)
		wantHashes[h] = true
	}
	for _, rr := range rcv.Records {
		r, _ := clinician.Wallet.Get(rr.RecordID)
		h, _ := ledger.ResourceHash(r.Resource)
		if !wantHashes[h] {
			t.Errorf("record %s (%s) is not one of the bundle's resources", rr.RecordID, rr.Summary.ResourceType)
		}
		if rr.Verification.Status != ledger.NotAnchored {
			t.Errorf("record %s: %v, want not anchored", rr.RecordID, rr.Verification.Status)
		}
	}
}

func TestRedeemACardLinkStoresTheCardsBundle(t *testing.T) {
	card, _ := os.ReadFile(filepath.Join(fixtures, "shc/example-00-e-file.smart-health-card"))
	var key [32]byte
	rand.Read(key[:])
	jwe, _ := share.Encrypt(key, card, share.ContentSHC)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(jwe)) }))
	defer srv.Close()
	link, _ := share.Link{URL: srv.URL + "/card", Key: key, Flags: "U", Label: "Vaccination card"}.Encode()
	clinician := newSession(t, "clinician")
	rcv, err := Redeem(context.Background(), clinician, link, "", "Dr. Ngo", AllowPrivateHosts())
	if err != nil {
		t.Fatal(err)
	}
	if len(rcv.Records) != 4 || len(rcv.Files) != 1 || !strings.Contains(rcv.Files[0].Outcome, "SMART Health Card") {
		t.Fatalf("%d records, files %+v", len(rcv.Records), rcv.Files)
	}
	for _, rr := range rcv.Records {
		if rr.Card == nil || rr.Card.Issuer == "" || rr.Verification.Status != ledger.NotAnchored {
			t.Errorf("record %+v", rr)
		}
	}
}

func TestVerifiedBundleOfAStandardSHLHasNoProofs(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join(fixtures, "shl/expected-decrypted.json"))
	cb, err := verifyBundle(data, nil, 1)
	if err != nil || cb.Proofs != 0 {
		t.Fatalf("%v %+v", err, cb)
	}
	for _, e := range cb.Entries {
		if e.Result.Status != ledger.NotAnchored {
			t.Errorf("%s: %v", e.Where, e.Result.Status)
		}
	}
	if _, err := verifyBundle([]byte(`[1,2]`), nil, 1); !errors.Is(err, ErrNotABundle) {
		t.Errorf("array: %v", err)
	}
}

func FuzzVerifyBundle(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join(fixtures, "shc/example-00-a-fhirBundle.json"))
	f.Add(data)
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"fullUrl":"a","resource":{"resourceType":"Binary","securityContext":{"reference":"a"},"data":"AA=="}},{"resource":{"resourceType":"Provenance","target":[{"reference":"a"}],"entity":[{"extension":[{"url":"` + ProofExtension + `","extension":[{"url":"proof","valueString":"x"}]}]}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cb, err := verifyBundle(b, nil, 1)
		if err != nil {
			return
		}
		for _, e := range cb.Entries {
			if e.Result.Status == ledger.Witnessed {
				t.Fatalf("%s witnessed with no trusted witness", e.Where)
			}
		}
	})
}

func TestLongLivedShareForAClinicNodeWithoutExpiryIsRefusedBeforeUpload(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient")
	node, nodeReg := clinicNode(t, patient)
	importFixture(t, patient, clemente)
	_, err := CreateShare(ctx, patient, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, Host: node.URL, LongLived: true})
	if !errors.Is(err, ErrHostedShareNeedsExpiry) {
		t.Fatalf("err = %v, want ErrHostedShareNeedsExpiry", err)
	}
	hosted, err := nodeReg.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(hosted) != 0 {
		t.Fatalf("the node holds %d shares after a refused create", len(hosted))
	}
	mine, err := patient.Wallet.MyShares()
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 0 {
		t.Fatalf("the wallet kept %d shares after a refused create", len(mine))
	}
}

// A shared Patient leaves its social security number at home unless the
// patient asks to include it; without it the Patient's bytes are not those
// the log covers, so it arrives not anchored while the other records keep
// their proofs.
func TestShareLeavesIdentityNumbersOutUnlessAsked(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient")
	startPeer(t, patient)
	const ssn = "999-12-3456"
	pat := []byte(`{"resourceType":"Patient","id":"5b0e4f2a-7c1d-4e8a-9f3b-2d6c8a1e0b47","identifier":[` +
		`{"system":"http://hospital.example/mrn","value":"MRN-77"},` +
		`{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"SS"}]},"system":"http://hl7.org/fhir/sid/us-ssn","value":"` + ssn + `"}],` +
		`"name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1980-02-03"}`)
	prec, err := patient.Wallet.Add(pat, wallet.Source{Type: wallet.SourceImport, Name: "patient.json"})
	if err != nil {
		t.Fatal(err)
	}
	cond := []byte(`{"resourceType":"Condition","id":"c1","subject":{"reference":"urn:uuid:5b0e4f2a-7c1d-4e8a-9f3b-2d6c8a1e0b47"},"code":{"text":"Asthma"}}`)
	crec, err := patient.Wallet.Add(cond, wallet.Source{Type: wallet.SourceImport, Name: "condition.json"})
	if err != nil {
		t.Fatal(err)
	}
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)

	for _, include := range []bool{false, true} {
		res, err := CreateShare(ctx, patient, ShareRequest{IDs: []string{prec.ID, crec.ID}, IncludeIdentifiers: include})
		if err != nil {
			t.Fatal(err)
		}
		rcv, err := Redeem(ctx, clinician, res.Link, "", "Dr. Test")
		if err != nil {
			t.Fatal(err)
		}
		hasSSN := bytes.Contains(rcv.Bundle, []byte(ssn)) || bytes.Contains(rcv.Bundle, []byte("us-ssn"))
		if hasSSN != include {
			t.Errorf("include=%v: the redeemed Bundle carries the SSN: %v", include, hasSSN)
		}
		if !bytes.Contains(rcv.Bundle, []byte("MRN-77")) {
			t.Errorf("include=%v: the medical record number was left out too", include)
		}
		warned := false
		for _, w := range res.Warnings {
			warned = warned || strings.Contains(w, "identity number")
		}
		if warned == include {
			t.Errorf("include=%v: warnings %q", include, res.Warnings)
		}
		got := receivedByIdentity(t, clinician, rcv)
		p, ok := got["Patient/5b0e4f2a-7c1d-4e8a-9f3b-2d6c8a1e0b47"]
		if !ok {
			t.Fatalf("include=%v: no Patient received: %v", include, got)
		}
		wantPatient := ledger.NotAnchored
		if include {
			wantPatient = ledger.SignedOnly
		}
		if st := statusOf(rcv, p.ID); st != wantPatient {
			t.Errorf("include=%v: Patient status %v, want %v", include, StatusName(st), StatusName(wantPatient))
		}
		if st := statusOf(rcv, got["Condition/c1"].ID); st != ledger.SignedOnly {
			t.Errorf("include=%v: Condition status %v, want signed-only", include, StatusName(st))
		}
	}
}

// Files of a received share written out together keep every resource byte
// for byte (their proofs cover those bytes) and drop what is not a FHIR
// resource, so a sender's junk entry cannot break the saved Bundle.
func TestReceivedBundleOfSeveralFilesKeepsResourcesByteForByteAndDropsJunk(t *testing.T) {
	a := `{"resourceType":"Condition", "id":"c1","subject":{"reference":"Patient/p1"}}`
	b := `{"resourceType":"Patient","id":"p1" , "name":[{"family":"Doe"}]}`
	files := [][]byte{
		[]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:0b2f4c6e-1a3d-4e5f-8a9b-0c1d2e3f4a5b","resource":` + a + `},{"resource":{"no":"type"}},{"resource":[1,2]}]}`),
		[]byte(b),
	}
	out := receivedBundle(files)
	if !json.Valid(out) {
		t.Fatalf("not JSON: %s", out)
	}
	for _, r := range []string{a, b} {
		if !bytes.Contains(out, []byte(r)) {
			t.Errorf("resource not kept byte for byte: %s\nin %s", r, out)
		}
	}
	entries, err := decodeBundle(out)
	if err != nil || len(entries) != 2 {
		t.Fatalf("entries %d, %v: %s", len(entries), err, out)
	}
}

// alterServedRecord plays someone who holds a share's key: it changes the
// victim record's status inside the ciphertext the patient's peer serves.
func alterServedRecord(t *testing.T, pp *Peer, shareID string, victim wallet.Record) {
	t.Helper()
	sh, _ := pp.Shares.Get(shareID)
	var key [32]byte
	copy(key[:], sh.Key)
	plain, _, err := share.Decrypt(key, string(sh.Files[0].JWE), MaxShareBundle)
	if err != nil {
		t.Fatal(err)
	}
	altered := bytes.Replace(victim.Resource, []byte(`"status":"completed"`), []byte(`"status":"not-done"`), 1)
	if bytes.Equal(altered, victim.Resource) || !bytes.Contains(plain, victim.Resource) {
		t.Fatal("test setup: cannot find the record to alter")
	}
	f, _ := share.NewFile(key, share.ContentFHIR, bytes.Replace(plain, victim.Resource, altered, 1), time.Now())
	if err := pp.Shares.ReplaceFiles(shareID, []share.File{f}); err != nil {
		t.Fatal(err)
	}
}
