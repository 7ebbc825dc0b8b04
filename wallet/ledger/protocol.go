package ledger

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
)

// Witness protocol constants (C2SP tlog-witness), shared by the wallet's
// client and the witness server.
const (
	// AddCheckpointPath is appended to a witness's base URL.
	AddCheckpointPath = "/add-checkpoint"
	// EnrollPath is appended to a witness's base URL to ask it to follow a log.
	EnrollPath = "/enroll"
	// SizeContentType is the content type of a 409 response body.
	SizeContentType = "text/x.tlog.size"
	// MaxAddCheckpointSize bounds an add-checkpoint request body: the old size
	// line, 63 proof lines and a signed checkpoint.
	MaxAddCheckpointSize = 4<<10 + MaxCheckpointSize
	// MaxEnrollSize bounds an enrollment request or response body.
	MaxEnrollSize = 4 << 10
	// maxConsistencyHashes is the C2SP limit on consistency proof lines.
	maxConsistencyHashes = 63
)

// AddCheckpoint is the body of a C2SP tlog-witness add-checkpoint request.
type AddCheckpoint struct {
	OldSize    uint64
	Proof      [][32]byte // consistency proof from OldSize to the checkpoint's size
	Checkpoint []byte     // signed checkpoint note
}

// Marshal encodes the request body: "old N", proof lines, a blank line, the
// checkpoint.
func (a AddCheckpoint) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", a.OldSize)
	for _, h := range a.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(a.Checkpoint)
	return b.Bytes()
}

// ParseAddCheckpoint decodes an add-checkpoint request body. It checks the
// format only; signatures and the proof are the witness's job.
func ParseAddCheckpoint(body []byte) (AddCheckpoint, error) {
	if len(body) > MaxAddCheckpointSize {
		return AddCheckpoint{}, fmt.Errorf("add-checkpoint: %w: %d bytes is over the %d byte limit", ErrMalformed, len(body), MaxAddCheckpointSize)
	}
	rest := string(body)
	line := func() (string, bool) {
		l, r, ok := strings.Cut(rest, "\n")
		rest = r
		return l, ok
	}
	l, ok := line()
	old, isOld := strings.CutPrefix(l, "old ")
	if !ok || !isOld {
		return AddCheckpoint{}, fmt.Errorf("add-checkpoint: %w: first line must be \"old <size>\"", ErrMalformed)
	}
	var a AddCheckpoint
	var err error
	if a.OldSize, err = parseDecimal(old); err != nil {
		return AddCheckpoint{}, fmt.Errorf("add-checkpoint: %w: old size: %v", ErrMalformed, err)
	}
	for {
		l, ok = line()
		if !ok {
			return AddCheckpoint{}, fmt.Errorf("add-checkpoint: %w: no blank line before the checkpoint", ErrMalformed)
		}
		if l == "" {
			break
		}
		if len(a.Proof) == maxConsistencyHashes {
			return AddCheckpoint{}, fmt.Errorf("add-checkpoint: %w: more than %d consistency proof lines", ErrMalformed, maxConsistencyHashes)
		}
		h, err := parseHash(l)
		if err != nil {
			return AddCheckpoint{}, fmt.Errorf("add-checkpoint: %w: proof line %d: %v", ErrMalformed, len(a.Proof)+1, err)
		}
		a.Proof = append(a.Proof, h)
	}
	if rest == "" {
		return AddCheckpoint{}, fmt.Errorf("add-checkpoint: %w: no checkpoint", ErrMalformed)
	}
	a.Checkpoint = []byte(rest)
	return a, nil
}

// EnrollRequest asks a witness to follow a log. Name is a label for the
// witness operator (never health data).
type EnrollRequest struct {
	Origin string `json:"origin"`
	VKey   string `json:"vkey"`
	Name   string `json:"name"`
}

// Enrollment states a witness reports.
const (
	EnrollmentAccepted = "enrolled"
	EnrollmentPending  = "pending"
)

// EnrollResponse is the witness's answer: its cosigning key and whether the
// log is followed now or waits for the operator.
type EnrollResponse struct {
	Status  string `json:"status"`
	Witness string `json:"witness"` // the witness's cosignature vkey
}
