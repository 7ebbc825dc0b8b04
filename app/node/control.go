package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
)

// The control endpoint: while the node runs it holds the Badger lock, so
// `medwallet-node enroll …` cannot open the store itself. It talks instead
// to the running node over HTTP on a unix socket in the data directory
// (node.sock, 0600, in a 0700 directory): only the account that runs the
// node (and root) can reach it, and it is never on the network.
//
//	GET  /enrollments           → [Enrollment]
//	POST /enrollments/approve   {"origin": …} → 204, 404 unknown, 409 not pending
//	POST /enrollments/reject    {"origin": …} → 204, 404 unknown, 409 not pending
//	POST /enrollments/remove    {"origin": …} → 200 {"shares": n}, 404 unknown

const maxControlBody = 4 << 10

type controlServer struct {
	srv  *http.Server
	ln   net.Listener
	path string
	done chan struct{}
}

type originRequest struct {
	Origin string `json:"origin"`
}

func (n *Node) startControl() error {
	path := filepath.Join(n.cfg.Dir, ControlSocket)
	// The node holds the store's lock, so a socket left here is from a
	// node that was killed: remove it.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /enrollments", func(w http.ResponseWriter, r *http.Request) {
		es, err := n.Witness.Logs()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if es == nil {
			es = []witness.Enrollment{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(es)
	})
	decide := func(fn func(string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			origin, ok := readOrigin(w, r)
			if !ok {
				return
			}
			req := originRequest{Origin: origin}
			err := fn(req.Origin)
			switch {
			case err == nil:
				n.log.Info("enrollment decided", "action", r.URL.Path, "origin", req.Origin)
				w.WriteHeader(http.StatusNoContent)
			case errors.Is(err, witness.ErrUnknownLog):
				http.Error(w, err.Error(), http.StatusNotFound)
			case errors.Is(err, witness.ErrNotPending):
				http.Error(w, err.Error(), http.StatusConflict)
			default:
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		}
	}
	mux.HandleFunc("POST /enrollments/approve", decide(n.Witness.Approve))
	mux.HandleFunc("POST /enrollments/reject", decide(n.Witness.Reject))
	mux.HandleFunc("POST /enrollments/remove", func(w http.ResponseWriter, r *http.Request) {
		origin, ok := readOrigin(w, r)
		if !ok {
			return
		}
		k, err := n.RemoveLog(origin)
		switch {
		case errors.Is(err, witness.ErrUnknownLog):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n.log.Info("log removed by the operator", "origin", origin, "shares_deleted", k)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(removeResult{Shares: k})
	})
	c := &controlServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second},
		ln:   ln,
		path: path,
		done: make(chan struct{}),
	}
	go func() {
		defer close(c.done)
		c.srv.Serve(ln)
	}()
	n.control = c
	return nil
}

// removeResult is the answer to a removal: how many hosted shares went.
type removeResult struct {
	Shares int `json:"shares"`
}

func readOrigin(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req originRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil || json.Unmarshal(body, &req) != nil || req.Origin == "" {
		http.Error(w, `the body must be {"origin": "<log origin>"}`, http.StatusBadRequest)
		return "", false
	}
	return req.Origin, true
}

func (c *controlServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c.srv.Shutdown(ctx) != nil {
		c.srv.Close()
	}
	<-c.done
	os.Remove(c.path)
}

// Operator is what `medwallet-node enroll` works through: the running node
// (over its control socket) or, when none runs, the data directory itself.
type Operator interface {
	// Logs lists every enrollment, followed and pending, in origin order.
	Logs() ([]witness.Enrollment, error)
	// Approve starts following a pending log; Reject drops it. Both return
	// errors wrapping witness.ErrUnknownLog or witness.ErrNotPending.
	Approve(origin string) error
	Reject(origin string) error
	// Remove forgets a log, pending or followed, and deletes the shares
	// the node hosts for it; it returns how many. Errors wrap
	// witness.ErrUnknownLog.
	Remove(origin string) (int, error)
	Close() error
}

