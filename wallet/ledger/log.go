package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"

	"medwallet/wallet/kv"
)

// Log is one wallet's append-only log of record commitments. It holds only
// the origin and the signing key; all state lives in the kv, so every method
// that reads or writes takes the caller's transaction.
type Log struct {
	origin   string
	signer   noteSigner
	verifier note.Verifier
	vkey     string
}

var (
	latestKey    = []byte("log/checkpoint/latest")
	witnessedKey = []byte("log/checkpoint/witnessed")
)

// ErrNotAnchored means no signed checkpoint covers the record yet: sign (sync)
// the log first.
var ErrNotAnchored = errors.New("ledger: record is not covered by a signed checkpoint yet; sync the log first")

// Open returns the log with the given origin, signing with key (the wallet's
// log-signing key). It reads nothing: the tree lives in the kv.
func Open(origin string, key ed25519.PrivateKey) (*Log, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, fmt.Errorf("ledger: open log: %w", err)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("ledger: open log %s: Ed25519 private key is %d bytes, want %d", origin, len(key), ed25519.PrivateKeySize)
	}
	pub := key.Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return nil, fmt.Errorf("ledger: open log %s: %w", origin, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: open log %s: %w", origin, err)
	}
	return &Log{origin: origin, signer: noteSigner{name: origin, hash: v.KeyHash(), key: key}, verifier: v, vkey: vkey}, nil
}

// noteSigner is an Ed25519 (type 0x01) note signer over a raw private key.
type noteSigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
}

func (s noteSigner) Name() string                    { return s.name }
func (s noteSigner) KeyHash() uint32                 { return s.hash }
func (s noteSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }

// Origin is the log's origin line.
func (l *Log) Origin() string { return l.origin }

// Signer is the log key as a note signer named by the origin. Besides
// checkpoints, the wallet signs its share uploads and relay requests to a
// clinic node with it (see share.UploadAuth): those statements begin with a
// line no checkpoint can have, so neither kind of signature stands for the
// other.
func (l *Log) Signer() note.Signer { return l.signer }

// VerifierKey is the log's C2SP note verifier key (vkey), named by the origin.
func (l *Log) VerifierKey() string { return l.vkey }

// Append adds one record version's commitment as the next leaf, inside the
// caller's transaction so it lands atomically with the record, and returns
// the leaf's index.
func (l *Log) Append(tx kv.Txn, commitment [32]byte) (uint64, error) {
	leaf := LeafHash(commitment)
	return appendLeaf(tx, leaf[:])
}

// AppendAll adds many commitments in order (an import of many records in one
// transaction) and returns the index of the first; commitment i gets index
// first+i. It writes the tree state once instead of once per leaf.
func (l *Log) AppendAll(tx kv.Txn, commitments [][32]byte) (first uint64, err error) {
	leaves := make([][]byte, len(commitments))
	for i, c := range commitments {
		h := LeafHash(c)
		leaves[i] = h[:]
	}
	return appendLeaves(tx, leaves)
}

// Size is the number of leaves in the log.
func (l *Log) Size(tx kv.Txn) (uint64, error) { return treeSize(tx) }

// Root is the root hash of the log's first size leaves, for any size up to
// the current one.
func (l *Log) Root(tx kv.Txn, size uint64) ([32]byte, error) {
	current, err := treeSize(tx)
	if err != nil {
		return [32]byte{}, err
	}
	return rootAt(tx, size, current)
}

// InclusionProof proves leaf index is in the tree of the given size.
func (l *Log) InclusionProof(tx kv.Txn, index, size uint64) ([][32]byte, error) {
	current, err := treeSize(tx)
	if err != nil {
		return nil, err
	}
	if size > current || index >= size {
		return nil, fmt.Errorf("ledger: inclusion proof for leaf %d in size %d: %w (the log has %d leaves)", index, size, ErrBeyondLog, current)
	}
	return inclusion(tx, index, size)
}

// ConsistencyProof proves the tree of size1 is a prefix of the tree of size2.
func (l *Log) ConsistencyProof(tx kv.Txn, size1, size2 uint64) ([][32]byte, error) {
	current, err := treeSize(tx)
	if err != nil {
		return nil, err
	}
	if size1 > size2 || size2 > current {
		return nil, fmt.Errorf("ledger: consistency proof from %d to %d: %w (the log has %d leaves)", size1, size2, ErrBeyondLog, current)
	}
	return consistency(tx, size1, size2)
}

// storedCheckpoint is a signed checkpoint as the wallet keeps it: the note
// with the log signature and every cosignature collected so far.
type storedCheckpoint struct {
	Note     []byte    `json:"note"`
	SignedAt time.Time `json:"signed_at"`
}

func readStored(tx kv.Txn, key []byte) (*storedCheckpoint, error) {
	v, err := tx.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: read %s: %w", key, err)
	}
	var s storedCheckpoint
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, key, err)
	}
	return &s, nil
}

