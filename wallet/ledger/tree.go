package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"medwallet/wallet/kv"
)

// Storage layout, all under "log/":
//
//	log/tree          8-byte big-endian size, then the compact range of
//	                  [0, size): the roots of its perfect subtrees, left to right
//	log/node/<g>      leaf group g (8-byte big-endian): for each leaf i from
//	                  16g to 16g+15 in order, the hashes of every node whose
//	                  rightmost leaf is i, levels 0 .. trailing zeros of i+1,
//	                  32 bytes each. Node (level L, index k) therefore lives
//	                  with leaf (k+1)<<L - 1.
//
// Grouping sixteen leaves per key keeps Badger's write amplification low;
// appending rewrites one small group value and the tree key, and a proof
// reads one group per proof hash.
var (
	treeKey    = []byte("log/tree")
	nodePrefix = []byte("log/node/")
)

// groupBits sets the leaves per node group: 1 << groupBits.
const groupBits = 4

// ErrCorrupt means the stored tree is inconsistent with itself: a node or the
// tree state is missing or has the wrong length. Restore the wallet from a
// backup; the records themselves are not affected.
var ErrCorrupt = errors.New("ledger: stored log is damaged")

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

func groupKey(group uint64) []byte {
	k := make([]byte, len(nodePrefix)+8)
	copy(k, nodePrefix)
	binary.BigEndian.PutUint64(k[len(nodePrefix):], group)
	return k
}

// nodesOf is how many node hashes are stored with leaf i.
func nodesOf(i uint64) int { return 1 + bits.TrailingZeros64(i+1) }

// offsetInGroup is where leaf i's hashes start in its group value, in hashes.
func offsetInGroup(i uint64) int {
	off := 0
	for j := i &^ (1<<groupBits - 1); j < i; j++ {
		off += nodesOf(j)
	}
	return off
}

// loadRange reads the compact range [0, size) of the stored tree.
func loadRange(tx kv.Txn) (*compact.Range, error) {
	v, err := tx.Get(treeKey)
	if errors.Is(err, kv.ErrNotFound) {
		return rangeFactory.NewEmptyRange(0), nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: read tree state: %w", err)
	}
	if len(v) < 8 || (len(v)-8)%32 != 0 {
		return nil, fmt.Errorf("%w: tree state is %d bytes", ErrCorrupt, len(v))
	}
	size := binary.BigEndian.Uint64(v)
	hashes := make([][]byte, (len(v)-8)/32)
	for i := range hashes {
		hashes[i] = v[8+32*i : 8+32*i+32 : 8+32*i+32]
	}
	r, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("%w: tree state: %v", ErrCorrupt, err)
	}
	return r, nil
}

func storeRange(tx kv.Txn, r *compact.Range) error {
	hashes := r.Hashes()
	v := make([]byte, 8, 8+32*len(hashes))
	binary.BigEndian.PutUint64(v, r.End())
	for _, h := range hashes {
		v = append(v, h...)
	}
	if err := tx.Set(treeKey, v); err != nil {
		return fmt.Errorf("ledger: write tree state: %w", err)
	}
	return nil
}

// appendLeaves adds leaf hashes to the stored tree and returns the index of
// the first. The tree state and each touched group are written once.
func appendLeaves(tx kv.Txn, leaves [][]byte) (uint64, error) {
	r, err := loadRange(tx)
	if err != nil {
		return 0, err
	}
	first := r.End()
	var group []byte
	if first&(1<<groupBits-1) != 0 && len(leaves) > 0 {
		// Continue the group the last append left open.
		if group, err = tx.Get(groupKey(first >> groupBits)); err != nil {
			return 0, fmt.Errorf("%w: node group of leaf %d: %v", ErrCorrupt, first, err)
		}
		if len(group) != 32*offsetInGroup(first) {
			return 0, fmt.Errorf("%w: node group of leaf %d is %d bytes", ErrCorrupt, first, len(group))
		}
	}
	visit := func(_ compact.NodeID, h []byte) { group = append(group, h...) }
	for _, leaf := range leaves {
		i := r.End()
		if err := r.Append(leaf, visit); err != nil {
			return 0, fmt.Errorf("%w: append leaf %d: %v", ErrCorrupt, i, err)
		}
		if (i+1)&(1<<groupBits-1) == 0 {
			if err := tx.Set(groupKey(i>>groupBits), group); err != nil {
				return 0, fmt.Errorf("ledger: write leaf %d: %w", i, err)
			}
			group = make([]byte, 0, 32*(2<<groupBits))
		}
	}
	if end := r.End(); end&(1<<groupBits-1) != 0 && len(leaves) > 0 {
		if err := tx.Set(groupKey(end>>groupBits), group); err != nil {
			return 0, fmt.Errorf("ledger: write leaf %d: %w", end-1, err)
		}
	}
	if err := storeRange(tx, r); err != nil {
		return 0, err
	}
	return first, nil
}

