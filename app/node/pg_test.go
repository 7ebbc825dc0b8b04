package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"medwallet/app/node/pgstore"
	"medwallet/app/node/pgstore/pgtest"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopServer()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	builtDir  string
	builtBin  string
	buildErr  error
)

// sharedBinary builds the real medwallet-node once for every test of the
// package that runs several processes.
func sharedBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		if builtDir, buildErr = os.MkdirTemp("", "medwallet-node-bin-"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(builtDir, "medwallet-node")
		cmd := exec.Command(goTool, "build", "-o", builtBin, "medwallet/cmd/medwallet-node")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/medwallet-node with CGO_ENABLED=0: %v", buildErr)
	}
	return builtBin
}

// migratedStore is a fresh database on the test server, migrated.
func migratedStore(t testing.TB) string {
	t.Helper()
	url := pgtest.Require(t).NewDatabase(t)
	if _, _, err := pgstore.Migrate(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	return url
}

// witnessKeyFile writes a shared witness key as `keygen` does.
func witnessKeyFile(t testing.TB, name string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "witness.key")
	if _, err := WriteWitnessKey(file, name); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestStoreNodeNeedsAWitnessKeyAndKeepsNoSharedStateInItsDirectory(t *testing.T) {
	store := migratedStore(t)
	dir := filepath.Join(t.TempDir(), "node")
	if _, err := Start(Config{Dir: dir, ListenAddrs: []string{loopbackTCP}, Store: store}); !errors.Is(err, ErrNoWitnessKey) {
		t.Fatalf("start with --store and no --witness-key: %v", err)
	}
	n := startNode(t, Config{Dir: dir, Store: store, WitnessKeyFile: witnessKeyFile(t, "store.test/witness")})
	if got := n.Witness.Key().Name; got != "store.test/witness" {
		t.Fatalf("witness name %q, want the key file's", got)
	}
	n.Close()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	// witness.counter is this node's own: the highest cosignature counter
	// it has seen, to notice a database restored from an older backup.
	if strings.Join(names, ",") != IdentityKeyFile+","+WitnessCounterFile {
		t.Fatalf("data directory of a PostgreSQL node holds %v, want only %s and %s", names, IdentityKeyFile, WitnessCounterFile)
	}
}

func TestStoreNodeRefusesAnUnmigratedDatabaseSayingToMigrate(t *testing.T) {
	url := pgtest.Require(t).NewDatabase(t)
	_, err := Start(Config{Dir: filepath.Join(t.TempDir(), "n"), ListenAddrs: []string{loopbackTCP}, Store: url, WitnessKeyFile: witnessKeyFile(t, "store.test/witness")})
	if !errors.Is(err, pgstore.ErrNotMigrated) || !strings.Contains(err.Error(), "medwallet-node migrate") {
		t.Fatalf("start on an unmigrated database: %v", err)
	}
}

// TestNodeWithAnotherWitnessKeyCannotJoinTheStore: a node started with the
// wrong key file would cosign logs the deployment's witness follows under
// another key, splitting what patients see; the store refuses it.
func TestNodeWithAnotherWitnessKeyCannotJoinTheStore(t *testing.T) {
	store := migratedStore(t)
	startNode(t, Config{Store: store, WitnessKeyFile: witnessKeyFile(t, "store.test/witness")})
	_, err := Start(Config{Dir: filepath.Join(t.TempDir(), "n2"), ListenAddrs: []string{loopbackTCP}, Store: store, WitnessKeyFile: witnessKeyFile(t, "store.test/witness")})
	if !errors.Is(err, ErrOtherWitness) {
		t.Fatalf("second node with another key: %v, want ErrOtherWitness", err)
	}
}

func TestWitnessKeyFileReadableByOthersIsRefused(t *testing.T) {
	file := witnessKeyFile(t, "store.test/witness")
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keygen wrote mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		os.Chmod(file, mode)
		if _, _, err := LoadWitnessKey(file); !errors.Is(err, ErrKeyFileExposed) || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %o: %v, want ErrKeyFileExposed", mode, err)
		}
	}
}

func TestKeygenNeverOverwritesAKey(t *testing.T) {
	file := witnessKeyFile(t, "store.test/witness")
	before, _ := os.ReadFile(file)
	if _, err := WriteWitnessKey(file, "store.test/witness"); err == nil {
		t.Fatal("keygen overwrote an existing key file")
	}
	after, _ := os.ReadFile(file)
	if sha256.Sum256(before) != sha256.Sum256(after) {
		t.Fatal("the existing key changed")
	}
}

