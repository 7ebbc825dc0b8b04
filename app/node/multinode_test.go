package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"medwallet/app/node/pgstore"
	"medwallet/app/node/pgstore/pgtest"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// pgCluster is several real medwallet-node processes on one PostgreSQL
// database: each with its own data directory (libp2p identity) and HTTPS
// port on loopback, all with one witness key file.
type pgCluster struct {
	t             *testing.T
	bin           string
	store         string
	keyFile       string
	cert, certKey string
	dataRoot      string
	nodes         []*runningNode
	hc            *http.Client
	vkey          ledger.WitnessKey
}

func startPGCluster(t *testing.T, k int) *pgCluster {
	t.Helper()
	bin := sharedBinary(t)
	c := &pgCluster{t: t, bin: bin, store: pgtest.Require(t).NewDatabase(t), dataRoot: t.TempDir()}
	if out, err := exec.Command(bin, "migrate", "--store", c.store).CombinedOutput(); err != nil {
		t.Fatalf("medwallet-node migrate: %v\n%s", err, out)
	}
	c.keyFile = filepath.Join(t.TempDir(), "witness.key")
	if out, err := exec.Command(bin, "keygen", "-o", c.keyFile, "--name", "cluster.test/witness").CombinedOutput(); err != nil {
		t.Fatalf("medwallet-node keygen: %v\n%s", err, out)
	}
	var pool *x509.CertPool
	c.cert, c.certKey, pool = writeTestCert(t, t.TempDir())
	c.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: 32,
	}}
	t.Cleanup(c.hc.CloseIdleConnections)
	// One node takes the database from the environment, as a service
	// unit would pass it (keeping the password out of `ps`).
	t.Setenv(EnvStore, c.store)
	for i := range k {
		c.nodes = append(c.nodes, c.start(i))
	}
	for _, n := range c.nodes[1:] {
		if n.vkey != c.nodes[0].vkey || n.id == c.nodes[0].id {
			t.Fatalf("nodes: vkeys %s / %s (want one witness), peer ids %s / %s (want one each)", n.vkey, c.nodes[0].vkey, n.id, c.nodes[0].id)
		}
	}
	var err error
	if c.vkey, err = ledger.ParseWitnessKey(c.nodes[0].vkey); err != nil {
		t.Fatal(err)
	}
	return c
}

// start starts node i (again, after a kill: same data directory).
func (c *pgCluster) start(i int) *runningNode {
	args := []string{"--data", filepath.Join(c.dataRoot, fmt.Sprint(i)), "--listen", loopbackTCP,
		"--witness-key", c.keyFile, "--https", "127.0.0.1:0", "--cert", c.cert, "--key", c.certKey}
	if i != 1 {
		args = append(args, "--store", c.store)
	}
	return startBinary(c.t, c.bin, args...)
}

type response struct {
	code int
	body []byte
	err  error
}

func (c *pgCluster) do(node int, method, path, ctype string, body []byte, header ...string) response {
	req, err := http.NewRequest(method, c.nodes[node].https+path, bytes.NewReader(body))
	if err != nil {
		return response{err: err}
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: b, err: err}
}

func (c *pgCluster) addCheckpoint(node int, req []byte) response {
	return c.do(node, "POST", ledger.AddCheckpointPath, "text/plain", req)
}

func (c *pgCluster) enroll(l *testLog) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := l.log.Enroll(ctx, l.db, c.hc, c.nodes[0].https, "patient"); err != nil {
		c.t.Fatalf("enroll: %v", err)
	}
}

// witnessState reads what the witness holds for origin straight from the
// database, as any node would.
func (c *pgCluster) witnessState(origin string) (size uint64, root []byte) {
	c.t.Helper()
	op, err := OpenStoreOperator(c.store)
	if err != nil {
		c.t.Fatal(err)
	}
	defer op.Close()
	es, err := op.Logs()
	if err != nil {
		c.t.Fatal(err)
	}
	for _, e := range es {
		if e.Origin == origin {
			return e.Size, e.Root
		}
	}
	c.t.Fatalf("the store holds no log %s", origin)
	return 0, nil
}

