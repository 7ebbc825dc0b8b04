package wallet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

func syntheaFixtures(b *testing.B) (names []string, data [][]byte, total int64) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "fhir/synthea/*.json"))
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		names = append(names, filepath.Base(f))
		data = append(data, d)
		total += int64(len(d))
	}
	return names, data, total
}

// BenchmarkImport imports the five Synthea bundles into a fresh wallet.
// The reference does only the unavoidable work on the same bytes: decode
// the JSON, seal each resource, write them in one Badger batch.
func BenchmarkImport(b *testing.B) {
	names, data, total := syntheaFixtures(b)
	b.Run("wallet", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			w, _, err := Create(filepath.Join(b.TempDir(), "w"), passphrase, testKDF)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for i := range data {
				if _, err := w.Import(context.Background(), names[i], data[i], ImportOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			w.Close()
			b.StartTimer()
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.SetBytes(total)
		key := make([]byte, 32)
		for b.Loop() {
			b.StopTimer()
			db, err := kv.OpenBadger(b.TempDir(), kv.Options{EncryptionKey: key})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for _, d := range data {
				var bundle struct {
					Entry []struct {
						Resource json.RawMessage `json:"resource"`
					} `json:"entry"`
				}
				if err := json.Unmarshal(d, &bundle); err != nil {
					b.Fatal(err)
				}
				err := db.Update(func(tx kv.Txn) error {
					for i, e := range bundle.Entry {
						k := fmt.Appendf(nil, "r/%d", i)
						if err := tx.Set(k, keys.Seal(key, e.Resource, k)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			db.Close()
			b.StartTimer()
		}
	})
}

const bigWalletSize = 100_000

var (
	bigOnce sync.Once
	bigDir  string
	bigErr  error
)

// bigWallet builds (once per run) a wallet of 100,000 lab results with
// varied codes, dates and values, and returns its directory, closed.
func bigWallet(b *testing.B) string {
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "medwallet-bench-")
		if bigErr != nil {
			return
		}
		var w *Wallet
		w, _, bigErr = Create(filepath.Join(bigDir, "w"), passphrase, testKDF)
		if bigErr != nil {
			return
		}
		defer w.Close()
		codes := []struct{ code, display, unit string }{
			{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%"},
			{"2339-0", "Glucose [Mass/volume] in Blood", "mg/dL"},
			{"29463-7", "Body weight", "kg"},
			{"8867-4", "Heart rate", "/min"},
			{"2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL"},
			{"718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL"},
		}
		start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
		const chunk = 10_000
		for c := 0; c < bigWalletSize/chunk && bigErr == nil; c++ {
			var nd []byte
			for i := c * chunk; i < (c+1)*chunk; i++ {
				k := codes[i%len(codes)]
				obs := map[string]any{
					"resourceType": "Observation", "id": fmt.Sprintf("obs-%d", i), "status": "final",
					"category": []any{map[string]any{"coding": []any{map[string]any{
						"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}}}},
					"code":              map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": k.code, "display": k.display}}, "text": k.display},
					"effectiveDateTime": start.Add(time.Duration(i) * 4 * time.Hour).Format(time.RFC3339),
					"valueQuantity":     map[string]any{"value": 4 + float64(i%900)/10, "unit": k.unit},
				}
				line, _ := json.Marshal(obs)
				nd = append(append(nd, line...), '\n')
			}
			_, bigErr = w.Import(context.Background(), fmt.Sprintf("chunk-%d.ndjson", c), nd, ImportOptions{})
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return filepath.Join(bigDir, "w")
}

func openBig(b *testing.B) *Wallet {
	w, err := Open(bigWallet(b), passphrase)
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkSearch100k runs list and search queries over 100,000 records
// beside a raw Badger iteration over the same record keys.
func BenchmarkSearch100k(b *testing.B) {
	w := openBig(b)
	if w.Count() != bigWalletSize {
		b.Fatalf("%d records", w.Count())
	}
	queries := map[string]Query{
		"list-all":      {},
		"own-all":       {Own: true}, // the records list: every record but those received
		"text-glucose":  {Text: "glucose"},
		"kind-and-date": {Kinds: []fhir.Kind{fhir.KindLab}, From: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)},
		"code":          {Code: "http://loinc.org|4548-4"},
		"text-rare":     {Text: "cholesterol 49.9"},
	}
	w.Search(Query{}) // sort once, as the first list does
	for name, q := range queries {
		b.Run(name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				n = len(w.Search(q))
			}
			b.ReportMetric(float64(n), "results")
		})
	}
	m, _ := w.Master()
	enc := m.Key(keys.PurposeBadger)
	dir := w.Dir()
	w.Close()
	b.Run("reference-badger-key-iteration", func(b *testing.B) {
		db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, dbDir)).WithLogger(nil).
			WithEncryptionKey(enc).WithIndexCacheSize(64 << 20))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			n := 0
			db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixHead)})
				defer it.Close()
				for it.Rewind(); it.Valid(); it.Next() {
					n++
				}
				return nil
			})
			if n != bigWalletSize {
				b.Fatalf("%d keys", n)
			}
		}
	})
}

// BenchmarkOpen100k is unlock to a usable index at 100,000 records, with
// the key derivation excluded (cheap KDF), beside reading the same heads
// through the sealed store without building the index.
func BenchmarkOpen100k(b *testing.B) {
	dir := bigWallet(b)
	b.Run("wallet", func(b *testing.B) {
		for b.Loop() {
			w, err := Open(dir, passphrase)
			if err != nil {
				b.Fatal(err)
			}
			w.Search(Query{Limit: 50})
			b.StopTimer()
			w.Close()
			b.StartTimer()
		}
	})
	b.Run("reference-read-heads", func(b *testing.B) {
		w, err := Open(dir, passphrase)
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		for b.Loop() {
			n := 0
			w.db.View(func(tx kv.Txn) error {
				return tx.Iterate([]byte(prefixHead), func(k, v []byte) error { n++; return nil })
			})
		}
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	for _, d := range bigCleanup {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
