package backup

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"filippo.io/age"

	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// benchAttachMiB is the attachment volume of the benchmark wallet:
// MEDWALLET_BENCH_ATTACH_MB, else 500 (32 with -short).
func benchAttachMiB() int {
	if v, err := strconv.Atoi(os.Getenv("MEDWALLET_BENCH_ATTACH_MB")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 32
	}
	return 500
}

var syntheaFixtures = []string{
	"Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json",
	"Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json",
	"Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json",
	"Tobie_Rempel_38cde5fd-1861-44db-b7cc-58769b464658.json",
	"Fletcher_Hyatt_fe0562b5-f517-4951-8366-32fdab088930.json",
}

// benchWallet holds the five Synthea patients and attachments of 16 MiB
// each adding up to benchAttachMiB.
func benchWallet(b *testing.B) (*wallet.Wallet, keys.RecoveryKey) {
	b.Helper()
	w, rk, err := wallet.Create(filepath.Join(b.TempDir(), "w"), testPass, testKDF)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	for _, f := range syntheaFixtures {
		if _, err := w.Import(b.Context(), filepath.Base(filepath.Join(fixtureDir, "fhir/synthea", f)), readImportFile(b, filepath.Join(fixtureDir, "fhir/synthea", f)), wallet.ImportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	left := int64(benchAttachMiB()) << 20
	for i := 0; left > 0; i++ {
		n := min(left, 16<<20)
		left -= n
		a, err := w.WriteAttachment("scan.dcm", "application/dicom", io.LimitReader(rand.NewChaCha8([32]byte{byte(i)}), n))
		if err != nil {
			b.Fatal(err)
		}
		doc := []byte(`{"resourceType":"DocumentReference","id":"scan-` + strconv.Itoa(i) + `","status":"current","content":[{"attachment":{"contentType":"application/dicom"}}]}`)
		if _, err := w.AddWithAttachments(doc, wallet.Source{Type: wallet.SourceImport}, []wallet.Attachment{a}); err != nil {
			b.Fatal(err)
		}
	}
	return w, rk
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkBackup backs the wallet up to a file; .../age-reference
// encrypts the same number of bytes with age (X25519) to a file, in the
// same run.
func BenchmarkBackup(b *testing.B) {
	w, _ := benchWallet(b)
	var size int64
	b.Run("backup", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "b.age")
		for b.Loop() {
			st, err := WriteFile(b.Context(), w, path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			size = st.Bytes
		}
		b.SetBytes(size)
	})
	b.Run("age-reference", func(b *testing.B) {
		id, _ := age.GenerateX25519Identity()
		buf := make([]byte, 1<<20)
		path := filepath.Join(b.TempDir(), "ref.age")
		for b.Loop() {
			f, _ := os.Create(path)
			aw, _ := age.Encrypt(f, id.Recipient())
			for left := size; left > 0; left -= int64(len(buf)) {
				aw.Write(buf[:min(left, int64(len(buf)))])
			}
			aw.Close()
			f.Sync()
			f.Close()
		}
		b.SetBytes(size)
	})
}

// BenchmarkRestore restores that backup into a new directory; the reference
// decrypts the same backup with age and writes the plaintext to a file.
func BenchmarkRestore(b *testing.B) {
	w, rk := benchWallet(b)
	path := filepath.Join(b.TempDir(), "b.age")
	st, err := WriteFile(b.Context(), w, path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			dir := filepath.Join(b.TempDir(), "r")
			if _, err := RestoreFile(b.Context(), path, dir, Key{RecoveryKey: &rk}, RestoreOptions{}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(dir)
			b.StartTimer()
		}
		b.SetBytes(st.Bytes)
	})
	b.Run("age-reference", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "plain")
		for b.Loop() {
			f, _ := os.Open(path)
			r, err := age.Decrypt(f, &recoveryIdentity{rk: rk})
			if err != nil {
				b.Fatal(err)
			}
			o, _ := os.Create(out)
			io.Copy(o, r)
			o.Sync()
			o.Close()
			f.Close()
		}
		b.SetBytes(st.Bytes)
	})
}
