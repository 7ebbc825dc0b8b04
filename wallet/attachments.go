package wallet

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"medwallet/wallet/keys"
)

// MaxAttachmentSize bounds one attached file.
const MaxAttachmentSize = 16 << 30

// ErrAttachmentTampered means an attachment's bytes do not match the hash
// its record holds.
var ErrAttachmentTampered = errors.New("the attached file was altered or corrupted on disk")

func (w *Wallet) attachmentPath(id string) string {
	return filepath.Join(w.dir, attachmentDir, id)
}

// WriteAttachment encrypts the bytes of r into the wallet's attachment
// store, streaming in chunks so a file of any size never sits in memory
// whole. The returned Attachment is then stored with its record
// (AddWithAttachments); until then the file is unreferenced.
func (w *Wallet) WriteAttachment(name, contentType string, r io.Reader) (Attachment, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return Attachment{}, err
	}
	return w.writeAttachment(name, contentType, r)
}

// writeAttachment is WriteAttachment with the wallet held open.
func (w *Wallet) writeAttachment(name, contentType string, r io.Reader) (Attachment, error) {
	var idb [16]byte
	rand.Read(idb[:])
	id := idEncoding.EncodeToString(idb[:])
	if err := os.MkdirAll(filepath.Join(w.dir, attachmentDir), 0o700); err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(filepath.Join(w.dir, attachmentDir), ".incoming-*")
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	sw, err := keys.NewStreamWriter(w.attKey, tmp)
	if err != nil {
		tmp.Close()
		return Attachment{}, fmt.Errorf("attach %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(sw, h), io.LimitReader(r, MaxAttachmentSize+1))
	if err == nil && n > MaxAttachmentSize {
		err = fmt.Errorf("the file is larger than %d GiB", MaxAttachmentSize>>30)
	}
	if err == nil {
		err = sw.Close()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), w.attachmentPath(id))
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", name, err)
	}
	return Attachment{ID: id, Name: filepath.Base(name), ContentType: contentType, Size: n, SHA256: h.Sum(nil)}, nil
}

// OpenAttachment streams the decrypted bytes of a. Reading to the end
// verifies them: a changed file is ErrAttachmentTampered (or the stream's
// own integrity error) before the last byte is returned.
func (w *Wallet) OpenAttachment(a Attachment) (io.ReadCloser, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return nil, err
	}
	if !ValidAttachmentID(a.ID) {
		return nil, fmt.Errorf("attachment %q: not a valid attachment ID", a.ID)
	}
	f, err := os.Open(w.attachmentPath(a.ID))
	if err != nil {
		return nil, fmt.Errorf("attachment %s (%s): %w", a.ID, a.Name, err)
	}
	sr, err := keys.NewStreamReader(w.attKey, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("attachment %s (%s): %w", a.ID, a.Name, err)
	}
	return &verifyingReader{r: sr, f: f, h: sha256.New(), want: a.SHA256, size: a.Size, name: a.Name}, nil
}

// ValidAttachmentID reports whether s has the shape of an attachment ID, so
// it can never name a path outside the attachment store.
func ValidAttachmentID(s string) bool {
	if len(s) != 26 {
		return false
	}
	_, err := idEncoding.DecodeString(s)
	return err == nil
}

func (w *Wallet) removeAttachment(id string) {
	if ValidAttachmentID(id) {
		os.Remove(w.attachmentPath(id))
	}
}

type verifyingReader struct {
	r    io.Reader
	f    *os.File
	h    hash.Hash
	want []byte
	size int64
	n    int64
	name string
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) && (v.n != v.size || !bytes.Equal(v.h.Sum(nil), v.want)) {
		return n, fmt.Errorf("attachment %s: %w", v.name, ErrAttachmentTampered)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("attachment %s: %w", v.name, err)
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.f.Close() }
