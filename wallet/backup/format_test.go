package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"medwallet/wallet"
	"medwallet/wallet/keys"
)

type member struct {
	name string
	data []byte
}

// crafted is a real wallet's backup taken apart, so tests can put together
// archives a writer never makes and encrypt them as a real backup is.
type crafted struct {
	w       *wallet.Wallet
	rk      keys.RecoveryKey
	members []member
}

func newCrafted(t *testing.T) *crafted {
	t.Helper()
	w, rk, err := wallet.Create(filepath.Join(t.TempDir(), "w"), testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := w.Add([]byte(`{"resourceType":"Condition","id":"c1","code":{"text":"asthma"}}`), wallet.Source{Type: wallet.SourcePatient}); err != nil {
		t.Fatal(err)
	}
	a, err := w.WriteAttachment("x.png", "image/png", bytes.NewReader(pseudoRandom(100<<10, 3)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddWithAttachments([]byte(`{"resourceType":"DocumentReference","id":"d1","status":"current","content":[{"attachment":{"contentType":"image/png"}}]}`), wallet.Source{Type: wallet.SourceImport}, []wallet.Attachment{a}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Write(t.Context(), w, &buf, Options{}); err != nil {
		t.Fatal(err)
	}
	plain, err := openAge(&buf, &recoveryIdentity{rk: rk})
	if err != nil {
		t.Fatal(err)
	}
	c := &crafted{w: w, rk: rk}
	tr := tar.NewReader(plain)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		c.members = append(c.members, member{h.Name, data})
	}
	return c
}

func tarOf(ms []member) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.data)), Mode: 0o600})
		tw.Write(m.data)
	}
	tw.Close()
	return buf.Bytes()
}

// seal encrypts a plaintext archive as Write would.
func (c *crafted) seal(t *testing.T, plain []byte) []byte {
	t.Helper()
	r, err := recipient(c.w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	aw, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	aw.Write(plain)
	aw.Close()
	return buf.Bytes()
}

// withManifest recomputes the manifest over ms (all but a trailing manifest).
func withManifest(t *testing.T, ms []member, version int) []member {
	t.Helper()
	var m Manifest
	m.Format, m.Version = formatName, version
	for _, x := range ms {
		if strings.HasPrefix(x.name, prefixKV) {
			n, err := readSegment(bytes.NewReader(x.data), int64(len(x.data)), func(_, _ []byte) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			m.KVEntries += n
		}
		var hw hashingWriter
		hw.w, hw.h = io.Discard, newSHA()
		hw.Write(x.data)
		m.Entries = append(m.Entries, ManifestEntry{Name: x.name, Size: int64(len(x.data)), SHA256: hexSum(hw.h)})
	}
	b, _ := json.Marshal(m)
	return append(append([]member(nil), ms...), member{nameManifest, b})
}

func (c *crafted) restore(t *testing.T, plain []byte) error {
	t.Helper()
	parent := t.TempDir()
	_, err := Restore(t.Context(), bytes.NewReader(c.seal(t, plain)), filepath.Join(parent, "r"), Key{RecoveryKey: &c.rk}, RestoreOptions{})
	assertNothingWritten(t, parent)
	return err
}

func (c *crafted) body() []member { return c.members[:len(c.members)-1] }

func TestCraftedArchiveRestores(t *testing.T) {
	// The re-packed, unmodified archive restores: the refusals below are
	// due to each change alone.
	c := newCrafted(t)
	target := filepath.Join(t.TempDir(), "r")
	if _, err := Restore(t.Context(), bytes.NewReader(c.seal(t, tarOf(withManifest(t, c.body(), 1)))), target, Key{RecoveryKey: &c.rk}, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreNewerFormatIsRefused(t *testing.T) {
	c := newCrafted(t)
	ms := c.body()
	ms[0].data = []byte(`{"format":"medwallet-backup","version":2}`)
	if err := c.restore(t, tarOf(withManifest(t, ms, 2))); !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("got %v, want ErrNewerFormat", err)
	}
	ms = c.body()
	if err := c.restore(t, tarOf(withManifest(t, ms, 7))); !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("manifest version 7: got %v, want ErrNewerFormat", err)
	}
}

func TestRestoreManifestMismatchIsRefused(t *testing.T) {
	c := newCrafted(t)
	cases := map[string]func() []member{
		"changed attachment": func() []member {
			ms := withManifest(t, c.body(), 1)
			for i := range ms {
				if strings.HasPrefix(ms[i].name, prefixAttached) {
					ms[i].data = bytes.Clone(ms[i].data)
					ms[i].data[100] ^= 1
				}
			}
			return ms
		},
		"missing store segment": func() []member {
			ms := withManifest(t, c.body(), 1)
			var out []member
			for _, m := range ms {
				if !strings.HasPrefix(m.name, prefixKV) {
					out = append(out, m)
				}
			}
			return out
		},
		"entry after manifest": func() []member {
			return append(withManifest(t, c.body(), 1), member{prefixKV + "00000099", nil})
		},
		"no manifest":   func() []member { return c.body() },
		"unknown entry": func() []member { return withManifest(t, append(c.body(), member{"../../etc/passwd", []byte("x")}), 1) },
		"bad attachment name": func() []member {
			return withManifest(t, append(c.body(), member{prefixAttached + "../x", []byte("x")}), 1)
		},
		"header not second": func() []member {
			ms := c.body()
			ms[0], ms[1] = ms[1], ms[0]
			return withManifest(t, ms, 1)
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.restore(t, tarOf(build()))
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotBackup) {
				t.Fatalf("got %v, want a refusal", err)
			}
		})
	}
}

