package wallet

import (
	"encoding/json"
	"time"

	"medwallet/wallet/fhir"
)

// SourceType says where a record version came from.
type SourceType string

const (
	SourceImport   SourceType = "import"   // a file the patient imported
	SourcePatient  SourceType = "patient"  // typed by the patient
	SourceShare    SourceType = "share"    // received through a share
	SourceProvider SourceType = "provider" // signed by a provider (a verified health card)
)

// Source names the origin of a record version, for example the imported
// file's base name or the label and sender of a received share.
type Source struct {
	Type   SourceType `json:"type"`
	Name   string     `json:"name,omitempty"`
	Detail string     `json:"detail,omitempty"`
}

// Attachment is a file that belongs to a record (a PDF, an image, a DICOM
// object). Its bytes are stored encrypted in chunks; Record carries only this
// description.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      []byte `json:"sha256"`
}

// Record is one version of one FHIR R4 resource kept losslessly, plus what
// the wallet derives from it.
type Record struct {
	ID          string          `json:"id"`
	Version     int             `json:"version"`
	Resource    json.RawMessage `json:"resource"`
	Summary     fhir.Summary    `json:"summary"`
	Source      Source          `json:"source"`
	Added       time.Time       `json:"added"`
	Attachments []Attachment    `json:"attachments,omitempty"`
	// Salt is the fresh random salt of this version's log commitment.
	Salt [32]byte `json:"salt"`
	// LeafIndex is this version's position in the wallet's log.
	LeafIndex uint64 `json:"leafIndex"`
}
