package share

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"unicode/utf8"
)

// Limits of the manifest protocol messages.
const (
	MaxManifestRequest = 16 << 10 // bytes of a manifest request body
	maxRecipient       = 512      // bytes of the recipient string
	maxPasscode        = 256      // bytes of a passcode
	maxManifestFiles   = 1000
	maxLocation        = 2048
)

// ManifestRequest is the body of a manifest POST.
type ManifestRequest struct {
	Recipient         string `json:"recipient"`
	Passcode          string `json:"passcode,omitempty"`
	EmbeddedLengthMax *int   `json:"embeddedLengthMax,omitempty"`
}

// ParseManifestRequest decodes and checks a manifest request body: a JSON
// object with a non-empty recipient; unknown members are ignored.
func ParseManifestRequest(body []byte) (ManifestRequest, error) {
	var req ManifestRequest
	if len(body) > MaxManifestRequest {
		return req, fmt.Errorf("manifest request: %d bytes, limit %d: %w", len(body), MaxManifestRequest, ErrTooLarge)
	}
	if err := decodeOne(body, &req); err != nil {
		return req, fmt.Errorf("manifest request: %v: %w", err, ErrMalformedManifest)
	}
	if req.Recipient == "" {
		return req, fmt.Errorf("manifest request: recipient is required: %w", ErrMalformedManifest)
	}
	if len(req.Recipient) > maxRecipient || !utf8.ValidString(req.Recipient) {
		return req, fmt.Errorf("manifest request: recipient must be UTF-8 of at most %d bytes: %w", maxRecipient, ErrMalformedManifest)
	}
	if len(req.Passcode) > maxPasscode {
		return req, fmt.Errorf("manifest request: passcode longer than %d bytes: %w", maxPasscode, ErrMalformedManifest)
	}
	if req.EmbeddedLengthMax != nil && *req.EmbeddedLengthMax < 0 {
		return req, fmt.Errorf("manifest request: embeddedLengthMax is negative: %w", ErrMalformedManifest)
	}
	return req, nil
}

// Manifest is an SHL manifest response.
type Manifest struct {
	Files []ManifestFile  `json:"files"`
	List  json.RawMessage `json:"list,omitempty"` // optional FHIR List, passed through
	// Status is the whole share's (finalized, can-change, no-longer-valid);
	// optional, and values this app does not know are ignored.
	Status string `json:"status,omitempty"`
}

// ManifestFile is one entry of a manifest: exactly one of Embedded (a
// compact JWE) and Location (a short-lived URL serving it) is set.
type ManifestFile struct {
	ContentType string `json:"contentType"`
	Location    string `json:"location,omitempty"`
	Embedded    string `json:"embedded,omitempty"`
	LastUpdated string `json:"lastUpdated,omitempty"`
	Status      string `json:"status,omitempty"`
	FHIRVersion string `json:"fhirVersion,omitempty"`
}

// ParseManifest decodes and checks a manifest response body. The caller
// bounds the body's size before reading it; this function checks structure:
// a files array (at most 1000 entries), each with a content type and either
// an http(s) location or an embedded JWE.
func ParseManifest(body []byte) (Manifest, error) {
	var m Manifest
	if err := decodeOne(body, &m); err != nil {
		return m, fmt.Errorf("manifest: %v: %w", err, ErrMalformedManifest)
	}
	if m.Files == nil {
		return m, fmt.Errorf("manifest: files is missing: %w", ErrMalformedManifest)
	}
	if len(m.Files) > maxManifestFiles {
		return m, fmt.Errorf("manifest: %d files, limit %d: %w", len(m.Files), maxManifestFiles, ErrMalformedManifest)
	}
	for i, f := range m.Files {
		if f.ContentType == "" || len(f.ContentType) > 128 {
			return m, fmt.Errorf("manifest: file %d: contentType missing or too long: %w", i, ErrMalformedManifest)
		}
		switch {
		case f.Embedded != "" && f.Location != "":
			return m, fmt.Errorf("manifest: file %d: both embedded and location: %w", i, ErrMalformedManifest)
		case f.Embedded != "":
		case f.Location != "":
			if len(f.Location) > maxLocation {
				return m, fmt.Errorf("manifest: file %d: location longer than %d: %w", i, maxLocation, ErrMalformedManifest)
			}
			u, err := url.Parse(f.Location)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return m, fmt.Errorf("manifest: file %d: location is not an http(s) URL: %w", i, ErrMalformedManifest)
			}
		default:
			return m, fmt.Errorf("manifest: file %d: neither embedded nor location: %w", i, ErrMalformedManifest)
		}
	}
	return m, nil
}

// decodeOne decodes exactly one JSON value from b into v.
func decodeOne(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not valid JSON of the expected shape")
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// passcodeResponse is the body of a 401.
type passcodeResponse struct {
	RemainingAttempts *int `json:"remainingAttempts"`
}
