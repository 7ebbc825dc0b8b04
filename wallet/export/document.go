package export

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Sentinel errors for document import.
var (
	// ErrUnsupportedType: the file is not a PDF, PNG, JPEG or DICOM file.
	ErrUnsupportedType = errors.New("unsupported file type: the wallet stores PDF, PNG, JPEG and DICOM files")
)

// Content types SniffContentType recognises.
const (
	TypePDF   = "application/pdf"
	TypePNG   = "image/png"
	TypeJPEG  = "image/jpeg"
	TypeDICOM = "application/dicom"
)

// SniffHeadSize is how many leading bytes SniffContentType needs.
const SniffHeadSize = 132

// SniffContentType names a file's type from its first bytes (at least
// SniffHeadSize when available): PDF, PNG, JPEG, or DICOM Part 10 (128-byte
// preamble then "DICM"). The name is used only in the error message: the
// bytes decide, never the extension.
func SniffContentType(head []byte, name string) (string, error) {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return TypePDF, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return TypePNG, nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return TypeJPEG, nil
	case len(head) >= 132 && string(head[128:132]) == "DICM":
		return TypeDICOM, nil
	}
	return "", fmt.Errorf("import %s: %w; convert it to PDF or an image first", name, ErrUnsupportedType)
}

// AttachmentSHA256Extension is the extension on a DocumentReference's
// content.attachment that carries the SHA-256 of the file, base64-encoded.
// FHIR R4's Attachment.hash is defined as SHA-1, which the wallet does not
// compute; it identifies files by SHA-256 (as its encrypted attachment store
// does), so hash is left out and this extension is used instead.
const AttachmentSHA256Extension = "urn:medwallet:fhir:StructureDefinition:attachment-sha256"

// Document builds the DocumentReference for an imported file. The attachment
// describes the file (content type, title, size, creation date, SHA-256 in
// the AttachmentSHA256Extension) but carries no data and no URL: the bytes
// live in the wallet's encrypted attachment store. The resource id derives
// from the SHA-256, so importing the same file twice yields the same
// resource. The file name becomes the attachment title when title is empty.
func Document(name, contentType string, size int64, sha256 []byte, title string, date time.Time) ([]byte, error) {
	if len(sha256) != 32 {
		return nil, fmt.Errorf("describe document %s: SHA-256 must be 32 bytes, got %d", name, len(sha256))
	}
	if size < 0 {
		return nil, fmt.Errorf("describe document %s: negative size", name)
	}
	switch contentType {
	case TypePDF, TypePNG, TypeJPEG, TypeDICOM:
	default:
		return nil, fmt.Errorf("describe document %s: content type %q: %w", name, contentType, ErrUnsupportedType)
	}
	if title == "" {
		title = name
	}
	if !utf8.ValidString(title) || !utf8.ValidString(name) {
		return nil, fmt.Errorf("describe document %s: name or title is not valid UTF-8", name)
	}
	if date.IsZero() {
		return nil, fmt.Errorf("describe document %s: no date given", name)
	}
	type ext struct {
		URL               string `json:"url"`
		ValueBase64Binary string `json:"valueBase64Binary"`
	}
	type att struct {
		Extension   []ext  `json:"extension"`
		ContentType string `json:"contentType"`
		Title       string `json:"title"`
		Size        int64  `json:"size"`
		Creation    string `json:"creation"`
	}
	doc := struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Status       string `json:"status"`
		Date         string `json:"date"`
		Description  string `json:"description"`
		Content      []struct {
			Attachment att `json:"attachment"`
		} `json:"content"`
	}{
		ResourceType: "DocumentReference",
		ID:           "doc-" + hex.EncodeToString(sha256[:16]),
		Status:       "current",
		Date:         date.UTC().Format(time.RFC3339),
		Description:  title,
	}
	doc.Content = append(doc.Content, struct {
		Attachment att `json:"attachment"`
	}{att{
		Extension:   []ext{{AttachmentSHA256Extension, base64.StdEncoding.EncodeToString(sha256)}},
		ContentType: contentType,
		Title:       title,
		Size:        size,
		Creation:    date.Format(time.RFC3339),
	}})
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("describe document %s: %w", name, err)
	}
	return out, nil
}
