package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"medwallet/app/node/pgstore"
	"medwallet/app/node/pgstore/pgtest"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// The load benchmark: simulated wallets anchoring (add-checkpoint, one
// cosignature each) and clinicians fetching check-in shares (a manifest
// with the file embedded, one access-log line each) at once, against real
// medwallet-node processes: one on Badger, one on PostgreSQL, two on one
// PostgreSQL behind a client-side round robin; beside raw PostgreSQL round
// trips (SELECT 1, and the serialisable read-modify-write a witness update
// is) at the same concurrency, all measured in the same run.
const (
	loadWallets     = 32
	loadClinicians  = 32
	loadOpsPerActor = 30 // under a client's burst allowance (40): no 429s
	loadShares      = 64
)

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) pct(p float64) time.Duration {
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return 0
	}
	return l.d[min(len(l.d)-1, int(p*float64(len(l.d))))]
}

// report puts a kind of operation's throughput and latency beside the
// benchmark's figures and in the log.
func report(b *testing.B, kind string, l *latencies, wall time.Duration) {
	rate := float64(len(l.d)) / wall.Seconds()
	b.ReportMetric(rate, kind+"/s")
	b.ReportMetric(float64(l.pct(0.50).Microseconds())/1000, kind+"-p50-ms")
	b.ReportMetric(float64(l.pct(0.99).Microseconds())/1000, kind+"-p99-ms")
	b.Logf("%s: %d in %v = %.0f/s, p50 %v, p99 %v", kind, len(l.d), wall.Round(time.Millisecond), rate, l.pct(0.50), l.pct(0.99))
}

// clientFrom is an HTTPS client whose connections come from ip (anywhere
// in 127/8), so every simulated wallet and clinician is its own client to
// the nodes' per-client limits, as on a real network.
func clientFrom(ip string, pool *x509.CertPool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext:     d.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
}

// loadPlan is the work precomputed before any clock runs: each wallet's
// log and its sequence of add-checkpoint requests, and the shares.
type loadPlan struct {
	logs   []*testLog
	reqs   [][][]byte
	shares []*share.Share
}

