package backup

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// FormatVersion is the archive format version this package writes and the
// newest it reads.
const FormatVersion = 1

const formatName = "medwallet-backup"

// Names of the archive's fixed files.
const (
	nameInfo       = "backup.json"
	nameHeader     = "wallet.json"
	nameManifest   = "manifest.json"
	prefixKV       = "kv/"
	prefixAttached = "attachments/"
)

// Limits on what a reader accepts from an archive.
const (
	MaxInfoSize     = 64 << 10  // backup.json
	MaxHeaderSize   = 64 << 10  // wallet.json
	MaxManifestSize = 256 << 20 // manifest.json
	MaxEntries      = 1 << 21   // files in one archive
	MaxKeySize      = 64 << 10  // one store key
	MaxValueSize    = 512 << 20 // one store value (a record holds at most one import file's resource)
	MaxSegmentSize  = 1 << 40   // one store segment
)

// MaxAttachmentFileSize bounds one stored (encrypted) attachment file.
var MaxAttachmentFileSize = keys.StreamSize(wallet.MaxAttachmentSize)

// segmentTarget is the size at which a writer closes a store segment. A
// writer buffers one segment, so this bounds its memory (beyond one value
// larger than it, which gets a segment of its own).
const segmentTarget = 4 << 20

// Errors callers switch on. Every failure of Restore wraps one of them or an
// error of the file system.
var (
	// ErrWrongKey: the recovery key or passphrase does not open this backup.
	ErrWrongKey = errors.New("the recovery key or passphrase does not open this backup; check it, or try the backup passphrase if one was set when it was made")
	// ErrNotBackup: the file is not a Medwallet backup (not age, or not our archive).
	ErrNotBackup = errors.New("not a Medwallet backup file")
	// ErrTruncated: the backup file ends early; it was cut short while copying.
	ErrTruncated = errors.New("the backup file is incomplete (truncated)")
	// ErrDamaged: the backup's contents fail authentication or do not match
	// its manifest; it was altered or corrupted.
	ErrDamaged = errors.New("the backup file was altered or is corrupted")
	// ErrNewerFormat: a newer Medwallet wrote the backup.
	ErrNewerFormat = errors.New("the backup was written by a newer version of Medwallet")
	// ErrTargetExists: the restore target already holds files.
	ErrTargetExists = errors.New("the restore target is not empty; restore into a new directory")
)

// info is backup.json.
type info struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Origin  string    `json:"origin,omitempty"`
}

// Manifest is manifest.json: every file of the archive before it.
type Manifest struct {
	Format    string          `json:"format"`
	Version   int             `json:"version"`
	KVEntries int64           `json:"kvEntries"`
	Entries   []ManifestEntry `json:"entries"`
}

// ManifestEntry is one archived file.
type ManifestEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func checkVersion(what, format string, version int) error {
	if format != formatName {
		return fmt.Errorf("%s: format %q: %w", what, format, ErrNotBackup)
	}
	if version > FormatVersion {
		return fmt.Errorf("%s: format version %d (this Medwallet reads up to %d): %w", what, version, FormatVersion, ErrNewerFormat)
	}
	if version < 1 {
		return fmt.Errorf("%s: format version %d: %w", what, version, ErrDamaged)
	}
	return nil
}

// ParseManifest parses and checks manifest.json.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("manifest: %d bytes, over the %d limit: %w", len(data), MaxManifestSize, ErrDamaged)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %v: %w", err, ErrDamaged)
	}
	if err := checkVersion("manifest", m.Format, m.Version); err != nil {
		return nil, err
	}
	if len(m.Entries) > MaxEntries {
		return nil, fmt.Errorf("manifest: %d entries, over the %d limit: %w", len(m.Entries), MaxEntries, ErrDamaged)
	}
	if m.KVEntries < 0 {
		return nil, fmt.Errorf("manifest: negative store entry count: %w", ErrDamaged)
	}
	for i, e := range m.Entries {
		if e.Size < 0 || len(e.SHA256) != 64 {
			return nil, fmt.Errorf("manifest: entry %d (%q): bad size or hash: %w", i, e.Name, ErrDamaged)
		}
		if _, err := hex.DecodeString(e.SHA256); err != nil {
			return nil, fmt.Errorf("manifest: entry %d (%q): hash is not hex: %w", i, e.Name, ErrDamaged)
		}
	}
	return &m, nil
}