// ErrNoNode means the data directory holds no node.
var ErrNoNode = errors.New("no medwallet-node data here: start the node once, or give its directory with --data (or, for nodes on PostgreSQL, the database with --store)")

// OpenOperator reaches the node whose data directory is dir: the running
// node over its control socket (whatever its store), else its Badger store.
func OpenOperator(dir string) (Operator, error) {
	sock := filepath.Join(dir, ControlSocket)
	if c, err := dialControl(sock); err == nil {
		return c, nil
	}
	if _, err := os.Stat(filepath.Join(dir, WitnessKeyFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoNode)
	}
	db, err := kv.OpenBadger(filepath.Join(dir, DBDir), kv.Options{})
	if errors.Is(err, kv.ErrInUse) {
		return nil, fmt.Errorf("the node in %s is running but its control socket %s does not answer: restart the node, then try again", dir, sock)
	}
	if err != nil {
		return nil, fmt.Errorf("open the node's store in %s: %w", dir, err)
	}
	set, err := loadSettings(dir, "")
	if err != nil {
		db.Close()
		return nil, err
	}
	key, _, err := loadOrCreateKey(filepath.Join(dir, WitnessKeyFile))
	if err != nil {
		db.Close()
		return nil, err
	}
	// The policy does not matter here: the operator only decides.
	w, err := witness.New(db, key, set.WitnessName, witness.EnrollManual)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &localOperator{Server: w, db: db, shares: share.NewRegistry(db, share.DefaultPrefix)}, nil
}

type localOperator struct {
	*witness.Server
	db     kv.DB
	shares *share.Registry
}

func (o *localOperator) Remove(origin string) (int, error) {
	return removeLog(o.db, o.Server, o.shares, origin)
}

func (o *localOperator) Close() error { return o.db.Close() }

// controlClient is an Operator over the running node's control socket.
type controlClient struct {
	hc *http.Client
}

func dialControl(sock string) (*controlClient, error) {
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return nil, err
	}
	conn.Close()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}
	return &controlClient{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

func (c *controlClient) Logs() ([]witness.Enrollment, error) {
	resp, err := c.hc.Get("http://node/enrollments")
	if err != nil {
		return nil, fmt.Errorf("ask the running node: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("ask the running node: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the running node refused: %s", bytes.TrimSpace(body))
	}
	var es []witness.Enrollment
	if err := json.Unmarshal(body, &es); err != nil {
		return nil, fmt.Errorf("the running node's answer: %w", err)
	}
	return es, nil
}

func (c *controlClient) decide(action, origin string) error {
	b, _ := json.Marshal(originRequest{Origin: origin})
	resp, err := c.hc.Post("http://node/enrollments/"+action, "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("ask the running node: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", witness.ErrUnknownLog, origin)
	case http.StatusConflict:
		return fmt.Errorf("%w: %s", witness.ErrNotPending, origin)
	}
	return fmt.Errorf("the running node refused: %d %s", resp.StatusCode, bytes.TrimSpace(body))
}

func (c *controlClient) Remove(origin string) (int, error) {
	b, _ := json.Marshal(originRequest{Origin: origin})
	resp, err := c.hc.Post("http://node/enrollments/remove", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("ask the running node: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		var res removeResult
		if err := json.Unmarshal(body, &res); err != nil {
			return 0, fmt.Errorf("the running node's answer: %w", err)
		}
		return res.Shares, nil
	case http.StatusNotFound:
		return 0, fmt.Errorf("%w: %s", witness.ErrUnknownLog, origin)
	}
	return 0, fmt.Errorf("the running node refused: %d %s", resp.StatusCode, bytes.TrimSpace(body))
}

func (c *controlClient) Approve(origin string) error { return c.decide("approve", origin) }
func (c *controlClient) Reject(origin string) error  { return c.decide("reject", origin) }
func (c *controlClient) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}