func TestWitnessKeyFileWithoutANameOrWithABadOneIsRefused(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, Config{Dir: filepath.Join(dir, "badger")})
	n.Close()
	// A data directory's witness.key has no name in it.
	if _, _, err := LoadWitnessKey(filepath.Join(dir, "badger", WitnessKeyFile)); err == nil || !strings.Contains(err.Error(), "keygen") {
		t.Fatalf("key without a name: %v", err)
	}
	file := witnessKeyFile(t, "store.test/witness")
	b, _ := os.ReadFile(file)
	os.WriteFile(file, []byte(strings.Replace(string(b), "store.test/witness", "bad name+x", 1)), 0o600)
	if _, _, err := LoadWitnessKey(file); err == nil {
		t.Fatal("a key file naming an invalid witness was accepted")
	}
}

func TestWitnessKeyNameMustMatchABadgerNodesFixedName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	startNode(t, Config{Dir: dir, Name: "first.name/w"}).Close()
	_, err := Start(Config{Dir: dir, ListenAddrs: []string{loopbackTCP}, WitnessKeyFile: witnessKeyFile(t, "other.name/w")})
	if !errors.Is(err, ErrNameChanged) {
		t.Fatalf("key file with another name on an existing node: %v", err)
	}
}

func TestReadyzFollowsTheDatabaseAndHealthzTheProcess(t *testing.T) {
	pgtest.Require(t) // skips (or fails under CI) when no server can start
	own, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	store := own.NewDatabase(t)
	if _, _, err := pgstore.Migrate(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, Config{Store: store, WitnessKeyFile: witnessKeyFile(t, "store.test/witness"), HealthAddr: "127.0.0.1:0"})
	get := func(path string) int {
		resp, err := http.Get("http://" + n.HealthAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/healthz") != 200 || get("/readyz") != 200 {
		t.Fatalf("healthz %d readyz %d with the database up", get("/healthz"), get("/readyz"))
	}
	// The same endpoints on the node's own handler (HTTPS and libp2p).
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Fatalf("readyz on the node's handler: %d", rec.Code)
	}
	own.Stop()
	// One answer stands for readyReuse; the next probe asks the database.
	got := get("/readyz")
	for deadline := time.Now().Add(10 * time.Second); got == 200 && time.Now().Before(deadline); got = get("/readyz") {
		time.Sleep(readyReuse / 5)
	}
	if got != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database stopped: %d, want 503", got)
	}
	if got := get("/healthz"); got != 200 {
		t.Fatalf("healthz with the database stopped: %d, want 200 (the process is alive)", got)
	}
}