func writeStored(tx kv.Txn, key []byte, s *storedCheckpoint) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("ledger: encode %s: %w", key, err)
	}
	if err := tx.Set(key, v); err != nil {
		return fmt.Errorf("ledger: write %s: %w", key, err)
	}
	return nil
}

// openOwn opens a checkpoint note this log signed, checking the log signature.
func (l *Log) openOwn(signed []byte) (Checkpoint, *note.Note, error) {
	n, err := note.Open(signed, note.VerifierList(l.verifier))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: stored checkpoint does not verify with the log key: %v", ErrCorrupt, err)
	}
	cp, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: stored checkpoint: %v", ErrCorrupt, err)
	}
	if cp.Origin != l.origin {
		return Checkpoint{}, nil, fmt.Errorf("%w: stored checkpoint is for origin %q, not %q", ErrCorrupt, cp.Origin, l.origin)
	}
	return cp, n, nil
}

// Sign signs a checkpoint of the log's current size, keeps it as the latest
// signed checkpoint and returns the signed note. If the latest checkpoint
// already covers the current tree it is returned unchanged, with whatever
// cosignatures it has collected.
func (l *Log) Sign(tx kv.Txn, now time.Time) ([]byte, error) {
	r, err := loadRange(tx)
	if err != nil {
		return nil, err
	}
	cp := Checkpoint{Origin: l.origin, Size: r.End(), Root: rootOfRange(r.Hashes())}
	latest, err := readStored(tx, latestKey)
	if err != nil {
		return nil, err
	}
	if latest != nil {
		old, _, err := l.openOwn(latest.Note)
		if err != nil {
			return nil, err
		}
		switch {
		case old == cp:
			return latest.Note, nil
		case old.Size >= cp.Size:
			return nil, fmt.Errorf("%w: the last signed checkpoint has size %d but the tree has %d leaves with another root", ErrCorrupt, old.Size, cp.Size)
		}
		// A checkpoint the tree no longer extends would make every later
		// proof a fork; refuse to sign over it.
		oldRoot, err := rootAt(tx, old.Size, cp.Size)
		if err != nil {
			return nil, err
		}
		if oldRoot != old.Root {
			return nil, fmt.Errorf("%w: the tree no longer matches the last signed checkpoint (size %d)", ErrCorrupt, old.Size)
		}
	}
	signed, err := note.Sign(&note.Note{Text: string(cp.Body())}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("ledger: sign checkpoint of size %d: %w", cp.Size, err)
	}
	if err := writeStored(tx, latestKey, &storedCheckpoint{Note: signed, SignedAt: now.UTC()}); err != nil {
		return nil, err
	}
	return signed, nil
}

// SignedCheckpoint is a checkpoint the wallet signed, with the cosignatures
// it has collected from its witnesses.
type SignedCheckpoint struct {
	Checkpoint
	Note     []byte // the signed note: log signature and cosignatures
	SignedAt time.Time
}

// Latest returns the most recently signed checkpoint, or ErrNotAnchored if the
// log was never signed.
func (l *Log) Latest(tx kv.Txn) (SignedCheckpoint, error) {
	s, err := readStored(tx, latestKey)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	if s == nil {
		return SignedCheckpoint{}, ErrNotAnchored
	}
	cp, _, err := l.openOwn(s.Note)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	return SignedCheckpoint{Checkpoint: cp, Note: s.Note, SignedAt: s.SignedAt}, nil
}

// countCosignatures counts signature lines other than the log's own.
func (l *Log) countCosignatures(n *note.Note) int {
	c := len(n.UnverifiedSigs)
	for _, s := range n.Sigs {
		if s.Name != l.origin || s.Hash != l.verifier.KeyHash() {
			c++
		}
	}
	return c
}

// Prove returns the proof bundle for leaf index against the best signed
// checkpoint that covers it: of the latest checkpoint and the latest one that
// was cosigned, the one with more cosignatures (the newer on a tie). The salt
// is the record version's salt; it travels in the proof's extra line.
func (l *Log) Prove(tx kv.Txn, index uint64, salt [32]byte) (Proof, error) {
	var best *note.Note
	var bestCP Checkpoint
	bestCount := -1
	for _, key := range [][]byte{latestKey, witnessedKey} {
		s, err := readStored(tx, key)
		if err != nil {
			return Proof{}, err
		}
		if s == nil {
			continue
		}
		cp, n, err := l.openOwn(s.Note)
		if err != nil {
			return Proof{}, err
		}
		if index >= cp.Size {
			continue
		}
		if c := l.countCosignatures(n); c > bestCount {
			best, bestCP, bestCount = n, cp, c
		}
	}
	if best == nil {
		return Proof{}, fmt.Errorf("prove leaf %d: %w", index, ErrNotAnchored)
	}
	hashes, err := inclusion(tx, index, bestCP.Size)
	if err != nil {
		return Proof{}, err
	}
	signed, err := note.Sign(best)
	if err != nil {
		return Proof{}, fmt.Errorf("ledger: prove leaf %d: re-encode checkpoint: %w", index, err)
	}
	return Proof{Salt: salt, LogKey: l.vkey, Index: index, Hashes: hashes, Checkpoint: signed}, nil
}