// verifyCosignature checks that line is the cluster witness's cosignature
// of the checkpoint signed.
func (c *pgCluster) verifyCosignature(signed, line []byte) error {
	text := signed[:bytes.Index(signed, []byte("\n\n"))+1]
	msg := append(append(bytes.Clone(text), '\n'), line...)
	n, err := note.Open(msg, note.VerifierList(c.vkey.Verifier()))
	if err != nil {
		return fmt.Errorf("cosignature %q does not verify: %w", line, err)
	}
	if len(n.Sigs) != 1 {
		return fmt.Errorf("cosignature %q: %d verified signatures", line, len(n.Sigs))
	}
	return nil
}

// TestPGNodesCosignOneCheckpointPerSizeUnderSimultaneousSubmissions plays a
// forked or replaying log owner: three checkpoints extending the same size,
// two of them of one size with different roots, reach three nodes at the
// same moment. Exactly one is cosigned; the others get 409 naming the size
// the witness now holds, and the database holds the cosigned one.
func TestPGNodesCosignOneCheckpointPerSizeUnderSimultaneousSubmissions(t *testing.T) {
	c := startPGCluster(t, 3)
	l := newTestLog(t)
	c.enroll(l)
	first := l.grow(2, "base")
	if r := c.addCheckpoint(1, l.request(0, first)); r.code != 200 {
		t.Fatalf("first checkpoint: %d %s %v", r.code, r.body, r.err)
	}
	cur, size := l, uint64(2)
	cosigned := map[uint64][32]byte{}
	for round := range 8 {
		type branch struct {
			log    *testLog
			signed []byte
			req    []byte
		}
		var bs []branch
		for i := range 3 {
			b := cur.fork()
			signed := b.grow(1+i/2, fmt.Sprintf("round %d branch %d", round, i)) // sizes +1, +1, +2
			bs = append(bs, branch{b, signed, b.request(size, signed)})
		}
		results := make([]response, len(bs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, b := range bs {
			wg.Go(func() {
				<-start
				results[i] = c.addCheckpoint(i, b.req)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, r := range results {
			switch {
			case r.err != nil:
				t.Fatalf("round %d node %d: %v", round, i, r.err)
			case r.code == 200:
				if winner >= 0 {
					t.Fatalf("round %d: nodes %d and %d both cosigned a checkpoint extending size %d", round, winner, i, size)
				}
				winner = i
			case r.code != http.StatusConflict:
				t.Fatalf("round %d node %d: %d %s, want 200 or 409", round, i, r.code, r.body)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no node cosigned (%v)", round, results)
		}
		w := bs[winner]
		if err := c.verifyCosignature(w.signed, results[winner].body); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		cp := w.log.checkpoint(w.signed)
		for i, r := range results {
			if i != winner && string(r.body) != fmt.Sprintf("%d\n", cp.Size) {
				t.Fatalf("round %d node %d: 409 body %q, want the cosigned size %d", round, i, r.body, cp.Size)
			}
		}
		if prev, ok := cosigned[cp.Size]; ok && prev != cp.Root {
			t.Fatalf("two roots cosigned for size %d", cp.Size)
		}
		cosigned[cp.Size] = cp.Root
		gotSize, gotRoot := c.witnessState(l.log.Origin())
		if gotSize != cp.Size || !bytes.Equal(gotRoot, cp.Root[:]) {
			t.Fatalf("round %d: the database holds size %d root %x, the cosignature was for size %d root %x", round, gotSize, gotRoot, cp.Size, cp.Root)
		}
		cur, size = w.log, cp.Size
	}
}

// TestPGNodeKilledMidAddCheckpointLeavesNoCosignatureWithoutState streams
// add-checkpoints for three logs through one node and kills it with
// SIGKILL mid-stream. Every cosignature a client received is backed by the
// database; a request cut off by the kill is either wholly recorded or not
// at all; the other node carries on from what the database holds.
func TestPGNodeKilledMidAddCheckpointLeavesNoCosignatureWithoutState(t *testing.T) {
	c := startPGCluster(t, 2)
	type stream struct {
		log      *testLog
		acked    uint64 // largest size cosigned to the client
		inFlight uint64 // size of the request the kill cut off, if any
		err      error
	}
	streams := make([]*stream, 3)
	for i := range streams {
		streams[i] = &stream{log: newTestLog(t)}
		c.enroll(streams[i].log)
	}
	killNow := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() {
			for i := 0; i < 10000; i++ {
				signed := s.log.grow(1, fmt.Sprint("leaf ", i))
				size := s.log.checkpoint(signed).Size
				r := c.addCheckpoint(0, s.log.request(s.acked, signed))
				if r.err != nil {
					s.inFlight = size
					return
				}
				if r.code != 200 {
					s.err = fmt.Errorf("size %d: %d %s", size, r.code, r.body)
					return
				}
				if err := c.verifyCosignature(signed, r.body); err != nil {
					s.err = err
					return
				}
				s.acked = size
				if i == 5 {
					once.Do(func() { close(killNow) })
				}
			}
			s.err = fmt.Errorf("the node was never killed")
		})
	}
	<-killNow
	c.nodes[0].kill(t)
	wg.Wait()
	for i, s := range streams {
		if s.err != nil {
			t.Fatalf("stream %d: %v", i, s.err)
		}
		held, _ := c.witnessState(s.log.log.Origin())
		if held != s.acked && held != s.inFlight {
			t.Fatalf("stream %d: the database holds size %d; the client was cosigned up to %d and had %d in flight", i, held, s.acked, s.inFlight)
		}
		// The surviving node continues from the database's size.
		signed := s.log.grow(1, "after the kill")
		r := c.addCheckpoint(1, s.log.request(held, signed))
		if r.code != 200 {
			t.Fatalf("stream %d: continuing on the other node from size %d: %d %s %v", i, held, r.code, r.body, r.err)
		}
		if err := c.verifyCosignature(signed, r.body); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
}

// hostedShare is a share as a node hosts it, written straight into the
// shared database through the share registry (the upload path is tested
// elsewhere); secret is its management secret.
type hostedShare struct {
	id     string
	secret string
}

const testJWEPart = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0"

// testJWE is a well-formed compact JWE ({"alg":"dir","enc":"A256GCM"}, a
// 12-byte IV and a 16-byte tag) around ciphertext: a node stores hosted
// files without the key, so it cannot tell it from a real one.
func testJWE(ciphertext string) []byte {
	return []byte(testJWEPart + "..AAAAAAAAAAAAAAAA." + ciphertext + ".AAAAAAAAAAAAAAAAAAAAAA")
}

func (c *pgCluster) hostShare(passcode string, maxAttempts int) hostedShare {
	c.t.Helper()
	sh, err := share.NewShare(share.Options{
		Label: "check-in", Passcode: passcode, MaxAttempts: maxAttempts,
		KDF:   share.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1},
		Files: []share.File{{ContentType: share.ContentFHIR, JWE: testJWE(strings.Repeat("x", 4096))}},
	}, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	var secret [32]byte
	rand.Read(secret[:])
	h := sha256.Sum256(secret[:])
	sh.ManageHash = h[:]
	c.withRegistry(func(r *share.Registry) error { return r.Put(sh) })
	return hostedShare{id: sh.ID, secret: base64.RawURLEncoding.EncodeToString(secret[:])}
}

func (c *pgCluster) withRegistry(fn func(*share.Registry) error) {
	c.t.Helper()
	db, err := pgstore.Open(context.Background(), c.store, pgstore.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	if err := fn(share.NewRegistry(db, share.DefaultPrefix)); err != nil {
		c.t.Fatal(err)
	}
}

// manifest asks node for the share's manifest; embedMax 0 makes it hand
// out single-use locations instead of embedding the files.
func (c *pgCluster) manifest(node int, id, passcode string) response {
	zero := 0
	body, _ := json.Marshal(share.ManifestRequest{Recipient: "Dr Test", Passcode: passcode, EmbeddedLengthMax: &zero})
	return c.do(node, "POST", share.DefaultPathPrefix+"/"+id, "application/json", body)
}

// TestPasscodeGuessesSpreadOverThreeNodesLockTheShare: an attacker spreads
// guesses over every node behind the load balancer at once. The attempts
// are counted in the database, so five wrong guesses in all lock the share
// everywhere, each guess was told a different number of attempts left, and
// the access log holds exactly the five.
func TestPasscodeGuessesSpreadOverThreeNodesLockTheShare(t *testing.T) {
	c := startPGCluster(t, 3)
	sh := c.hostShare("right passcode", 5)
	results := make([]response, 9)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			<-start
			results[i] = c.manifest(i%3, sh.id, fmt.Sprint("guess ", i))
		})
	}
	close(start)
	wg.Wait()
	remaining := map[int]bool{}
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("guess %d: %v", i, r.err)
		case r.code == http.StatusUnauthorized:
			var body struct {
				RemainingAttempts *int `json:"remainingAttempts"`
			}
			if json.Unmarshal(r.body, &body) != nil || body.RemainingAttempts == nil {
				t.Fatalf("guess %d: 401 body %s", i, r.body)
			}
			if remaining[*body.RemainingAttempts] {
				t.Fatalf("two guesses were told %d attempts remain: an attempt was not counted", *body.RemainingAttempts)
			}
			remaining[*body.RemainingAttempts] = true
		case r.code != http.StatusNotFound:
			t.Fatalf("guess %d: %d %s", i, r.code, r.body)
		}
	}
	if len(remaining) != 5 {
		t.Fatalf("%d wrong guesses were counted over three nodes, want exactly 5 (remaining %v)", len(remaining), remaining)
	}
	for node := range 3 {
		if r := c.manifest(node, sh.id, "right passcode"); r.code != http.StatusNotFound {
			t.Fatalf("the right passcode after five wrong ones, on node %d: %d %s", node, r.code, r.body)
		}
	}
	c.withRegistry(func(r *share.Registry) error {
		log, err := r.AccessLog(sh.id)
		wrong := 0
		for _, e := range log {
			if e.Outcome == share.OutcomeWrongPasscode {
				wrong += max(e.Count, 1) // repeated failures are one entry with a count
			}
		}
		if err != nil || wrong != 5 {
			t.Fatalf("access log: %d wrong-passcode entries (%v), want 5", wrong, err)
		}
		return nil
	})
}

// TestPGNodeKilledMidPasscodeGuessingCountsEveryAnsweredGuess kills a node
// while guesses stream through it and another: every guess answered 401
// was counted, none was counted twice, and each counted attempt has its
// access-log line (the count and the log are one transaction).
func TestPGNodeKilledMidPasscodeGuessingCountsEveryAnsweredGuess(t *testing.T) {
	c := startPGCluster(t, 2)
	const max = 30 // under one client's burst allowance per node (40)
	sh := c.hostShare("right passcode", max)
	var mu sync.Mutex
	answered, sent := 0, 0
	killNow := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			node := g % 2
			for i := 0; ; i++ {
				mu.Lock()
				if sent >= max-5 {
					mu.Unlock()
					return
				}
				sent++
				mu.Unlock()
				r := c.manifest(node, sh.id, fmt.Sprint("guess ", g, i))
				if r.err != nil {
					if node == 1 {
						t.Errorf("the surviving node failed: %v", r.err)
					}
					return // node 0 is gone; its guesser stops
				}
				if r.code != http.StatusUnauthorized {
					t.Errorf("guess on node %d: %d %s", node, r.code, r.body)
					return
				}
				mu.Lock()
				answered++
				if answered == 8 {
					once.Do(func() { close(killNow) })
				}
				mu.Unlock()
			}
		})
	}
	<-killNow
	c.nodes[0].kill(t)
	wg.Wait()
	c.withRegistry(func(r *share.Registry) error {
		s, err := r.Get(sh.id)
		if err != nil {
			return err
		}
		counted := max - s.AttemptsLeft
		if counted < answered || counted > sent {
			t.Fatalf("%d attempts counted; %d guesses were answered 401 and %d sent", counted, answered, sent)
		}
		log, err := r.AccessLog(sh.id)
		if err != nil {
			return err
		}
		logged := 0
		for _, e := range log {
			logged += e.Count // repeated failures are one entry with a count
		}
		if logged != counted {
			t.Fatalf("%d logged guesses for %d counted attempts: a guess was half recorded", logged, counted)
		}
		return nil
	})
}