// appendLeaf adds one leaf hash to the stored tree and returns its index.
func appendLeaf(tx kv.Txn, leafHash []byte) (uint64, error) {
	return appendLeaves(tx, [][]byte{leafHash})
}

// nodeReader reads stored node hashes, remembering the groups it fetched so
// that nodes in the same group cost one Get.
type nodeReader struct {
	tx    kv.Txn
	cache map[uint64][]byte
}

func (nr *nodeReader) node(id compact.NodeID) ([]byte, error) {
	if id.Level >= 64 {
		return nil, fmt.Errorf("%w: node level %d", ErrCorrupt, id.Level)
	}
	leaf := (id.Index+1)<<id.Level - 1
	g := leaf >> groupBits
	v, ok := nr.cache[g]
	if !ok {
		var err error
		v, err = nr.tx.Get(groupKey(g))
		if errors.Is(err, kv.ErrNotFound) {
			return nil, fmt.Errorf("%w: nodes of leaf %d are missing", ErrCorrupt, leaf)
		}
		if err != nil {
			return nil, fmt.Errorf("ledger: read nodes of leaf %d: %w", leaf, err)
		}
		if nr.cache == nil {
			nr.cache = make(map[uint64][]byte, 4)
		}
		nr.cache[g] = v
	}
	end := 32 * (offsetInGroup(leaf) + int(id.Level) + 1)
	if len(v) < end || len(v)%32 != 0 {
		return nil, fmt.Errorf("%w: nodes of leaf %d: group is %d bytes, want at least %d", ErrCorrupt, leaf, len(v), end)
	}
	return v[end-32 : end], nil
}

func (nr *nodeReader) nodes(ids []compact.NodeID) ([][]byte, error) {
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := nr.node(id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return hashes, nil
}

// treeSize is the number of leaves in the stored tree.
func treeSize(tx kv.Txn) (uint64, error) {
	v, err := tx.Get(treeKey)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: read tree state: %w", err)
	}
	if len(v) < 8 {
		return 0, fmt.Errorf("%w: tree state is %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// rootOfRange folds a compact range starting at 0 into its root hash.
func rootOfRange(hashes [][]byte) [32]byte {
	if len(hashes) == 0 {
		return emptyRoot
	}
	root := hashes[len(hashes)-1]
	for i := len(hashes) - 2; i >= 0; i-- {
		root = hashChildren(hashes[i], root)
	}
	return [32]byte(root)
}

// rootAt computes the root of the first size leaves from stored nodes.
func rootAt(tx kv.Txn, size, current uint64) ([32]byte, error) {
	if size > current {
		return [32]byte{}, fmt.Errorf("ledger: root of size %d: %w (the log has %d leaves)", size, ErrBeyondLog, current)
	}
	nr := nodeReader{tx: tx}
	hashes, err := nr.nodes(compact.RangeNodes(0, size, nil))
	if err != nil {
		return [32]byte{}, err
	}
	return rootOfRange(hashes), nil
}

// ErrBeyondLog means a size or index past the end of the log was asked for.
var ErrBeyondLog = errors.New("beyond the end of the log")

func inclusion(tx kv.Txn, index, size uint64) ([][32]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("ledger: inclusion proof for %d in %d: %w", index, size, err)
	}
	return rehash(tx, nodes)
}

func consistency(tx kv.Txn, size1, size2 uint64) ([][32]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("ledger: consistency proof from %d to %d: %w", size1, size2, err)
	}
	return rehash(tx, nodes)
}

func rehash(tx kv.Txn, nodes proof.Nodes) ([][32]byte, error) {
	nr := nodeReader{tx: tx}
	hashes, err := nr.nodes(nodes.IDs)
	if err != nil {
		return nil, err
	}
	// Rehash writes into the slice; the cached node values stay intact because
	// only the slice headers are replaced.
	hashes, err = nodes.Rehash(hashes, hashChildren)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	out := make([][32]byte, len(hashes))
	for i, h := range hashes {
		out[i] = [32]byte(h)
	}
	return out, nil
}