func parseInfo(data []byte) (*info, error) {
	var in info
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", nameInfo, err, ErrNotBackup)
	}
	if err := checkVersion(nameInfo, in.Format, in.Version); err != nil {
		return nil, err
	}
	return &in, nil
}

// appendKV appends one store entry to a segment.
func appendKV(seg, key, value []byte) []byte {
	seg = binary.AppendUvarint(seg, uint64(len(key)))
	seg = append(seg, key...)
	seg = binary.AppendUvarint(seg, uint64(len(value)))
	return append(seg, value...)
}

// readSegment decodes one store segment of size bytes from r (exactly the
// segment's bytes), calling fn for every entry. Key and value are fresh
// slices. A length is checked against the bytes left in the segment before
// anything is allocated for it, so a corrupt length costs nothing.
func readSegment(r io.Reader, size int64, fn func(key, value []byte) error) (int64, error) {
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	left := func() uint64 { return uint64(max(size-cr.n+int64(br.Buffered()), 0)) }
	var n int64
	for {
		klen, err := binary.ReadUvarint(br)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("store entry %d: key length: %w", n, corruptOrTruncated(err))
		}
		if klen == 0 || klen > MaxKeySize {
			return n, fmt.Errorf("store entry %d: key length %d out of range: %w", n, klen, ErrDamaged)
		}
		if klen > left() {
			return n, fmt.Errorf("store entry %d: key length %d past the segment's end: %w", n, klen, ErrDamaged)
		}
		key := make([]byte, klen)
		if _, err := io.ReadFull(br, key); err != nil {
			return n, fmt.Errorf("store entry %d: key: %w", n, corruptOrTruncated(err))
		}
		vlen, err := binary.ReadUvarint(br)
		if err != nil {
			return n, fmt.Errorf("store entry %d: value length: %w", n, corruptOrTruncated(err))
		}
		if vlen > MaxValueSize {
			return n, fmt.Errorf("store entry %d: value length %d over the %d limit: %w", n, vlen, MaxValueSize, ErrDamaged)
		}
		if vlen > left() {
			return n, fmt.Errorf("store entry %d: value length %d past the segment's end: %w", n, vlen, ErrDamaged)
		}
		value := make([]byte, vlen)
		if _, err := io.ReadFull(br, value); err != nil {
			return n, fmt.Errorf("store entry %d: value: %w", n, corruptOrTruncated(err))
		}
		n++
		if err := fn(key, value); err != nil {
			return n, err
		}
	}
}

// corruptOrTruncated turns a short read inside a tar member (whose size the
// tar header fixed) into ErrDamaged, keeping other errors.
func corruptOrTruncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: an entry ends inside its data", ErrDamaged)
	}
	return err
}

// sink receives an archive's contents as a reader checks them. Every
// method's input has passed the format's limits; nothing the sink receives
// is known to match the manifest until the reader returns without error.
type sink interface {
	// info and header come first, in that order.
	info(in *info) error
	header(data []byte) error
	kv(key, value []byte) error
	// attachment must consume r to its end (or return an error).
	attachment(id string, size int64, r io.Reader) error
}