// TestRevocationThroughOneNodeIsHonouredByAllAtOnce: once one node has
// answered a revocation, no node serves the share's manifest or a file
// location handed out before.
func TestRevocationThroughOneNodeIsHonouredByAllAtOnce(t *testing.T) {
	c := startPGCluster(t, 3)
	sh := c.hostShare("", 0)
	var location string
	for node := range 3 {
		r := c.manifest(node, sh.id, "")
		if r.code != 200 {
			t.Fatalf("manifest on node %d: %d %s %v", node, r.code, r.body, r.err)
		}
		var m share.Manifest
		if err := json.Unmarshal(r.body, &m); err != nil || len(m.Files) != 1 || m.Files[0].Location == "" {
			t.Fatalf("manifest on node %d: %s", node, r.body)
		}
		location = m.Files[0].Location
	}
	r := c.do(1, "POST", share.DefaultPathPrefix+"/"+sh.id+"/revoke", "", nil, "Authorization", "Bearer "+sh.secret)
	if r.code != http.StatusNoContent {
		t.Fatalf("revoke through node 1: %d %s %v", r.code, r.body, r.err)
	}
	for node := range 3 {
		if r := c.manifest(node, sh.id, ""); r.code != http.StatusNotFound {
			t.Fatalf("manifest on node %d after revocation on node 1: %d", node, r.code)
		}
	}
	// The last location came from node 2; fetch it there (it would work
	// but for the revocation).
	u, _ := url.Parse(location)
	if r := c.do(2, "GET", u.Path, "", nil); r.code != http.StatusNotFound {
		t.Fatalf("a location issued before the revocation: %d", r.code)
	}
}