func TestRestoreOfANonBackupFileIsRefused(t *testing.T) {
	parent := t.TempDir()
	rk := keys.RecoveryKey{}
	for _, data := range [][]byte{nil, []byte("hello"), []byte(`{"resourceType":"Bundle"}`)} {
		_, err := Restore(t.Context(), bytes.NewReader(data), filepath.Join(parent, "r"), Key{RecoveryKey: &rk}, RestoreOptions{})
		if !errors.Is(err, ErrNotBackup) && !errors.Is(err, ErrTruncated) {
			t.Errorf("%q: got %v, want ErrNotBackup", data, err)
		}
	}
	assertNothingWritten(t, parent)
}

// FuzzReadArchive feeds readArchive archives built from a compact
// description of their members (see fuzzArchive), not raw tar: a raw
// archive is kilobytes of block padding, and the fuzzer spent its whole
// time minimizing such inputs (6 executions in a minute). The description
// keeps inputs to a few hundred bytes while still reaching everything
// readArchive decides: member types, names, declared sizes that differ
// from the data, order, segment and manifest contents.
func FuzzReadArchive(f *testing.F) {
	// Seeds: a small archive with every kind of member and a manifest that
	// matches it, and damaged forms. Small seeds keep the fuzzer fuzzing:
	// it minimizes every input that finds new code, and minimizing is
	// slow in the input's length.
	good := []fuzzMember{
		{typ: tar.TypeReg, name: nameInfo, data: []byte(`{"format":"medwallet-backup","version":1}`)},
		{typ: tar.TypeReg, name: nameHeader, data: []byte(`{"format":1}`)},
		{typ: tar.TypeReg, name: segmentName(0), data: appendKV(appendKV(nil, []byte("meta/origin"), []byte("o")), []byte("rec/h/a"), []byte("{}"))},
		{typ: tar.TypeReg, name: prefixAttached + strings.Repeat("a", 26), data: []byte("attachment")},
	}
	good = append(good, fuzzMember{typ: tar.TypeReg, name: nameManifest, data: fuzzManifest(good, 2)})
	if _, err := readArchive(bytes.NewReader(fuzzArchive(encodeFuzzMembers(good))), &countingSink{}, 0); err != nil {
		f.Fatalf("the good seed does not read: %v", err)
	}
	f.Add(encodeFuzzMembers(good))
	f.Add(encodeFuzzMembers(good[:2]))
	bad := slices.Clone(good)
	bad[3].typ, bad[3].delta = tar.TypeSymlink, 100
	f.Add(encodeFuzzMembers(bad))
	f.Fuzz(func(t *testing.T, desc []byte) {
		archive := fuzzArchive(desc)
		sink := &countingSink{}
		m, err := readArchive(bytes.NewReader(archive), sink, int64(len(archive)))
		if sink.bytes > int64(len(archive)) {
			t.Fatalf("a %d-byte archive made the sink take %d bytes", len(archive), sink.bytes)
		}
		if err == nil && (m == nil || len(m.Entries) < 2) {
			t.Fatal("an archive without info and header was accepted")
		}
	})
}