func newLoadPlan(b *testing.B) *loadPlan {
	p := &loadPlan{}
	for w := range loadWallets {
		l := newTestLog(b)
		var reqs [][]byte
		old := uint64(0)
		for i := range loadOpsPerActor {
			signed := l.grow(1, fmt.Sprint("wallet ", w, " record ", i))
			reqs = append(reqs, l.request(old, signed))
			old = l.checkpoint(signed).Size
		}
		p.logs, p.reqs = append(p.logs, l), append(p.reqs, reqs)
	}
	for range loadShares {
		sh, err := share.NewShare(share.Options{Label: "check-in", Files: []share.File{{ContentType: share.ContentFHIR, JWE: testJWE(strings.Repeat("y", 2048))}}}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		p.shares = append(p.shares, sh)
	}
	return p
}

func (p *loadPlan) putShares(b *testing.B, db kv.DB) {
	reg := share.NewRegistry(db, share.DefaultPrefix)
	for _, sh := range p.shares {
		if err := reg.Put(sh); err != nil {
			b.Fatal(err)
		}
	}
}

// run enrols every wallet, then times wallets anchoring and clinicians
// fetching against the nodes (actor i talks to node i mod len(nodes)).
func (p *loadPlan) run(b *testing.B, nodes []string, pool *x509.CertPool) {
	for w, l := range p.logs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := l.log.Enroll(ctx, kv.Memory(), clientFrom("127.0.3.1", pool), nodes[w%len(nodes)], "bench")
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	var anchors, fetches latencies
	var wg sync.WaitGroup
	errs := make(chan error, loadWallets+loadClinicians)
	start := time.Now()
	for w := range loadWallets {
		hc := clientFrom(fmt.Sprintf("127.0.1.%d", w+1), pool)
		base := nodes[w%len(nodes)]
		wg.Go(func() {
			defer hc.CloseIdleConnections()
			for _, req := range p.reqs[w] {
				t0 := time.Now()
				resp, err := hc.Post(base+ledger.AddCheckpointPath, "text/plain", strings.NewReader(string(req)))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("wallet %d: add-checkpoint %d", w, resp.StatusCode)
					return
				}
				anchors.add(time.Since(t0))
			}
		})
	}
	for c := range loadClinicians {
		hc := clientFrom(fmt.Sprintf("127.0.2.%d", c+1), pool)
		base := nodes[c%len(nodes)]
		rng := rand.New(rand.NewPCG(uint64(c), 1))
		wg.Go(func() {
			defer hc.CloseIdleConnections()
			body, _ := json.Marshal(share.ManifestRequest{Recipient: fmt.Sprint("clinician ", c)})
			for range loadOpsPerActor {
				sh := p.shares[rng.IntN(len(p.shares))]
				t0 := time.Now()
				resp, err := hc.Post(base+share.DefaultPathPrefix+"/"+sh.ID, "application/json", strings.NewReader(string(body)))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("clinician %d: manifest %d", c, resp.StatusCode)
					return
				}
				fetches.add(time.Since(t0))
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	report(b, "cosig", &anchors, wall)
	report(b, "fetch", &fetches, wall)
}

func BenchmarkNodeLoad(b *testing.B) {
	bin := sharedBinary(b)
	srv := pgtest.Require(b)
	cert, certKey, pool := writeTestCert(b, b.TempDir())
	plan := newLoadPlan(b)
	keyFile := witnessKeyFile(b, "load.test/witness")
	https := []string{"--https", "127.0.0.1:0", "--cert", cert, "--key", certKey, "--listen", loopbackTCP, "--log-json"}

	b.Run("reference=postgres-round-trips", func(b *testing.B) {
		store := migratedStore(b)
		ctx := context.Background()
		raw, err := pgxpool.New(ctx, store)
		if err != nil {
			b.Fatal(err)
		}
		defer raw.Close()
		db, err := pgstore.Open(ctx, store, pgstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			var selects, updates latencies
			timed := func(l *latencies, op func(actor, i int) error) time.Duration {
				var wg sync.WaitGroup
				start := time.Now()
				for a := range loadWallets + loadClinicians {
					wg.Go(func() {
						for i := range loadOpsPerActor {
							t0 := time.Now()
							if err := op(a, i); err != nil {
								b.Error(err)
								return
							}
							l.add(time.Since(t0))
						}
					})
				}
				wg.Wait()
				return time.Since(start)
			}
			wall := timed(&selects, func(int, int) error {
				var one int
				return raw.QueryRow(ctx, "SELECT 1").Scan(&one)
			})
			report(b, "select1", &selects, wall)
			wall = timed(&updates, func(a, i int) error {
				key := fmt.Appendf(nil, "bench/%d", a)
				return db.Update(func(tx kv.Txn) error {
					if _, err := tx.Get(key); err != nil && !errors.Is(err, kv.ErrNotFound) {
						return err
					}
					return tx.Set(key, fmt.Appendf(nil, "%d", i))
				})
			})
			report(b, "kv-update", &updates, wall)
		}
	})
	b.Run("store=badger/nodes=1", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := filepath.Join(b.TempDir(), "node")
			if err := prepareDir(dir); err != nil {
				b.Fatal(err)
			}
			db, err := kv.OpenBadger(filepath.Join(dir, DBDir), kv.Options{})
			if err != nil {
				b.Fatal(err)
			}
			plan.putShares(b, db)
			db.Close()
			n := startBinary(b, bin, append([]string{"--data", dir}, https...)...)
			b.StartTimer()
			plan.run(b, []string{n.https}, pool)
			n.kill(b)
		}
	})
	for _, k := range []int{1, 2} {
		b.Run(fmt.Sprintf("store=postgres/nodes=%d", k), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				store := srv.NewDatabase(b)
				if out, err := exec.Command(bin, "migrate", "--store", store).CombinedOutput(); err != nil {
					b.Fatalf("migrate: %v %s", err, out)
				}
				db, err := pgstore.Open(context.Background(), store, pgstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				plan.putShares(b, db)
				db.Close()
				var urls []string
				var nodes []*runningNode
				for i := range k {
					n := startBinary(b, bin, append([]string{"--data", filepath.Join(b.TempDir(), fmt.Sprint(i)), "--store", store, "--witness-key", keyFile}, https...)...)
					nodes, urls = append(nodes, n), append(urls, n.https)
				}
				b.StartTimer()
				plan.run(b, urls, pool)
				for _, n := range nodes {
					n.kill(b)
				}
			}
		})
	}
}
