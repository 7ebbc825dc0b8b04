package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/tlog"

	"medwallet/wallet/kv"
)

// TestTreeMatchesMerkleVectors appends the leaves of transparency-dev/merkle's
// RFC 6962 test vectors and checks every root and every stored node.
func TestTreeMatchesMerkleVectors(t *testing.T) {
	db := kv.Memory()
	hasher := rfc6962.DefaultHasher
	leaves := testonly.LeafInputs()
	roots := testonly.RootHashes()
	err := db.Update(func(tx kv.Txn) error {
		for i, in := range leaves {
			idx, err := appendLeaf(tx, hasher.HashLeaf(in))
			if err != nil {
				return err
			}
			if idx != uint64(i) {
				t.Fatalf("leaf %d got index %d", i, idx)
			}
		}
		for size := range roots {
			got, err := rootAt(tx, uint64(size), uint64(len(leaves)))
			if err != nil {
				return err
			}
			if !bytes.Equal(got[:], roots[size]) {
				t.Errorf("root of size %d = %x, want %x", size, got, roots[size])
			}
		}
		nr := nodeReader{tx: tx}
		for level, hashes := range testonly.NodeHashes() {
			for index, want := range hashes {
				got, err := nr.node(compactNode(uint(level), uint64(index)))
				if err != nil {
					return err
				}
				if !bytes.Equal(got, want) {
					t.Errorf("node (%d, %d) = %x, want %x", level, index, got, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInclusionAndConsistencyMatchMerkleVectors checks proofs against the
// inclusion and consistency vectors of RFC 6962 via merkle's verifier.
func TestInclusionAndConsistencyMatchMerkleVectors(t *testing.T) {
	db := kv.Memory()
	hasher := rfc6962.DefaultHasher
	leaves := testonly.LeafInputs()
	roots := testonly.RootHashes()
	db.Update(func(tx kv.Txn) error {
		for _, in := range leaves {
			if _, err := appendLeaf(tx, hasher.HashLeaf(in)); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	db.View(func(tx kv.Txn) error {
		for size := uint64(1); size <= uint64(len(leaves)); size++ {
			for index := uint64(0); index < size; index++ {
				p, err := inclusion(tx, index, size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(hasher, index, size, hasher.HashLeaf(leaves[index]), slices32(p), roots[size]); err != nil {
					t.Errorf("inclusion of %d in %d: %v", index, size, err)
				}
			}
			for size1 := uint64(0); size1 <= size; size1++ {
				p, err := consistency(tx, size1, size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyConsistency(hasher, size1, size, slices32(p), roots[size1], roots[size]); err != nil {
					t.Errorf("consistency %d→%d: %v", size1, size, err)
				}
			}
		}
		return nil
	})
}

// TestTreeAgreesWithSumdbTlog cross-checks roots, inclusion proofs and
// consistency proofs against golang.org/x/mod/sumdb/tlog for sizes 1..300.
func TestTreeAgreesWithSumdbTlog(t *testing.T) {
	const n = 300
	db := kv.Memory()
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	commitments := make([][32]byte, n)
	err := db.Update(func(tx kv.Txn) error {
		for i := range commitments {
			commitments[i] = sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
			h, err := tlog.StoredHashes(int64(i), commitments[i][:], reader)
			if err != nil {
				return err
			}
			stored = append(stored, h...)
			leaf := LeafHash(commitments[i])
			if _, err := appendLeaf(tx, leaf[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx kv.Txn) error {
		for size := int64(1); size <= n; size++ {
			want, err := tlog.TreeHash(size, reader)
			if err != nil {
				t.Fatal(err)
			}
			got, err := rootAt(tx, uint64(size), n)
			if err != nil {
				t.Fatal(err)
			}
			if got != [32]byte(want) {
				t.Fatalf("root of size %d = %x, tlog says %x", size, got, want)
			}
			for _, index := range []int64{0, size / 3, size / 2, size - 1} {
				p, err := inclusion(tx, uint64(index), uint64(size))
				if err != nil {
					t.Fatal(err)
				}
				tp, err := tlog.ProveRecord(size, index, reader)
				if err != nil {
					t.Fatal(err)
				}
				if !sameHashes(p, tp) {
					t.Errorf("inclusion of %d in %d differs from tlog", index, size)
				}
				if err := tlog.CheckRecord(toTlog(p), size, want, index, tlog.RecordHash(commitments[index][:])); err != nil {
					t.Errorf("tlog rejects inclusion of %d in %d: %v", index, size, err)
				}
			}
			for _, size1 := range []int64{1, size / 2, size - 1} {
				if size1 < 1 {
					continue
				}
				p, err := consistency(tx, uint64(size1), uint64(size))
				if err != nil {
					t.Fatal(err)
				}
				tp, err := tlog.ProveTree(size, size1, reader)
				if err != nil {
					t.Fatal(err)
				}
				if !sameHashes(p, tp) {
					t.Errorf("consistency %d→%d differs from tlog", size1, size)
				}
			}
		}
		return nil
	})
}

func compactNode(level uint, index uint64) compact.NodeID {
	return compact.NodeID{Level: level, Index: index}
}

func slices32(p [][32]byte) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

func toTlog(p [][32]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i := range p {
		out[i] = tlog.Hash(p[i])
	}
	return out
}

func sameHashes(a [][32]byte, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != [32]byte(b[i]) {
			return false
		}
	}
	return true
}

// TestAppendAllStoresWhatAppendStores checks the batch path against leaf by
// leaf appends, across transactions that end mid-group.
func TestAppendAllStoresWhatAppendStores(t *testing.T) {
	one, batch := kv.Memory(), kv.Memory()
	l, err := Open("medwallet/test", make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	var cs [][32]byte
	for i := range 100 {
		cs = append(cs, sha256.Sum256([]byte{byte(i)}))
	}
	for _, c := range cs {
		one.Update(func(tx kv.Txn) error { _, err := l.Append(tx, c); return err })
	}
	for _, cut := range [][2]int{{0, 7}, {7, 7}, {7, 16}, {16, 33}, {33, 100}} {
		err := batch.Update(func(tx kv.Txn) error {
			first, err := l.AppendAll(tx, cs[cut[0]:cut[1]])
			if err == nil && first != uint64(cut[0]) {
				t.Errorf("batch %v starts at %d", cut, first)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dump := func(db kv.DB) map[string]string {
		m := map[string]string{}
		db.View(func(tx kv.Txn) error {
			return tx.Iterate([]byte("log/"), func(k, v []byte) error { m[string(k)] = string(v); return nil })
		})
		return m
	}
	a, b := dump(one), dump(batch)
	if len(a) != len(b) || len(a) != 1+(100+15)/16+1 {
		t.Fatalf("%d keys one by one, %d in batches", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("key %q differs", k)
		}
	}
}
