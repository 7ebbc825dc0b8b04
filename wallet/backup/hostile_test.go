package backup

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"medwallet/wallet"
)

// rawTarHeader is a ustar header block built by hand, for member types and
// sizes archive/tar's writer refuses to produce.
func rawTarHeader(name string, typeflag byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000600\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], fmt.Sprintf("%011o\x00", 0))
	b[156] = typeflag
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func padBlock(data []byte) []byte {
	if r := len(data) % 512; r != 0 {
		data = append(data, make([]byte, 512-r)...)
	}
	return data
}

// paxRecord encodes "LEN key=value\n", LEN counting itself.
func paxRecord(k, v string) string {
	rest := " " + k + "=" + v + "\n"
	n := len(rest) + 1
	for len(strconv.Itoa(n))+len(rest) != n {
		n++
	}
	return strconv.Itoa(n) + rest
}

// archiveWith is the crafted backup's info and wallet.json, then raw, then
// the end-of-archive blocks.
func archiveWith(c *crafted, raw []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range c.members[:2] {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.data)), Mode: 0o600})
		tw.Write(m.data)
	}
	tw.Flush()
	buf.Write(raw)
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

func (c *crafted) attachmentName(t *testing.T) string {
	for _, m := range c.members {
		if strings.HasPrefix(m.name, prefixAttached) {
			return m.name
		}
	}
	t.Fatal("the crafted backup has no attachment")
	return ""
}

// recordingSink counts what reached it after the header.
type recordingSink struct {
	discardSink
	attachments, kvs int
}

func (s *recordingSink) kv(_, _ []byte) error { s.kvs++; return nil }
func (s *recordingSink) attachment(_ string, _ int64, r io.Reader) error {
	s.attachments++
	_, err := io.Copy(io.Discard, r)
	return err
}

// TestRestoreRefusesSparseTarMember plays someone who hands over a 5 KB
// "backup" whose attachment is a PAX GNU sparse file declaring 16 GiB of
// holes: archive/tar reads the holes back as zeros, so a restore that
// trusted it would write 16 GiB before any hash failed.
func TestRestoreRefusesSparseTarMember(t *testing.T) {
	c := newCrafted(t)
	name := c.attachmentName(t)
	realSize := MaxAttachmentFileSize
	pax := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", strconv.FormatInt(realSize, 10))
	sparseMap := padBlock([]byte("1\n0\n512\n"))
	data := bytes.Repeat([]byte{7}, 512)
	var raw []byte
	raw = append(raw, rawTarHeader("PaxHeaders/x", tar.TypeXHeader, int64(len(pax)))...)
	raw = append(raw, padBlock([]byte(pax))...)
	raw = append(raw, rawTarHeader("GNUSparseFile.0/x", tar.TypeReg, int64(len(sparseMap)+len(data)))...)
	raw = append(raw, sparseMap...)
	raw = append(raw, data...)
	plain := archiveWith(c, raw)

	// The tar reader does present it as a 16 GiB regular file.
	tr := tar.NewReader(bytes.NewReader(plain))
	for range 3 {
		if _, err := tr.Next(); err != nil {
			t.Fatalf("the crafted archive does not parse: %v", err)
		}
	}
	// No size or capacity bound stops it here: only the sparse check.
	sink := &recordingSink{}
	_, err := readArchive(bytes.NewReader(plain), sink, 0)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "sparse") {
		t.Fatalf("readArchive = %v, want ErrDamaged naming a sparse file", err)
	}
	if sink.attachments != 0 {
		t.Fatal("the sparse member reached the sink")
	}

	sealed := c.seal(t, plain)
	if len(sealed) > 8<<10 {
		t.Fatalf("the hostile backup is %d bytes; the attack is a small file", len(sealed))
	}
	parent := t.TempDir()
	_, err = Restore(t.Context(), bytes.NewReader(sealed), filepath.Join(parent, "r"), Key{RecoveryKey: &c.rk}, RestoreOptions{})
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("Restore = %v, want ErrDamaged", err)
	}
	assertNothingWritten(t, parent)
}