// readArchive reads a whole archive from r (the age plaintext), checking
// names, order, limits, sizes and hashes against the manifest, and feeds
// the contents to s. It returns the manifest only when everything matched.
//
// capacity, when positive, is the most plaintext the archive can hold (the
// size of the encrypted file): members whose declared sizes add up to more
// are refused from their header, before s sees a byte of them. Sparse
// members (GNU's old 'S' type or PAX GNU.sparse records), whose holes the
// tar reader would fill with zeros, and every type but a regular file
// (links, devices, fifos, directories) are refused the same way, so a few
// kilobytes of backup can never make the sink write gigabytes.
func readArchive(r io.Reader, s sink, capacity int64) (m *Manifest, err error) {
	defer func() {
		var de *decryptError
		if errors.As(err, &de) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrDamaged) {
			err = fmt.Errorf("%w: %w", de.classify(), err)
		}
	}()
	tr := tar.NewReader(r)
	var seen []ManifestEntry
	names := make(map[string]bool)
	var kvCount, declared int64
	for i := 0; ; i++ {
		th, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i == 0 {
				return nil, fmt.Errorf("the archive is empty: %w", ErrNotBackup)
			}
			return nil, fmt.Errorf("the archive ends before its manifest: %w", ErrTruncated)
		}
		if err != nil {
			return nil, fmt.Errorf("archive entry %d: %w", i, tarError(err, i))
		}
		if err := checkMember(th); err != nil {
			return nil, fmt.Errorf("archive entry %d (%q): %w", i, th.Name, err)
		}
		declared += th.Size
		if capacity > 0 && declared > capacity {
			return nil, fmt.Errorf("archive entry %d (%q) declares %d bytes, more than the %d-byte backup can hold: %w", i, th.Name, th.Size, capacity, ErrTruncated)
		}
		if names[th.Name] {
			return nil, fmt.Errorf("archive entry %q appears twice: %w", th.Name, ErrDamaged)
		}
		if len(seen) >= MaxEntries {
			return nil, fmt.Errorf("the archive has more than %d entries: %w", MaxEntries, ErrDamaged)
		}
		names[th.Name] = true
		h := sha256.New()
		body := &countingReader{r: io.TeeReader(tr, h)}
		switch {
		case i == 0:
			if th.Name != nameInfo {
				return nil, fmt.Errorf("the archive does not start with %s (found %q): %w", nameInfo, th.Name, ErrNotBackup)
			}
			data, err := readSmall(body, th.Size, MaxInfoSize, nameInfo)
			if err != nil {
				return nil, err
			}
			in, err := parseInfo(data)
			if err != nil {
				return nil, err
			}
			if err := s.info(in); err != nil {
				return nil, err
			}
		case i == 1:
			if th.Name != nameHeader {
				return nil, fmt.Errorf("the archive's second entry is %q, not %s: %w", th.Name, nameHeader, ErrDamaged)
			}
			data, err := readSmall(body, th.Size, MaxHeaderSize, nameHeader)
			if err != nil {
				return nil, err
			}
			if err := s.header(data); err != nil {
				return nil, err
			}
		case th.Name == nameManifest:
			data, err := readSmall(body, th.Size, MaxManifestSize, nameManifest)
			if err != nil {
				return nil, err
			}
			m, err := ParseManifest(data)
			if err != nil {
				return nil, err
			}
			if err := m.matches(seen, kvCount); err != nil {
				return nil, err
			}
			if err := expectEnd(tr); err != nil {
				return nil, err
			}
			return m, nil
		case strings.HasPrefix(th.Name, prefixKV):
			if !validSegmentName(th.Name) {
				return nil, fmt.Errorf("archive entry %q: not a store segment name: %w", th.Name, ErrDamaged)
			}
			if th.Size > MaxSegmentSize {
				return nil, fmt.Errorf("archive entry %q: %d bytes, over the limit: %w", th.Name, th.Size, ErrDamaged)
			}
			n, err := readSegment(body, th.Size, s.kv)
			kvCount += n
			if err != nil {
				return nil, fmt.Errorf("%s: %w", th.Name, err)
			}
		case strings.HasPrefix(th.Name, prefixAttached):
			id := strings.TrimPrefix(th.Name, prefixAttached)
			if !wallet.ValidAttachmentID(id) {
				return nil, fmt.Errorf("archive entry %q: not an attachment name: %w", th.Name, ErrDamaged)
			}
			if th.Size > MaxAttachmentFileSize {
				return nil, fmt.Errorf("archive entry %q: %d bytes, over the limit: %w", th.Name, th.Size, ErrDamaged)
			}
			if err := s.attachment(id, th.Size, body); err != nil {
				return nil, fmt.Errorf("%s: %w", th.Name, err)
			}
		default:
			return nil, fmt.Errorf("archive entry %q: unknown name: %w", th.Name, ErrDamaged)
		}
		if body.n != th.Size {
			// The tar reader gives exactly Size bytes or an error; a
			// sink that stopped early is a bug, not bad input.
			if _, err := io.Copy(io.Discard, body); err != nil {
				return nil, fmt.Errorf("archive entry %q: %w", th.Name, tarError(err, i))
			}
		}
		seen = append(seen, ManifestEntry{Name: th.Name, Size: th.Size, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
}

// checkMember refuses every member a writer never makes and whose content
// is not simply the bytes that follow its header.
func checkMember(th *tar.Header) error {
	if th.Typeflag != tar.TypeReg {
		what := "not a regular file"
		switch th.Typeflag {
		case tar.TypeGNUSparse:
			what = "a sparse file"
		case tar.TypeSymlink:
			what = "a symbolic link"
		case tar.TypeLink:
			what = "a hard link"
		case tar.TypeChar, tar.TypeBlock:
			what = "a device"
		case tar.TypeFifo:
			what = "a named pipe"
		case tar.TypeDir:
			what = "a directory"
		}
		return fmt.Errorf("%s, which a backup never holds: %w", what, ErrDamaged)
	}
	for k := range th.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return fmt.Errorf("a sparse file, which a backup never holds: %w", ErrDamaged)
		}
	}
	if th.Size < 0 {
		return fmt.Errorf("negative size: %w", ErrDamaged)
	}
	return nil
}