// TestPGNodeKilledMidRevocationLeavesTheShareWhole kills the node a
// revocation is sent to at the same moment: the share is then either
// revoked with its files gone, or untouched, never in between, and
// revoking again through another node works.
func TestPGNodeKilledMidRevocationLeavesTheShareWhole(t *testing.T) {
	c := startPGCluster(t, 2)
	shares := make([]hostedShare, 6)
	for i := range shares {
		shares[i] = c.hostShare("", 0)
	}
	answered := make([]bool, len(shares))
	var wg sync.WaitGroup
	for i, sh := range shares {
		wg.Go(func() {
			r := c.do(0, "POST", share.DefaultPathPrefix+"/"+sh.id+"/revoke", "", nil, "Authorization", "Bearer "+sh.secret)
			answered[i] = r.err == nil && r.code == http.StatusNoContent
		})
	}
	c.nodes[0].kill(t)
	wg.Wait()
	c.withRegistry(func(r *share.Registry) error {
		for i, sh := range shares {
			s, err := r.Get(sh.id)
			if err != nil {
				return err
			}
			hasFile := len(s.Files) == 1 && len(s.Files[0].JWE) > 0
			if s.Revoked == hasFile || (answered[i] && !s.Revoked) {
				t.Fatalf("share %d: revoked %v, file kept %v, revocation answered %v", i, s.Revoked, hasFile, answered[i])
			}
		}
		return nil
	})
	for i, sh := range shares {
		c.do(1, "POST", share.DefaultPathPrefix+"/"+sh.id+"/revoke", "", nil, "Authorization", "Bearer "+sh.secret)
		if r := c.manifest(1, sh.id, ""); r.code != http.StatusNotFound {
			t.Fatalf("share %d after revoking again through node 1: %d", i, r.code)
		}
	}
}