// TestRestoreRefusesSpecialTarMembers: links, devices, fifos, directories
// and old-style GNU sparse members under a valid attachment name are
// refused from their header.
func TestRestoreRefusesSpecialTarMembers(t *testing.T) {
	c := newCrafted(t)
	name := c.attachmentName(t)
	for what, typeflag := range map[string]byte{
		"symbolic link":  tar.TypeSymlink,
		"hard link":      tar.TypeLink,
		"char device":    tar.TypeChar,
		"block device":   tar.TypeBlock,
		"fifo":           tar.TypeFifo,
		"directory":      tar.TypeDir,
		"old GNU sparse": tar.TypeGNUSparse,
		"contiguous":     tar.TypeCont,
	} {
		t.Run(what, func(t *testing.T) {
			hdr := rawTarHeader(name, typeflag, 0)
			if typeflag == tar.TypeSymlink || typeflag == tar.TypeLink {
				copy(hdr[157:257], "../../../../etc/passwd")
				copy(hdr[148:156], "        ")
				sum := 0
				for _, c := range hdr {
					sum += int(c)
				}
				copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
			}
			plain := archiveWith(c, hdr)
			sink := &recordingSink{}
			if _, err := readArchive(bytes.NewReader(plain), sink, 0); !errors.Is(err, ErrDamaged) {
				t.Fatalf("readArchive = %v, want ErrDamaged", err)
			}
			if sink.attachments != 0 || sink.kvs != 0 {
				t.Fatal("the member reached the sink")
			}
			if err := c.restore(t, plain); !errors.Is(err, ErrDamaged) {
				t.Fatalf("Restore = %v, want ErrDamaged", err)
			}
		})
	}
}

// TestRestoreRefusesMemberLargerThanTheBackup: a regular member declaring
// more bytes than the whole backup file holds is refused from its header,
// before a byte of it is written.
func TestRestoreRefusesMemberLargerThanTheBackup(t *testing.T) {
	c := newCrafted(t)
	raw := append(rawTarHeader(c.attachmentName(t), tar.TypeReg, 10<<30), bytes.Repeat([]byte{1}, 4096)...)
	plain := archiveWith(c, raw)
	sink := &recordingSink{}
	_, err := readArchive(bytes.NewReader(plain), sink, int64(len(plain)))
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "can hold") {
		t.Fatalf("readArchive = %v, want ErrTruncated saying the backup cannot hold it", err)
	}
	if sink.attachments != 0 {
		t.Fatal("the member reached the sink")
	}
	if err := c.restore(t, plain); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Restore = %v, want ErrTruncated", err)
	}
}

// TestRestoreOfARotatedWalletKeepsItsIdentity: a wallet whose master key
// was rotated keeps its log key and peer identity in the store (the seeds),
// so its backup restores with the new recovery key to the same log origin,
// log key and peer identity, and the old recovery key opens nothing.
func TestRestoreOfARotatedWalletKeepsItsIdentity(t *testing.T) {
	w, oldRK, err := wallet.Create(filepath.Join(t.TempDir(), "w"), testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Add([]byte(`{"resourceType":"Condition","id":"c1"}`), wallet.Source{Type: wallet.SourcePatient}); err != nil {
		t.Fatal(err)
	}
	origin, vkey := w.Log().Origin(), w.Log().VerifierKey()
	id, _ := w.IdentityKey()
	rk, err := w.RotateMasterKey([]byte("a rotated passphrase here"), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	path := backupFile(t, w, Options{})
	parent := t.TempDir()
	if _, err := RestoreFile(t.Context(), path, filepath.Join(parent, "old"), Key{RecoveryKey: &oldRK}, RestoreOptions{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the pre-rotation recovery key: %v, want ErrWrongKey", err)
	}
	target := filepath.Join(parent, "r")
	if _, err := RestoreFile(t.Context(), path, target, Key{RecoveryKey: &rk}, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := wallet.OpenWithRecoveryKey(target, rk)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	id2, _ := r.IdentityKey()
	if r.Log().Origin() != origin || r.Log().VerifierKey() != vkey || !bytes.Equal(id, id2) || r.Count() != 1 {
		t.Fatalf("restored: origin %s, vkey %s, same peer %v, %d records", r.Log().Origin(), r.Log().VerifierKey(), bytes.Equal(id, id2), r.Count())
	}
}
