package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"medwallet/wallet/kv"
)

const benchLeaves = 1_000_000

// benchBatch is how many appends share one transaction, as an import of a
// large bundle would.
const benchBatch = 10_000

var benchCommitments = sync.OnceValue(func() [][32]byte {
	cs := make([][32]byte, benchLeaves)
	for i := range cs {
		cs[i] = sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	}
	return cs
})

func benchLog(tb testing.TB) *Log {
	l, err := Open("medwallet/benchbenchbenchbenchbenchbe", ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func appendAll(tb testing.TB, db kv.DB, l *Log, cs [][32]byte) {
	for start := 0; start < len(cs); start += benchBatch {
		err := db.Update(func(tx kv.Txn) error {
			for _, c := range cs[start:min(start+benchBatch, len(cs))] {
				if _, err := l.Append(tx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkAppend1M appends a million leaves with persistence into Badger,
// beside the raw in-memory compact-range append of the same leaves.
func BenchmarkAppend1M(b *testing.B) {
	cs := benchCommitments()
	l := benchLog(b)
	b.Run("badger", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			db, err := kv.OpenBadger(b.TempDir(), kv.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			appendAll(b, db, l, cs)
			b.StopTimer()
			db.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N)*benchLeaves/b.Elapsed().Seconds(), "leaves/s")
	})
	b.Run("badger-batch", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			db, err := kv.OpenBadger(b.TempDir(), kv.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for start := 0; start < len(cs); start += benchBatch {
				err := db.Update(func(tx kv.Txn) error {
					_, err := l.AppendAll(tx, cs[start:min(start+benchBatch, len(cs))])
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			db.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N)*benchLeaves/b.Elapsed().Seconds(), "leaves/s")
	})
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			r := rangeFactory.NewEmptyRange(0)
			for _, c := range cs {
				leaf := LeafHash(c)
				if err := r.Append(leaf[:], nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)*benchLeaves/b.Elapsed().Seconds(), "leaves/s")
	})
}

// The 1M-leaf log for proof benchmarks is built once per test binary.
var (
	proofLogOnce sync.Once
	proofLogDB   kv.DB
	proofLogDir  string
	proofLevels  [][][32]byte // the same tree in memory, for the reference
)

func buildProofLog(b *testing.B) {
	proofLogOnce.Do(func() {
		var err error
		if proofLogDir, err = os.MkdirTemp("", "ledger-bench-"); err != nil {
			b.Fatal(err)
		}
		if proofLogDB, err = kv.OpenBadger(proofLogDir, kv.Options{}); err != nil {
			b.Fatal(err)
		}
		cs := benchCommitments()
		appendAll(b, proofLogDB, benchLog(b), cs)
		r := rangeFactory.NewEmptyRange(0)
		proofLevels = make([][][32]byte, 21)
		for _, c := range cs {
			leaf := LeafHash(c)
			r.Append(leaf[:], func(id compact.NodeID, h []byte) {
				proofLevels[id.Level] = append(proofLevels[id.Level], [32]byte(h))
			})
		}
	})
	if proofLogDB == nil {
		b.Fatal("building the 1M-leaf log failed earlier")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if proofLogDB != nil {
		proofLogDB.Close()
		os.RemoveAll(proofLogDir)
	}
	os.Exit(code)
}

// BenchmarkInclusionProof1M proves a spread of leaves of a 1M-leaf log stored
// in Badger, beside the same proofs from node hashes held in memory.
func BenchmarkInclusionProof1M(b *testing.B) {
	buildProofLog(b)
	l := benchLog(b)
	index := func(i int) uint64 { return uint64(i) * 7919 % benchLeaves }
	b.Run("badger", func(b *testing.B) {
		i := 0
		for b.Loop() {
			err := proofLogDB.View(func(tx kv.Txn) error {
				_, err := l.InclusionProof(tx, index(i), benchLeaves)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/proof")
	})
	b.Run("reference", func(b *testing.B) {
		i := 0
		for b.Loop() {
			nodes, err := proof.Inclusion(index(i), benchLeaves)
			if err != nil {
				b.Fatal(err)
			}
			hashes := make([][]byte, len(nodes.IDs))
			for j, id := range nodes.IDs {
				hashes[j] = proofLevels[id.Level][id.Index][:]
			}
			if _, err := nodes.Rehash(hashes, hashChildren); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/proof")
	})
}