// TestALocationFromOneNodeIsServedOnceByAnother: behind a load balancer a
// clinician's manifest request and the file fetch that follows may reach
// different nodes. The single-use location from one node works on another,
// and only once in the whole cluster.
func TestALocationFromOneNodeIsServedOnceByAnother(t *testing.T) {
	c := startPGCluster(t, 3)
	sh := c.hostShare("", 0)
	r := c.manifest(0, sh.id, "")
	var m share.Manifest
	if r.code != 200 || json.Unmarshal(r.body, &m) != nil || len(m.Files) != 1 || m.Files[0].Location == "" {
		t.Fatalf("manifest on node 0: %d %s %v", r.code, r.body, r.err)
	}
	u, err := url.Parse(m.Files[0].Location)
	if err != nil {
		t.Fatal(err)
	}
	got := c.do(1, "GET", u.Path, "", nil)
	if got.code != 200 || !strings.HasPrefix(string(got.body), testJWEPart) {
		t.Fatalf("node 0's location fetched through node 1: %d %.80s", got.code, got.body)
	}
	for node := range 3 {
		if again := c.do(node, "GET", u.Path, "", nil); again.code != http.StatusNotFound {
			t.Fatalf("the used location again on node %d: %d, want 404 (single use across nodes)", node, again.code)
		}
	}
}
