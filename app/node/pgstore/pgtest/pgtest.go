// Package pgtest starts a throwaway PostgreSQL server for tests: Debian's
// server binaries (/usr/lib/postgresql/*/bin), a cluster in a temporary
// directory owned by an unprivileged account, listening only on 127.0.0.1
// on a free port and on a unix socket inside that directory. It never
// touches a system cluster and never listens beyond loopback.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestUser is the account the Makefile creates to run test servers as when
// the tests run as root (postgres refuses to run as root); "nobody" is the
// fallback.
const TestUser = "medwallet-test"

// Server is a running test cluster.
type Server struct {
	// URL reaches the "postgres" database as the superuser "postgres".
	URL  string
	Port int
	Dir  string

	bin    string
	runAs  string // "" when the tests do not run as root
	dbSeq  atomic.Int64
	logger string
}

// Start initialises a cluster in a new temporary directory and starts it.
func Start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		s.runAs = TestUser
		if _, err := user.Lookup(TestUser); err != nil {
			s.runAs = "nobody"
		}
	}
	base := ""
	if s.runAs != "" {
		// The unprivileged account must reach the directory: $TMPDIR of
		// root may be private, /tmp never is.
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "medwallet-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: temporary directory: %w", err)
	}
	s.Dir = dir
	if s.runAs != "" {
		u, err := user.Lookup(s.runAs)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root and no %s or nobody account to run postgres as: %w", TestUser, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: give %s to %s: %w", dir, s.runAs, err)
		}
	}
	s.logger = filepath.Join(dir, "postgres.log")
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		s.remove()
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			s.remove()
			return nil, err
		}
		// fsync off: a test cluster need not survive a power cut, and the
		// node's own crash tests kill the node, never the database.
		opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
		out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", s.logger, "-o", opts)
		if err == nil {
			s.Port = port
			s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return s, nil
		}
		log, _ := os.ReadFile(s.logger)
		lastErr = fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	s.remove()
	return nil, fmt.Errorf("pgtest: %w", lastErr)
}

// findBin finds the newest Debian PostgreSQL server binaries, or initdb on
// PATH.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pgtest: no PostgreSQL server found (install Debian's postgresql package: make deps-test)")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// run runs one of the server's programs, as the unprivileged account when
// the tests run as root.
func (s *Server) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd.CombinedOutput()
}

func (s *Server) remove() { os.RemoveAll(s.Dir) }

// Stop stops the server at once and removes its directory.
func (s *Server) Stop() {
	s.run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", filepath.Join(s.Dir, "data"))
	s.remove()
}

// NewDatabase creates an empty database for one test and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return strings.Replace(s.URL, "/postgres?", "/"+name+"?", 1)
}

// Main is a TestMain body: it runs the tests and stops the server if one
// of them started it (through Require).
func Main(m *testing.M) {
	code := m.Run()
	StopServer()
	os.Exit(code)
}

// StopServer stops the server Require started, if any, for a TestMain that
// has more to do than Main.
func StopServer() {
	if current != nil {
		current.Stop()
	}
}

var (
	once     sync.Once
	current  *Server
	startErr error
)

// Require returns the package's test server, starting it on first use. When
// it cannot start the test is skipped saying why, except under CI (env CI
// set), where it fails: CI must never skip the PostgreSQL tests. The
// package's TestMain must call Main, which stops the server.
func Require(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { current, startErr = Start() })
	if current == nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL test server did not start (CI is set, so this fails): %v", startErr)
		}
		t.Skipf("no PostgreSQL test server (install Debian's postgresql package, e.g. make deps-test; under CI this fails): %v", startErr)
	}
	return current
}
