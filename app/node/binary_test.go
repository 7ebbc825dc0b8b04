package node

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildNode builds the real medwallet-node binary without cgo.
func buildNode(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "medwallet-node")
	cmd := exec.Command(goTool, "build", "-o", bin, "medwallet/cmd/medwallet-node")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/medwallet-node with CGO_ENABLED=0: %v\n%s", err, out)
	}
	return bin
}

// runningNode is the binary started in the background.
type runningNode struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	id     string
	addrs  []string
	vkey   string
	https  string // base URL of the HTTPS service, when it has one
}

func startBinary(t testing.TB, bin string, args ...string) *runningNode {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	rn := &runningNode{cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = rn.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("node exited before printing its banner:\n%s", rn.stderr.String())
			}
			field, value, _ := strings.Cut(strings.TrimSpace(l), ":")
			value = strings.TrimSpace(value)
			switch field {
			case "peer id":
				rn.id = value
			case "address":
				rn.addrs = append(rn.addrs, value)
			case "witness vkey":
				rn.vkey = value
			case "https":
				rn.https = strings.Fields(value)[0]
			case "data":
				if rn.id == "" || len(rn.addrs) == 0 || rn.vkey == "" {
					t.Fatalf("banner incomplete: id %q addrs %v vkey %q", rn.id, rn.addrs, rn.vkey)
				}
				go func() {
					for range lines {
					}
				}()
				return rn
			}
		case <-deadline:
			t.Fatalf("no banner after 30 s:\n%s", rn.stderr.String())
		}
	}
}

func (rn *runningNode) kill(t testing.TB) {
	t.Helper()
	if err := rn.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rn.cmd.Wait()
}

// enrollments asks the running binary's control socket, through the
// binary's own `enroll list --json`.
func enrollments(t *testing.T, bin, dir string) []enrollmentJSON {
	t.Helper()
	out, err := exec.Command(bin, "enroll", "list", "--json", "--data", dir).Output()
	if err != nil {
		t.Fatalf("enroll list: %v", err)
	}
	var es []enrollmentJSON
	if err := json.Unmarshal(out, &es); err != nil {
		t.Fatalf("enroll list --json: %v: %s", err, out)
	}
	return es
}

func TestRealBinarySurvivesSIGKILLWithoutLosingWitnessState(t *testing.T) {
	bin := buildNode(t)
	dir := filepath.Join(t.TempDir(), "node")
	rn := startBinary(t, bin, "--data", dir, "--listen", loopbackTCP, "--name", "binary.test/witness")

	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")
	a1 := pt.mustAnchor(t, rn.addrs[0])
	if !cosignedBy(a1, rn.vkey) {
		t.Fatalf("not cosigned by the vkey the binary printed (%s): %v", rn.vkey, a1.Cosigned)
	}
	before := enrollments(t, bin, dir)
	if len(before) != 1 || before[0].Size != a1.Checkpoint.Size {
		t.Fatalf("node state after the first anchor: %+v, want size %d", before, a1.Checkpoint.Size)
	}

	rn.kill(t)
	// Same port, so the address the wallet saved still works.
	listen := strings.Split(rn.addrs[0], "/p2p/")[0]
	rn2 := startBinary(t, bin, "--data", dir, "--listen", listen)
	if rn2.id != rn.id || rn2.vkey != rn.vkey {
		t.Fatalf("identity changed across SIGKILL: %s %s → %s %s", rn.id, rn.vkey, rn2.id, rn2.vkey)
	}
	after := enrollments(t, bin, dir)
	if len(after) != 1 || after[0].Size != a1.Checkpoint.Size || !after[0].EnrolledAt.Equal(before[0].EnrolledAt) {
		t.Fatalf("state after SIGKILL: %+v, want %+v", after, before)
	}

	pt.addNote(t, "after the crash")
	a2 := pt.mustAnchor(t) // the witness is already configured: no enrolment
	if a2.Checkpoint.Size <= a1.Checkpoint.Size || !cosignedBy(a2, rn.vkey) {
		t.Fatalf("second anchor: size %d (first %d), cosigned %v", a2.Checkpoint.Size, a1.Checkpoint.Size, a2.Cosigned)
	}
	final := enrollments(t, bin, dir)
	if final[0].Size != a2.Checkpoint.Size || !final[0].EnrolledAt.Equal(before[0].EnrolledAt) {
		t.Fatalf("state after the second anchor: %+v", final)
	}
	// One add-checkpoint, accepted at once from the size kept on disk: no
	// enrolment, and no 409 (which would mean the node had lost its size).
	log := rn2.stderr.String()
	if strings.Contains(log, "path=witness/enroll") || strings.Contains(log, "status=409") ||
		strings.Count(log, "path=witness/add-checkpoint status=200") != 1 {
		t.Fatalf("the restarted node's requests were not one consistency-proof extension:\n%s", log)
	}

	// A clean stop on SIGTERM exits 0.
	if err := rn2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := rn2.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, rn2.stderr.String())
	}
}
