package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// MaxProofSize bounds a proof bundle: header, extra line, 64 hashes and a
// signed checkpoint.
const MaxProofSize = 4<<10 + MaxCheckpointSize

const proofHeader = "c2sp.org/tlog-proof@v1"

// Proof is a C2SP tlog-proof bundle for one record version. Its extra line
// carries the record's 32-byte salt followed by the log's vkey, so that a
// receiver can recompute the commitment and check the log signature offline.
type Proof struct {
	Salt       [32]byte
	LogKey     string     // the log's note verifier key
	Index      uint64     // the leaf's index in the log
	Hashes     [][32]byte // RFC 6962 inclusion proof, leaf's sibling first
	Checkpoint []byte     // the signed checkpoint note, with cosignatures
}

// Marshal encodes the proof in the C2SP tlog-proof text format.
func (p Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(proofHeader + "\nextra ")
	b.WriteString(base64.StdEncoding.EncodeToString(append(p.Salt[:len(p.Salt):len(p.Salt)], p.LogKey...)))
	fmt.Fprintf(&b, "\nindex %d\n", p.Index)
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseProof decodes a C2SP tlog-proof bundle written by Marshal. It checks
// the format only; Verify checks what the proof claims.
func ParseProof(text []byte) (Proof, error) {
	if len(text) > MaxProofSize {
		return Proof{}, fmt.Errorf("proof: %w: %d bytes is over the %d byte limit", ErrMalformed, len(text), MaxProofSize)
	}
	rest := string(text)
	line := func() (string, bool) {
		l, r, ok := strings.Cut(rest, "\n")
		rest = r
		return l, ok
	}
	if l, ok := line(); !ok || l != proofHeader {
		return Proof{}, fmt.Errorf("proof: %w: first line is not %q", ErrMalformed, proofHeader)
	}
	var p Proof
	l, ok := line()
	extra, isExtra := strings.CutPrefix(l, "extra ")
	if !ok || !isExtra {
		return Proof{}, fmt.Errorf("proof: %w: no extra line with the record's salt", ErrMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(extra)
	if err != nil || len(raw) < 32 {
		return Proof{}, fmt.Errorf("proof: %w: extra line is not base64 of a 32-byte salt and the log key", ErrMalformed)
	}
	p.Salt = [32]byte(raw)
	p.LogKey = string(raw[32:])
	l, ok = line()
	idx, isIndex := strings.CutPrefix(l, "index ")
	if !ok || !isIndex {
		return Proof{}, fmt.Errorf("proof: %w: no index line", ErrMalformed)
	}
	if p.Index, err = parseDecimal(idx); err != nil {
		return Proof{}, fmt.Errorf("proof: %w: index: %v", ErrMalformed, err)
	}
	for {
		l, ok = line()
		if !ok {
			return Proof{}, fmt.Errorf("proof: %w: no blank line before the checkpoint", ErrMalformed)
		}
		if l == "" {
			break
		}
		if len(p.Hashes) == 64 {
			return Proof{}, fmt.Errorf("proof: %w: more than 64 inclusion hashes", ErrMalformed)
		}
		h, err := parseHash(l)
		if err != nil {
			return Proof{}, fmt.Errorf("proof: %w: inclusion hash %d: %v", ErrMalformed, len(p.Hashes), err)
		}
		p.Hashes = append(p.Hashes, h)
	}
	if rest == "" {
		return Proof{}, fmt.Errorf("proof: %w: no checkpoint", ErrMalformed)
	}
	p.Checkpoint = []byte(rest)
	return p, nil
}

// Status is what an offline check says about one record.
type Status int

const (
	// NotAnchored: there is no proof, or the record is newer than the last
	// signed checkpoint. Nothing is wrong, nothing is vouched for.
	NotAnchored Status = iota
	// SignedOnly: the patient's log signed a checkpoint that includes the
	// record, but too few trusted witnesses cosigned it.
	SignedOnly
	// Witnessed: the log signed it and a quorum of trusted witnesses cosigned.
	Witnessed
	// Tampered: the record, its proof or a signature does not match.
	Tampered
)

func (s Status) String() string {
	switch s {
	case NotAnchored:
		return "not anchored"
	case SignedOnly:
		return "signed by the patient only"
	case Witnessed:
		return "witnessed"
	case Tampered:
		return "TAMPERED"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Cosignature is a verified cosignature from a trusted witness.
type Cosignature struct {
	Witness WitnessKey
	Time    time.Time
}

// Result is the outcome of verifying one record's proof.
type Result struct {
	Status    Status
	Reason    string // why, in words for a person
	Origin    string // the log's origin, once known
	Index     uint64
	Size      uint64        // the checkpoint's size
	Witnesses []Cosignature // trusted witnesses whose cosignatures verified
}

// Verify checks a record against its proof bundle offline: it recomputes
// commitment, leaf and root, checks the log signature with the key the proof
// carries, and counts cosignatures from trusted witnesses against quorum
// (values below 1 mean 1).
func Verify(resource, proofText []byte, trusted []WitnessKey, quorum int) Result {
	return VerifyPinned(resource, proofText, "", trusted, quorum)
}

// VerifyPinned is Verify for a receiver that already knows the patient's log
// key: the proof must carry exactly that key.
func VerifyPinned(resource, proofText []byte, logKey string, trusted []WitnessKey, quorum int) Result {
	if len(bytes.TrimSpace(proofText)) == 0 {
		return Result{Status: NotAnchored, Reason: "the record has no log proof"}
	}
	p, err := ParseProof(proofText)
	if err != nil {
		return Result{Status: Tampered, Reason: err.Error()}
	}
	res := Result{Index: p.Index}
	tampered := func(format string, args ...any) Result {
		res.Status, res.Reason, res.Witnesses = Tampered, fmt.Sprintf(format, args...), nil
		return res
	}
	if logKey != "" && p.LogKey != logKey {
		return tampered("the proof names log key %q, not the expected %q", p.LogKey, logKey)
	}
	lv, err := logVerifier(p.LogKey)
	if err != nil {
		return tampered("the proof's log key is unusable: %v", err)
	}
	verifiers := []note.Verifier{lv}
	seen := map[string]bool{}
	for _, k := range trusted {
		if s := k.String(); !seen[s] && !(k.Name == lv.Name() && k.keyID() == lv.KeyHash()) {
			seen[s] = true
			verifiers = append(verifiers, k.Verifier())
		}
	}
	n, err := note.Open(p.Checkpoint, note.VerifierList(verifiers...))
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &invalid):
		return tampered("the checkpoint's signature by %s does not verify", invalid.Name)
	case err != nil:
		return tampered("the checkpoint is not signed by the log key: %v", err)
	}
	cp, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return tampered("%v", err)
	}
	res.Origin, res.Size = cp.Origin, cp.Size
	if cp.Origin != lv.Name() {
		return tampered("the checkpoint is for log %q but the key is for %q", cp.Origin, lv.Name())
	}
	logSigned := false
	for _, s := range n.Sigs {
		if s.Name == lv.Name() && s.Hash == lv.KeyHash() {
			logSigned = true
			continue
		}
		for _, k := range trusted {
			if s.Name == k.Name && s.Hash == k.keyID() {
				t, err := cosignatureTime(s)
				if err != nil {
					return tampered("%v", err)
				}
				res.Witnesses = append(res.Witnesses, Cosignature{Witness: k, Time: t})
				break
			}
		}
	}
	if !logSigned {
		return tampered("the checkpoint is not signed by the log key")
	}
	if p.Index >= cp.Size {
		res.Status, res.Witnesses = NotAnchored, nil
		res.Reason = fmt.Sprintf("the record (leaf %d) is newer than the checkpoint (size %d)", p.Index, cp.Size)
		return res
	}
	rh, err := ResourceHash(resource)
	if err != nil {
		return tampered("the record cannot be hashed: %v", err)
	}
	leaf := LeafHash(Commitment(p.Salt, rh))
	hashes := make([][]byte, len(p.Hashes))
	for i := range p.Hashes {
		hashes[i] = p.Hashes[i][:]
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, cp.Size, leaf[:], hashes, cp.Root[:]); err != nil {
		return tampered("the record does not match leaf %d of the log: %v", p.Index, err)
	}
	if quorum < 1 {
		quorum = 1
	}
	if len(res.Witnesses) >= quorum {
		res.Status = Witnessed
		res.Reason = fmt.Sprintf("included at leaf %d of %s, cosigned by %d trusted witness(es)", p.Index, cp.Origin, len(res.Witnesses))
		return res
	}
	res.Status = SignedOnly
	res.Reason = fmt.Sprintf("included at leaf %d and signed by the patient's log, but cosigned by %d of the %d trusted witnesses required", p.Index, len(res.Witnesses), quorum)
	return res
}
