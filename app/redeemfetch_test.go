package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/share"
)

// A small FHIR Bundle a hostile or test server can serve as a share.
const tinyBundle = `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p1","name":[{"family":"Testperson"}]}}]}`

// hostileShare is a link key and the share ID its URL names.
type hostileShare struct {
	key [32]byte
	id  string
}

func newHostileShare(t *testing.T) hostileShare {
	t.Helper()
	var h hostileShare
	rand.Read(h.key[:])
	id, err := share.NewID()
	if err != nil {
		t.Fatal(err)
	}
	h.id = id
	return h
}

// httpsLink is the shlink:/ text of a link to base + /shl/<id>.
func (h hostileShare) httpsLink(t *testing.T, base string) string {
	t.Helper()
	text, err := share.Link{URL: base + "/shl/" + h.id, Key: h.key, Label: "Hostile"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// p2pLink is the medwallet:/ text of a link served by peer id at addrs.
func (h hostileShare) p2pLink(t *testing.T, id peer.ID, addrs []string) string {
	t.Helper()
	text, err := share.Link{URL: p2pHost + "/shl/" + h.id, Key: h.key, Label: "Hostile", P2P: &share.P2P{Peer: id.String(), Addrs: addrs}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// manifestHandler serves the share's manifest at /shl/<id>, with the file
// embedded, or at location(self) when location is given.
func (h hostileShare) manifestHandler(t *testing.T, location func(self string) string) http.HandlerFunc {
	jwe, err := share.Encrypt(h.key, []byte(tinyBundle), share.ContentFHIR)
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/shl/" + h.id:
			entry := `"embedded":"` + jwe + `"`
			if location != nil {
				entry = `"location":"` + location("https://"+r.Host) + `"`
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"files":[{"contentType":"application/fhir+json",` + entry + `}]}`))
		case "/file":
			w.Write([]byte(jwe))
		default:
			http.NotFound(w, r)
		}
	}
}

// trickle answers 200 and then one byte a second until the client leaves.
func trickle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	for {
		w.Write([]byte(" "))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// loopbackService is a TLS server on loopback that counts what reaches it.
func loopbackService(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// rawPeer runs a libp2p peer that serves h over ProtocolHTTP.
func rawPeer(t *testing.T, h http.Handler) (*peer.Host, []string) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	hp, err := peer.New(peer.Config{Key: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hp.Close() })
	if h != nil {
		if err := hp.Serve(h); err != nil {
			t.Fatal(err)
		}
	}
	var addrs []string
	for _, a := range hp.Addrs() {
		addrs = append(addrs, strings.TrimSuffix(a.String(), "/p2p/"+hp.ID().String()))
	}
	return hp, addrs
}

// assertNothingReceived fails if the wallet kept anything from a redeem.
func assertNothingReceived(t *testing.T, s *Session) {
	t.Helper()
	got, err := ListReceived(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || len(s.Wallet.Search(wallet.Query{})) != 0 {
		t.Errorf("the wallet kept %d received shares and %d records", len(got), len(s.Wallet.Search(wallet.Query{})))
	}
}

func TestRedeemTricklingPeerHitsDeadline(t *testing.T) {
	h := newHostileShare(t)
	hp, addrs := rawPeer(t, http.HandlerFunc(trickle))
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)
	_, err := Redeem(context.Background(), clinician, h.p2pLink(t, hp.ID(), addrs), "", "x", RedeemTimeout(2*time.Second))
	if !errors.Is(err, share.ErrTimedOut) || !strings.Contains(err.Error(), "within 2s") {
		t.Fatalf("%v, want the 2 s deadline to end it", err)
	}
	assertNothingReceived(t, clinician)
}

func TestRedeemTricklingHTTPSServerHitsDeadline(t *testing.T) {
	h := newHostileShare(t)
	srv, _ := loopbackService(t, trickle)
	clinician := newSession(t, "clinician")
	// The deadline comes from the wallet's setting here.
	st := clinician.Wallet.Settings()
	st.Redeem = wallet.RedeemSettings{TimeoutSeconds: 2, AllowPrivateHosts: true}
	if err := clinician.Wallet.SaveSettings(st); err != nil {
		t.Fatal(err)
	}
	_, err := Redeem(context.Background(), clinician, h.httpsLink(t, srv.URL), "", "x")
	if !errors.Is(err, share.ErrTimedOut) || !strings.Contains(err.Error(), "within 2s") {
		t.Fatalf("%v, want the 2 s deadline to end it", err)
	}
	assertNothingReceived(t, clinician)
}

func TestRedeemWaitDoesNotHoldOffAutoLock(t *testing.T) {
	h := newHostileShare(t)
	srv, _ := loopbackService(t, trickle)
	dir := filepath.Join(t.TempDir(), "clinician")
	w, _, err := wallet.Create(dir, []byte("pass phrase"), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(w)
	t.Cleanup(s.Lock)
	s.SetIdle(300 * time.Millisecond)
	// The deadline is far off: only auto-lock can end this wait.
	_, err = Redeem(context.Background(), s, h.httpsLink(t, srv.URL), "", "x", AllowPrivateHosts(), RedeemTimeout(time.Hour))
	if !errors.Is(err, ErrSessionLocked) {
		t.Fatalf("%v, want the redeem to end with the wallet locked", err)
	}
	if !s.Locked() {
		t.Fatal("the session is not locked")
	}
	w2, err := wallet.Open(dir, []byte("pass phrase"))
	if err != nil {
		t.Fatal(err)
	}
	s2 := NewSession(w2)
	s2.SetIdle(0)
	t.Cleanup(s2.Lock)
	assertNothingReceived(t, s2)
}

func TestLinkCannotMakeWalletContactLoopbackService(t *testing.T) {
	h := newHostileShare(t)
	service, serviceHits := loopbackService(t, h.manifestHandler(t, nil))
	clinician := newSession(t, "clinician")

	// A link straight at a loopback service the user never added.
	_, err := Redeem(context.Background(), clinician, h.httpsLink(t, service.URL), "", "x")
	if !errors.Is(err, share.ErrPrivateAddress) {
		t.Errorf("link at a loopback service: %v, want ErrPrivateAddress", err)
	}
	if n := serviceHits.Load(); n != 0 {
		t.Fatalf("the loopback service got %d requests", n)
	}

	// The user allowed the link's host; its manifest points at the service.
	linkHost, linkHits := loopbackService(t, h.manifestHandler(t, func(string) string { return service.URL + "/file" }))
	for name, opts := range map[string][]RedeemOption{
		"--allow-private-hosts": {AllowPrivateHosts()},
		"the wallet setting":    nil,
	} {
		if opts == nil {
			st := clinician.Wallet.Settings()
			st.Redeem.AllowPrivateHosts = true
			if err := clinician.Wallet.SaveSettings(st); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Redeem(context.Background(), clinician, h.httpsLink(t, linkHost.URL), "", "x", opts...)
		if !errors.Is(err, share.ErrPrivateAddress) {
			t.Errorf("%s, location at a loopback service: %v, want ErrPrivateAddress", name, err)
		}
	}
	if linkHits.Load() == 0 {
		t.Error("the allowed link host was never asked")
	}
	if n := serviceHits.Load(); n != 0 {
		t.Errorf("the loopback service got %d requests", n)
	}
	assertNothingReceived(t, clinician)
}

func TestLinkToAClinicNodeTheUserAddedMayBeOnLoopback(t *testing.T) {
	h := newHostileShare(t)
	node := newWitness(t)
	// The witness's server also serves the share, as a clinic node does.
	witnessHandler := node.Config.Handler
	node.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/shl/") || r.URL.Path == "/file" {
			h.manifestHandler(t, func(self string) string { return self + "/file" })(w, r)
			return
		}
		witnessHandler.ServeHTTP(w, r)
	})
	clinician := newSession(t, "clinician")
	enroll(t, clinician, node)
	rcv, err := Redeem(context.Background(), clinician, h.httpsLink(t, node.URL), "", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(rcv.Records) != 1 {
		t.Errorf("received %d records, want the one Patient", len(rcv.Records))
	}
}

func TestRedeemErrorDoesNotEchoRemoteBody(t *testing.T) {
	const secret = "IGNORE-PREVIOUS-INSTRUCTIONS"
	h := newHostileShare(t)
	for name, handler := range map[string]http.HandlerFunc{
		"500 with a body": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, secret, http.StatusInternalServerError)
		},
		"403 with JSON": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":"` + secret + `"}`))
		},
		"manifest with a hostile location": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"files":[{"contentType":"application/fhir+json","location":"http://` + secret + `.example/x"}]}`))
		},
		"redirect to a hostile place": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://"+secret+".example/x", http.StatusFound)
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := loopbackService(t, handler)
			clinician := newSession(t, "clinician")
			_, err := Redeem(context.Background(), clinician, h.httpsLink(t, srv.URL), "", "x", AllowPrivateHosts())
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestP2PLinkDialsOnlyNamedPeer(t *testing.T) {
	h := newHostileShare(t)
	var impostorHits atomic.Int32
	_, impostorAddrs := rawPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		impostorHits.Add(1)
		h.manifestHandler(t, nil)(w, r)
	}))
	named, _ := rawPeer(t, nil) // the peer the link names; not at those addresses
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)
	_, err := Redeem(context.Background(), clinician, h.p2pLink(t, named.ID(), impostorAddrs), "", "x", RedeemTimeout(20*time.Second))
	if !errors.Is(err, peer.ErrWrongPeer) {
		t.Errorf("%v, want ErrWrongPeer", err)
	}
	if n := impostorHits.Load(); n != 0 {
		t.Errorf("the peer at the link's addresses got %d requests", n)
	}

	// A link cannot point the wallet at a peer's endpoints other than a
	// share's (here hosting, under the wallet's own peer identity).
	text, _ := share.Link{URL: p2pHost + "/shl/host", Key: h.key, P2P: &share.P2P{Peer: named.ID().String()}}.Encode()
	if _, err := Redeem(context.Background(), clinician, text, "", "x"); !errors.Is(err, share.ErrInvalidLink) {
		t.Errorf("link at /shl/host: %v, want ErrInvalidLink", err)
	}
	assertNothingReceived(t, clinician)
}

func TestOversizedManifestIsRefused(t *testing.T) {
	h := newHostileShare(t)
	srv, _ := loopbackService(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"files":[{"contentType":"application/fhir+json","embedded":"`))
		chunk := []byte(strings.Repeat("A", 64<<10))
		for range 64 { // 4 MiB, four times the limit
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(`"}]}`))
	})
	clinician := newSession(t, "clinician")
	_, err := Redeem(context.Background(), clinician, h.httpsLink(t, srv.URL), "", "x", AllowPrivateHosts())
	if !errors.Is(err, share.ErrTooLarge) || !strings.Contains(err.Error(), "manifest is over 1 MiB") {
		t.Errorf("%v, want ErrTooLarge naming the manifest", err)
	}
	assertNothingReceived(t, clinician)
}

