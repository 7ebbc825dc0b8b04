package fhir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrBundleType: WriteBundle writes collection and document Bundles only
// (the others need request or response members per entry).
var ErrBundleType = errors.New("the wallet writes collection and document Bundles only")

// Bundle is a FHIR Bundle for WriteBundle to write.
type Bundle struct {
	// Type is "collection" or "document".
	Type string
	// Identifier, when set, becomes Bundle.identifier (system
	// urn:ietf:rfc:3986): a document Bundle needs one, "urn:uuid:…".
	Identifier string
	// Timestamp, when set, becomes Bundle.timestamp (a document needs it).
	Timestamp time.Time
	// Entries are the resources, in the order they go out.
	Entries []BundleEntry
	// Progress, if set, is told how many entries are written.
	Progress func(done, total int)
}

// WriteBundle writes b as FHIR R4 JSON, every Bundle the wallet writes
// (exports, summaries, shares, received records) the same way: entries get
// their canonical absolute fullUrls and references between them are
// rewritten to those URLs (ResolveReferences with AssignIDs; entries marked
// KeepBytes go out byte for byte). It returns the entries as written.
func WriteBundle(w io.Writer, b Bundle) ([]BundleEntry, error) {
	switch b.Type {
	case "collection", "document":
	default:
		return nil, fmt.Errorf("write Bundle of type %q: %w", b.Type, ErrBundleType)
	}
	entries, err := ResolveReferences(b.Entries, ResolveOptions{AssignIDs: true})
	if err != nil {
		return nil, fmt.Errorf("write Bundle: %w", err)
	}
	head := struct {
		ResourceType string `json:"resourceType"`
		Identifier   *struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier,omitempty"`
		Type      string `json:"type"`
		Timestamp string `json:"timestamp,omitempty"`
	}{ResourceType: "Bundle", Type: b.Type}
	if b.Identifier != "" {
		head.Identifier = &struct {
			System string `json:"system"`
			Value  string `json:"value"`
		}{"urn:ietf:rfc:3986", b.Identifier}
	}
	if !b.Timestamp.IsZero() {
		head.Timestamp = b.Timestamp.Format(time.RFC3339)
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("write Bundle: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(hb[:len(hb)-1])
	bw.WriteString(`,"entry":[`)
	for i, e := range entries {
		if i > 0 {
			bw.WriteByte(',')
		}
		u, _ := json.Marshal(e.FullURL)
		bw.WriteString("\n{\"fullUrl\":")
		bw.Write(u)
		bw.WriteString(",\"resource\":")
		bw.Write(bytes.TrimSpace(e.Resource))
		bw.WriteByte('}')
		if b.Progress != nil {
			b.Progress(i+1, len(entries))
		}
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write Bundle: %w", err)
	}
	return entries, nil
}
