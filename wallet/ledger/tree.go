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
//	log/tree            8-byte big-endian size, then the compact range of
//	                    [0, size): the roots of its perfect subtrees, left to right
//	log/node/<t><g>     node group g (8-byte big-endian) of tier t (one byte).
//
// Tier t holds the node levels 4t to 4t+3. Its base nodes are those of level
// 4t; group g covers base nodes 16g to 16g+15 and, for each base node m in
// order, stores the hashes of the tier's nodes whose rightmost base
// descendant is m: levels 4t up to 4t+min(3, trailing zeros of m+1), 32
// bytes each. Tier 0 is the leaves with the small subtrees above them.
//
// An inclusion proof in a tree of a million leaves then reads about one group
// per tier instead of one key per proof hash, and an append rewrites one
// small group per tier it touches plus the tree key.
var (
	treeKey    = []byte("log/tree")
	nodePrefix = []byte("log/node/")
)

// groupBits sets the base nodes per group (1 << groupBits) and the levels
// per tier (groupBits).
const groupBits = 4

// ErrCorrupt means the stored tree is inconsistent with itself: a node or the
// tree state is missing or has the wrong length. Restore the wallet from a
// backup; the records themselves are not affected.
var ErrCorrupt = errors.New("ledger: stored log is damaged")

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// nodePlace says where a node is stored: its tier, group and the offset of
// its hash within the group value, in hashes.
type nodePlace struct {
	tier   uint8
	group  uint64
	offset int
}

// placeOf locates node (level, index).
func placeOf(id compact.NodeID) nodePlace {
	tier := id.Level / groupBits
	base := tier * groupBits
	m := (id.Index+1)<<(id.Level-base) - 1 // rightmost base descendant
	off := int(id.Level - base)
	for j := m &^ (1<<groupBits - 1); j < m; j++ {
		off += hashesAtBase(j)
	}
	return nodePlace{tier: uint8(tier), group: m >> groupBits, offset: off}
}

// maxGroupHashes is the most hashes one group holds: 16 base nodes with their
// levels up to 3 above.
const maxGroupHashes = 1<<groupBits + 1<<(groupBits-1) + 1<<(groupBits-2) + 1<<(groupBits-3)

// hashesAtBase is how many hashes a group stores for base node m.
func hashesAtBase(m uint64) int { return 1 + min(groupBits-1, bits.TrailingZeros64(m+1)) }

func groupKey(tier uint8, group uint64) []byte {
	k := make([]byte, len(nodePrefix)+9)
	copy(k, nodePrefix)
	k[len(nodePrefix)] = tier
	binary.BigEndian.PutUint64(k[len(nodePrefix)+1:], group)
	return k
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

// openGroup is a group being extended by an append.
type openGroup struct {
	group   uint64
	hashes  []byte
	started bool
}

// appendLeaves adds leaf hashes to the stored tree and returns the index of
// the first. The tree state and each touched group are written once.
func appendLeaves(tx kv.Txn, leaves [][]byte) (uint64, error) {
	r, err := loadRange(tx)
	if err != nil {
		return 0, err
	}
	first := r.End()
	var open [64 / groupBits]openGroup
	flush := func(tier uint8) error {
		g := &open[tier]
		if !g.started {
			return nil
		}
		if err := tx.Set(groupKey(tier, g.group), g.hashes); err != nil {
			return fmt.Errorf("ledger: write node group %d/%d: %w", tier, g.group, err)
		}
		g.started = false
		return nil
	}
	var visitErr error
	visit := func(id compact.NodeID, h []byte) {
		if visitErr != nil {
			return
		}
		p := placeOf(id)
		g := &open[p.tier]
		if g.started && g.group != p.group {
			if visitErr = flush(p.tier); visitErr != nil {
				return
			}
		}
		if !g.started {
			g.group, g.hashes, g.started = p.group, nil, true
			g.hashes = make([]byte, 0, 32*maxGroupHashes)
			if p.offset > 0 {
				// Continue a group an earlier append left open.
				stored, err := tx.Get(groupKey(p.tier, p.group))
				if err != nil {
					visitErr = fmt.Errorf("%w: node group %d/%d: %v", ErrCorrupt, p.tier, p.group, err)
					return
				}
				g.hashes = append(g.hashes, stored...)
			}
		}
		if len(g.hashes) != 32*p.offset {
			visitErr = fmt.Errorf("%w: node group %d/%d is %d bytes, want %d", ErrCorrupt, p.tier, p.group, len(g.hashes), 32*p.offset)
			return
		}
		g.hashes = append(g.hashes, h...)
	}
	for _, leaf := range leaves {
		i := r.End()
		if err := r.Append(leaf, visit); err != nil {
			return 0, fmt.Errorf("%w: append leaf %d: %v", ErrCorrupt, i, err)
		}
		if visitErr != nil {
			return 0, visitErr
		}
	}
	for tier := range open {
		if err := flush(uint8(tier)); err != nil {
			return 0, err
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
	cache map[[2]uint64][]byte
}

// maxCachedGroups bounds a nodeReader's memory during a long audit.
const maxCachedGroups = 1024

func (nr *nodeReader) node(id compact.NodeID) ([]byte, error) {
	if id.Level >= 64 {
		return nil, fmt.Errorf("%w: node level %d", ErrCorrupt, id.Level)
	}
	p := placeOf(id)
	ck := [2]uint64{uint64(p.tier), p.group}
	v, ok := nr.cache[ck]
	if !ok {
		var err error
		v, err = nr.tx.Get(groupKey(p.tier, p.group))
		if errors.Is(err, kv.ErrNotFound) {
			return nil, fmt.Errorf("%w: node (%d, %d) is missing", ErrCorrupt, id.Level, id.Index)
		}
		if err != nil {
			return nil, fmt.Errorf("ledger: read node (%d, %d): %w", id.Level, id.Index, err)
		}
		if nr.cache == nil || len(nr.cache) >= maxCachedGroups {
			nr.cache = make(map[[2]uint64][]byte, 8)
		}
		nr.cache[ck] = v
	}
	end := 32 * (p.offset + 1)
	if len(v) < end || len(v)%32 != 0 {
		return nil, fmt.Errorf("%w: node (%d, %d): group is %d bytes, want at least %d", ErrCorrupt, id.Level, id.Index, len(v), end)
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