// FuzzCheckP2PSharePath: a peer-to-peer link's URL passes only when it
// names a share, never a query or another endpoint.
func FuzzCheckP2PSharePath(f *testing.F) {
	id, _ := share.NewID()
	f.Add(p2pHost + "/shl/" + id)
	f.Add(p2pHost + "/shl/host")
	f.Add(p2pHost + "/shl/" + id + "/log")
	f.Add(p2pHost + "/shl/" + id + "?recipient=x")
	f.Add("http://u:p@p2p/shl/" + id)
	f.Fuzz(func(t *testing.T, raw string) {
		if checkP2PSharePath(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.RawQuery != "" || !share.ValidID(path.Base(u.Path)) {
			t.Fatalf("accepted %q", raw)
		}
	})
}

func TestBusyWorkHoldsOffAutoLockAndNetworkWaitsEndWithTheLock(t *testing.T) {
	s := newSession(t, "s")
	waiting, stop := s.untilLocked(context.Background())
	defer stop()
	done := s.Busy()
	s.idleExpired() // the idle timer firing while an import runs
	if s.Locked() {
		t.Fatal("auto-lock closed the wallet during busy work")
	}
	done()
	s.idleExpired()
	if !s.Locked() {
		t.Fatal("auto-lock did not close an idle wallet")
	}
	<-waiting.Done()
	if !errors.Is(context.Cause(waiting), ErrSessionLocked) {
		t.Errorf("a network wait ended with %v, want ErrSessionLocked", context.Cause(waiting))
	}
	if _, err := s.busyUnlessLocked(); !errors.Is(err, ErrSessionLocked) {
		t.Errorf("busy work started on a locked session: %v", err)
	}
}

// A clinic node's link whose addresses were dropped to keep its QR code
// small (a passcode share back to the patient, say) still opens in a wallet
// that knows that node, from its address book, in a fresh process whose
// libp2p peerstore is empty.
func TestP2PLinkWithoutAddressesReachesAKnownClinicNode(t *testing.T) {
	h := newHostileShare(t)
	node, addrs := rawPeer(t, h.manifestHandler(t, nil))
	patient := newSession(t, "patient")
	p := startPeer(t, patient)
	var mas []ma.Multiaddr
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			t.Fatal(err)
		}
		mas = append(mas, m)
	}
	if err := p.Book.Put(peer.Contact{Name: "Riverside Clinic", ID: node.ID(), Role: peer.RoleClinic, Addrs: mas, Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	got, err := Redeem(context.Background(), patient, h.p2pLink(t, node.ID(), nil), "", "x", RedeemTimeout(20*time.Second))
	if err != nil {
		t.Fatalf("redeem a link without addresses from a known clinic node: %v", err)
	}
	if len(got.Records) != 1 || got.From != "peer "+node.ID().String() {
		t.Errorf("received %d records from %q, want the bundle's Patient from the node", len(got.Records), got.From)
	}
}

// TestReturnedRecordsNameTheClinicNodeNotItsPeerID: a clinic's visit
// records, shared back over libp2p by a node the patient knows as
// "Riverside Clinic", with no label and no Organization of their own,
// name that clinic as their source, not the node's peer ID.
func TestReturnedRecordsNameTheClinicNodeNotItsPeerID(t *testing.T) {
	patient, me := patientWallet(t)
	p := startPeer(t, patient)
	var key [32]byte
	rand.Read(key[:])
	id, err := share.NewID()
	if err != nil {
		t.Fatal(err)
	}
	visit := `{"resourceType":"Bundle","type":"collection","entry":[` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000001","resource":` + ktcPatient + `},` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000004","resource":{"resourceType":"Condition","id":"c9","code":{"text":"Sprained ankle"},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"}}}]}`
	jwe, err := share.Encrypt(key, []byte(visit), share.ContentFHIR)
	if err != nil {
		t.Fatal(err)
	}
	node, addrs := rawPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/shl/"+id {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"files":[{"contentType":"application/fhir+json","embedded":"` + jwe + `"}]}`))
	}))
	var mas []ma.Multiaddr
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			t.Fatal(err)
		}
		mas = append(mas, m)
	}
	if err := p.Book.Put(peer.Contact{Name: "Riverside Clinic", ID: node.ID(), Role: peer.RoleClinic, Addrs: mas, Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	link, err := share.Link{URL: p2pHost + "/shl/" + id, Key: key, P2P: &share.P2P{Peer: node.ID().String()}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	pending, err := FetchShare(context.Background(), patient, link, "", "x", RedeemTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := KeepShare(context.Background(), patient, pending, KeepOptions{Person: me.ID})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, rr := range rcv.Records {
		if !rr.Stored() {
			continue
		}
		stored++
		rec, err := patient.Wallet.Get(rr.RecordID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Source.Name != "Riverside Clinic" || strings.Contains(rec.Source.Name+rec.Source.Detail, node.ID().String()) {
			t.Errorf("returned record %s has source %+v, want the clinic by name", rr.RecordID, rec.Source)
		}
	}
	if stored == 0 {
		t.Fatal("no visit record was filed")
	}
}