func TestMigrateKeygenAndEnrollCommandsOnAStore(t *testing.T) {
	url := pgtest.Require(t).NewDatabase(t)
	run := func(args ...string) (int, string) {
		var out, errb strings.Builder
		code := Main(context.Background(), args, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run("migrate"); code != 2 || !strings.Contains(out, "--store") {
		t.Fatalf("migrate without a store: %d %s", code, out)
	}
	if code, out := run("migrate", "--store", url); code != 0 || !strings.Contains(out, "from version 0 to") {
		t.Fatalf("migrate: %d %s", code, out)
	}
	t.Setenv(EnvStore, url)
	if code, out := run("migrate"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate again from $%s: %d %s", EnvStore, code, out)
	}
	key := filepath.Join(t.TempDir(), "w.key")
	if code, out := run("keygen", "-o", key, "--name", "cli.test/witness"); code != 0 || !strings.Contains(out, "cli.test/witness+") {
		t.Fatalf("keygen: %d %s", code, out)
	}
	if code, _ := run("keygen", "-o", key); code != 1 {
		t.Fatalf("keygen over an existing file exited %d, want 1", code)
	}
	n := startNode(t, Config{Store: url, WitnessKeyFile: key, Policy: witness.EnrollManual})
	l := newTestLog(t)
	if _, err := n.Witness.Enroll(ledger.EnrollRequest{Origin: l.log.Origin(), VKey: l.log.VerifierKey(), Name: "desk 3"}); err != nil {
		t.Fatal(err)
	}
	// Through the database, not the node's socket: any machine with the URL.
	if code, out := run("enroll", "list", "--json"); code != 0 || !strings.Contains(out, `"pending"`) {
		t.Fatalf("enroll list --store: %d %s", code, out)
	}
	if code, out := run("enroll", "approve", l.log.Origin()); code != 0 {
		t.Fatalf("enroll approve --store: %d %s", code, out)
	}
	if _, pending, found := followedSize(t, n, l.log.Origin()); !found || pending {
		t.Fatalf("the running node does not see the approval (found %v, pending %v)", found, pending)
	}
}

func TestEnrollThroughARunningStoreNodesDataDirectory(t *testing.T) {
	n := startNode(t, Config{Store: migratedStore(t), WitnessKeyFile: witnessKeyFile(t, "store.test/witness")})
	op, err := OpenOperator(n.Dir())
	if err != nil {
		t.Fatalf("enroll --data of a running PostgreSQL node: %v", err)
	}
	defer op.Close()
	if _, err := op.Logs(); err != nil {
		t.Fatal(err)
	}
	n.Close()
	if _, err := OpenOperator(n.Dir()); !errors.Is(err, ErrNoNode) || !strings.Contains(err.Error(), "--store") {
		t.Fatalf("enroll --data of a stopped PostgreSQL node: %v, want ErrNoNode pointing to --store", err)
	}
}

// TestASingleNodeGrowsIntoSeveralKeepingItsWitnessAndShares: a practice's
// node moves to PostgreSQL. Its witness key and name go into a key file,
// its store into the database, and the nodes that start on it are the same
// witness, at the same size for every log, hosting the same shares.
func TestASingleNodeGrowsIntoSeveralKeepingItsWitnessAndShares(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "single")
	single := startNode(t, Config{Dir: dir, Name: "grow.test/witness"})
	l := newTestLog(t)
	if _, err := single.Witness.Enroll(ledger.EnrollRequest{Origin: l.log.Origin(), VKey: l.log.VerifierKey(), Name: "patient"}); err != nil {
		t.Fatal(err)
	}
	signed := l.grow(3, "before")
	if _, err := single.Witness.AddCheckpoint(l.request(0, signed)); err != nil {
		t.Fatal(err)
	}
	sh, err := share.NewShare(share.Options{Files: []share.File{{ContentType: share.ContentFHIR, JWE: testJWE("BBBB")}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := single.Shares.Put(sh); err != nil {
		t.Fatal(err)
	}
	vkey := single.WitnessKey()
	single.Close()

	run := func(args ...string) (int, string) {
		var out, errb strings.Builder
		code := Main(context.Background(), args, &out, &errb)
		return code, out.String() + errb.String()
	}
	key := filepath.Join(t.TempDir(), "witness.key")
	if code, out := run("keygen", "-o", key, "--from-data", dir, "--name", "other/name"); code != 2 {
		t.Fatalf("keygen --from-data with another --name: %d %s", code, out)
	}
	if code, out := run("keygen", "-o", key, "--from-data", dir); code != 0 || !strings.Contains(out, vkey) {
		t.Fatalf("keygen --from-data: %d %s, want the node's vkey %s", code, out, vkey)
	}
	url := pgtest.Require(t).NewDatabase(t)
	if code, out := run("migrate", "--store", url, "--from-data", dir); code != 0 || !strings.Contains(out, "copied") {
		t.Fatalf("migrate --from-data: %d %s", code, out)
	}
	if code, out := run("migrate", "--store", url, "--from-data", dir); code != 1 || !strings.Contains(out, "already holds") {
		t.Fatalf("importing twice: %d %s, want a refusal", code, out)
	}
	a := startNode(t, Config{Store: url, WitnessKeyFile: key})
	b := startNode(t, Config{Store: url, WitnessKeyFile: key})
	if a.WitnessKey() != vkey || b.WitnessKey() != vkey {
		t.Fatalf("vkeys %s and %s after the move, want %s", a.WitnessKey(), b.WitnessKey(), vkey)
	}
	if size, _, found := followedSize(t, b, l.log.Origin()); !found || size != 3 {
		t.Fatalf("log after the move: found %v at size %d, want 3", found, size)
	}
	replay := httptest.NewRecorder()
	a.Witness.ServeHTTP(replay, httptest.NewRequest(http.MethodPost, ledger.AddCheckpointPath, bytes.NewReader(l.request(0, signed))))
	if replay.Code != http.StatusConflict {
		t.Fatalf("replaying size 3 from 0 after the move: %d %s, want 409", replay.Code, replay.Body)
	}
	if _, err := b.Witness.AddCheckpoint(l.request(3, l.grow(1, "after"))); err != nil {
		t.Fatalf("extending the log after the move: %v", err)
	}
	if _, err := a.Shares.Get(sh.ID); err != nil {
		t.Fatalf("hosted share after the move: %v", err)
	}
}
