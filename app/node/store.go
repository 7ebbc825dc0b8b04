package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"medwallet/app/node/pgstore"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
)

// Where the node keeps its shared state: Badger in the data directory (one
// node), or PostgreSQL (Config.Store), which several nodes share. With
// PostgreSQL the data directory keeps only what is each node's own: its
// libp2p identity and control socket (and, by convention, its TLS files).

// EnvStore names the environment variable that stands in for --store.
const EnvStore = "MEDWALLET_NODE_STORE"

// readyTimeout bounds the database query behind /readyz, so a load balancer
// learns within its own probe timeout that a node lost its database.
const readyTimeout = 2 * time.Second

// ErrOtherWitness means the store was first used by a node with another
// witness key: nodes sharing a store must sign as one witness.
var ErrOtherWitness = errors.New("this store belongs to another witness")

// ErrNoWitnessKey means --store was given without --witness-key.
var ErrNoWitnessKey = errors.New("--store needs --witness-key FILE: make one with `medwallet-node keygen -o FILE --name NAME` and give every node sharing the database the same file")

// witnessVKeyKey records, in the store, the vkey of the witness whose state
// it holds.
var witnessVKeyKey = []byte("node/witness-vkey")

// witnessIdentity is the key and name the node cosigns with: the
// --witness-key file, or on a single Badger node the key generated into
// the data directory at first start and the name in node.json.
func witnessIdentity(cfg Config) (ed25519.PrivateKey, string, error) {
	if cfg.WitnessKeyFile == "" {
		if cfg.Store != "" {
			return nil, "", ErrNoWitnessKey
		}
		set, err := loadSettings(cfg.Dir, cfg.Name)
		if err != nil {
			return nil, "", err
		}
		key, _, err := loadOrCreateKey(filepath.Join(cfg.Dir, WitnessKeyFile))
		return key, set.WitnessName, err
	}
	key, name, err := LoadWitnessKey(cfg.WitnessKeyFile)
	if err != nil {
		return nil, "", err
	}
	if cfg.Name != "" && cfg.Name != name {
		return nil, "", fmt.Errorf("%w: the key file %s is for %q, not %q", ErrNameChanged, cfg.WitnessKeyFile, name, cfg.Name)
	}
	if cfg.Store == "" {
		// A Badger node keeps its name in node.json: the key file must
		// agree with the name it was first started with.
		if _, err := loadSettings(cfg.Dir, name); err != nil {
			return nil, "", err
		}
	}
	return key, name, nil
}

// openStore opens the PostgreSQL store at cfg.Store, or the Badger store in
// the data directory.
func openStore(cfg Config) (kv.DB, error) {
	if cfg.Store == "" {
		return openDB(cfg.Dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pgstore.Open(ctx, cfg.Store, pgstore.Options{})
}

// bindWitness records vkey in a store that has none and refuses a store
// that holds another witness's state, so that a node started with the
// wrong key file cannot cosign logs another witness followed.
func bindWitness(db kv.DB, vkey string) error {
	return db.Update(func(tx kv.Txn) error {
		v, err := tx.Get(witnessVKeyKey)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			return tx.Set(witnessVKeyKey, []byte(vkey))
		case err != nil:
			return fmt.Errorf("read the store's witness: %w", err)
		case string(v) != vkey:
			return fmt.Errorf("%w (%s), but this node's key is %s: give it the same --witness-key as the other nodes", ErrOtherWitness, v, vkey)
		}
		return nil
	})
}

// readyReuse is how long one database answer stands for every readiness
// probe, so that probes (the public /readyz included) cost the database at
// most a couple of queries a second.
const readyReuse = 500 * time.Millisecond

// readiness is the last database check behind Ready.
type readiness struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// Ready reports whether the node can serve requests: always for a Badger
// store (open while the process runs), and for PostgreSQL while the
// database answers a query within readyTimeout.
func (n *Node) Ready(ctx context.Context) error {
	p, ok := n.db.(interface{ Ping(context.Context) error })
	if !ok {
		return nil
	}
	n.ready.mu.Lock()
	defer n.ready.mu.Unlock()
	if !n.ready.at.IsZero() && time.Since(n.ready.at) < readyReuse {
		return n.ready.err
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	n.ready.err = p.Ping(ctx)
	n.ready.at = time.Now()
	return n.ready.err
}

// healthHandler serves GET /healthz (the process answers) and GET /readyz
// (it can serve: 503 while its database does not answer).
func (n *Node) healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := n.Ready(r.Context()); err != nil {
			n.log.Warn("not ready: the database does not answer", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: the database does not answer\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}

// startHealth serves healthHandler on plain HTTP at addr, for load
// balancers and orchestrators probing on a private network.
func (n *Node) startHealth(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for health checks on %s: %w", addr, err)
	}
	n.health = &http.Server{
		Handler:           n.healthHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	n.healthLn = ln
	n.wg.Go(func() {
		if err := n.health.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("health server stopped", "err", err)
		}
	})
	return nil
}

// HealthAddr is the address the health listener is on, or "" without one.
func (n *Node) HealthAddr() string {
	if n.healthLn == nil {
		return ""
	}
	return n.healthLn.Addr().String()
}

// OpenStoreOperator is the Operator over the nodes' shared database, for
// `medwallet-node enroll --store`: decisions are transactions there, seen
// by every node at once.
func OpenStoreOperator(url string) (Operator, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		return nil, err
	}
	// The operator lists and decides enrolments and never cosigns, so the
	// witness it builds signs with a throwaway key that leaves this process
	// with nothing.
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		db.Close()
		return nil, err
	}
	w, err := witness.New(db, key, "operator.invalid/enroll", witness.EnrollManual)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &localOperator{Server: w, db: db, shares: share.NewRegistry(db, share.DefaultPrefix)}, nil
}

// ImportDataDir copies the Badger store of the stopped single node in dir
// into the migrated, still empty database at url, so that a practice
// growing into several nodes keeps its enrolments, witness state and
// hosted shares. It returns how many keys it copied.
func ImportDataDir(ctx context.Context, url, dir string) (int, error) {
	if _, err := os.Stat(filepath.Join(dir, DBDir)); err != nil {
		return 0, fmt.Errorf("%s: %w", dir, ErrNoNode)
	}
	src, err := kv.OpenBadger(filepath.Join(dir, DBDir), kv.Options{})
	if errors.Is(err, kv.ErrInUse) {
		return 0, fmt.Errorf("the node in %s is running: stop it first, so nothing changes while it is copied", dir)
	}
	if err != nil {
		return 0, fmt.Errorf("open the node's store in %s: %w", dir, err)
	}
	defer src.Close()
	dst, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	return dst.Import(src)
}