// matches checks that m lists exactly the entries read.
func (m *Manifest) matches(seen []ManifestEntry, kvCount int64) error {
	if len(m.Entries) != len(seen) {
		return fmt.Errorf("the manifest lists %d files but the archive holds %d: %w", len(m.Entries), len(seen), ErrDamaged)
	}
	for i, e := range m.Entries {
		if e != seen[i] {
			return fmt.Errorf("archive entry %q does not match the manifest (size or SHA-256 differ): %w", seen[i].Name, ErrDamaged)
		}
	}
	if m.KVEntries != kvCount {
		return fmt.Errorf("the manifest counts %d store entries but the archive holds %d: %w", m.KVEntries, kvCount, ErrDamaged)
	}
	return nil
}

func expectEnd(tr *tar.Reader) error {
	_, err := tr.Next()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("after the manifest: %w", tarError(err, -1))
	}
	return fmt.Errorf("the archive has entries after its manifest: %w", ErrDamaged)
}

func validSegmentName(name string) bool {
	rest := strings.TrimPrefix(name, prefixKV)
	if len(rest) != 8 {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func segmentName(n int) string { return fmt.Sprintf("%s%08d", prefixKV, n) }

func readSmall(r io.Reader, size, limit int64, name string) ([]byte, error) {
	if size > limit {
		return nil, fmt.Errorf("%s: %d bytes, over the %d limit: %w", name, size, limit, ErrDamaged)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, tarError(err, -1))
	}
	return data, nil
}

// tarError classifies an error from the tar reader, which passes the age
// reader's errors through: a stream cut short is ErrTruncated, a failed
// authentication or malformed tar is ErrDamaged.
func tarError(err error, entry int) error {
	var de *decryptError
	switch {
	case errors.As(err, &de):
		return fmt.Errorf("%w: %w", de.classify(), err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrInsecurePath), errors.Is(err, tar.ErrFieldTooLong):
		if entry == 0 {
			return fmt.Errorf("%w: %v", ErrNotBackup, err)
		}
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// hashingWriter counts and hashes what a tar member receives.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}