// Audit is the result of comparing the wallet's records with its log.
type Audit struct {
	Size      uint64   // leaves in the log
	Checked   int      // record versions compared
	Differing []uint64 // indexes whose record does not match the log's leaf, or that the log does not have
	Damaged   []uint64 // leaves whose stored tree nodes do not recompute
	RootOK    bool     // the recomputed root equals the stored tree state
	SignedOK  bool     // the latest signed checkpoint (if any) matches the recomputed tree
}

// OK reports whether records, tree and checkpoint all agree.
func (a Audit) OK() bool {
	return len(a.Differing) == 0 && len(a.Damaged) == 0 && a.RootOK && a.SignedOK
}

// Audit recomputes the log from its stored leaves, checks every stored node,
// the tree state and the latest signed checkpoint, and compares each
// (index, commitment) pair the records yield with the log's leaf. Indexes the
// records do not mention (deleted records) are not reported.
func (l *Log) Audit(tx kv.Txn, records func(yield func(index uint64, commitment [32]byte) bool)) (Audit, error) {
	want := make(map[uint64][32]byte)
	var a Audit
	records(func(index uint64, commitment [32]byte) bool {
		want[index] = LeafHash(commitment)
		a.Checked++
		return true
	})
	stored, err := loadRange(tx)
	if err != nil {
		return a, err
	}
	a.Size = stored.End()
	var signed *Checkpoint
	if s, err := readStored(tx, latestKey); err != nil {
		return a, err
	} else if s != nil {
		cp, _, err := l.openOwn(s.Note)
		if err != nil {
			return a, err
		}
		signed = &cp
	}
	a.SignedOK = signed == nil

	// Recompute the tree from the stored leaves (tier 0 holds each leaf as
	// the first hash stored for it) and compare every interior node.
	r := rangeFactory.NewEmptyRange(0)
	nr := nodeReader{tx: tx}
	next := uint64(0) // the next leaf expected
	appendLeaf := func(i uint64, leaf []byte) error {
		damaged := leaf == nil
		if leaf == nil {
			leaf = make([]byte, 32)
		}
		err := r.Append(leaf, func(id compact.NodeID, h []byte) {
			if id.Level == 0 {
				return
			}
			if stored, err := nr.node(id); err != nil || !bytes.Equal(stored, h) {
				damaged = true
			}
		})
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if damaged {
			a.Damaged = append(a.Damaged, i)
		}
		if signed != nil && r.End() == signed.Size {
			a.SignedOK = rootOfRange(r.Hashes()) == signed.Root
		}
		next = i + 1
		return nil
	}
	skip := func(upTo uint64) error { // leaves whose group is missing or short
		for next < upTo && next < a.Size {
			if err := appendLeaf(next, nil); err != nil {
				return err
			}
		}
		return nil
	}
	tier0 := append(bytes.Clone(nodePrefix), 0)
	err = tx.Iterate(tier0, func(key, value []byte) error {
		if len(key) != len(tier0)+8 {
			return fmt.Errorf("%w: node key %q", ErrCorrupt, key)
		}
		g := binary.BigEndian.Uint64(key[len(tier0):])
		if a.Size == 0 || g > (a.Size-1)>>groupBits {
			return nil // a group past the end of the tree is never read
		}
		if err := skip(g << groupBits); err != nil {
			return err
		}
		for i := g << groupBits; i < (g+1)<<groupBits && i < a.Size; i++ {
			n := hashesAtBase(i)
			if len(value) < 32*n {
				return skip((g + 1) << groupBits)
			}
			leaf := value[:32]
			value = value[32*n:]
			if w, ok := want[i]; ok && [32]byte(leaf) != w {
				a.Differing = append(a.Differing, i)
			}
			delete(want, i)
			if err := appendLeaf(i, leaf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return a, fmt.Errorf("ledger: audit: %w", err)
	}
	if err := skip(a.Size); err != nil {
		return a, fmt.Errorf("ledger: audit: %w", err)
	}
	if signed != nil && signed.Size == 0 {
		a.SignedOK = signed.Root == emptyRoot
	}
	a.RootOK = rootOfRange(r.Hashes()) == rootOfRange(stored.Hashes())
	for i := range want {
		a.Differing = append(a.Differing, i)
	}
	slices.Sort(a.Differing)
	return a, nil
}