// fuzzManifest is the manifest that matches ms.
func fuzzManifest(ms []fuzzMember, kvEntries int64) []byte {
	m := Manifest{Format: formatName, Version: FormatVersion, KVEntries: kvEntries}
	for _, x := range ms {
		sum := sha256.Sum256(x.data)
		m.Entries = append(m.Entries, ManifestEntry{Name: x.name, Size: int64(len(x.data)), SHA256: hex.EncodeToString(sum[:])})
	}
	b, _ := json.Marshal(m)
	return b
}

type fuzzMember struct {
	typ   byte
	name  string
	delta int8 // declared size minus the data's length
	data  []byte
}

// encodeFuzzMembers writes members as fuzzArchive reads them: per member
// a type byte, a name length byte and the name, the data length (2 bytes,
// big endian), the size delta (1 signed byte) and the data.
func encodeFuzzMembers(ms []fuzzMember) []byte {
	var b []byte
	for _, m := range ms {
		b = append(b, m.typ, byte(len(m.name)))
		b = append(b, m.name...)
		b = append(b, byte(len(m.data)>>8), byte(len(m.data)), byte(m.delta))
		b = append(b, m.data...)
	}
	return b
}

// fuzzArchive builds a tar archive from a member description, with hand
// made headers so any type and declared size can appear.
func fuzzArchive(desc []byte) []byte {
	var out []byte
	for len(desc) >= 2 {
		typ, nlen := desc[0], min(int(desc[1]), 100, len(desc)-2)
		name := string(desc[2 : 2+nlen])
		desc = desc[2+nlen:]
		if len(desc) < 3 {
			break
		}
		dlen, delta := min(int(desc[0])<<8|int(desc[1]), len(desc)-3), int(int8(desc[2]))
		data := desc[3 : 3+dlen]
		desc = desc[3+dlen:]
		out = append(out, rawTarHeader(name, typ, int64(max(dlen+delta, 0)))...)
		out = append(out, padBlock(bytes.Clone(data))...)
	}
	return append(out, make([]byte, 1024)...)
}

// countingSink counts the bytes readArchive hands on.
type countingSink struct{ bytes int64 }

func (s *countingSink) info(*info) error      { return nil }
func (s *countingSink) header(d []byte) error { s.bytes += int64(len(d)); return nil }
func (s *countingSink) kv(k, v []byte) error  { s.bytes += int64(len(k) + len(v)); return nil }
func (s *countingSink) attachment(_ string, _ int64, r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	s.bytes += n
	return err
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":"medwallet-backup","version":1,"kvEntries":2,"entries":[{"name":"backup.json","size":3,"sha256":"` + strings.Repeat("ab", 32) + `"}]}`))
	f.Add([]byte(`{"format":"medwallet-backup","version":9}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		if m.Version > FormatVersion || m.Version < 1 || m.KVEntries < 0 {
			t.Fatalf("accepted version %d / count %d", m.Version, m.KVEntries)
		}
		for _, e := range m.Entries {
			if e.Size < 0 || len(e.SHA256) != 64 {
				t.Fatalf("accepted entry %+v", e)
			}
		}
	})
}

func FuzzReadSegment(f *testing.F) {
	f.Add(appendKV(appendKV(nil, []byte("rec/h/a"), []byte("{}")), []byte("meta/origin"), []byte("o")))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{5, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rebuilt []byte
		_, err := readSegment(bytes.NewReader(data), int64(len(data)), func(k, v []byte) error {
			if len(k) == 0 || len(k) > MaxKeySize || len(v) > MaxValueSize {
				t.Fatalf("entry out of limits: key %d, value %d", len(k), len(v))
			}
			rebuilt = appendKV(rebuilt, k, v)
			return nil
		})
		if err == nil && !bytes.Equal(rebuilt, data) {
			t.Fatal("a segment read without error does not re-encode to its bytes")
		}
	})
}

func newSHA() hash.Hash { return sha256.New() }

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
