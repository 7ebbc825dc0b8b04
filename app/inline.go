package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"

	"medwallet/wallet/export"
)

// Attached files travel in FHIR and NDJSON exports as Binary resources
// marked with the attachmentTag, one per file:
//
//	{"resourceType":"Binary","id":"att-<attachment id>",
//	 "meta":{"tag":[{"system":"urn:medwallet:tag","code":"attachment"}],
//	         "extension":[{"url":"urn:medwallet:fhir:StructureDefinition:attachment-name","valueString":name},
//	                      {"url":export.AttachmentSHA256Extension,"valueBase64Binary":sha256}]},
//	 "contentType":…,
//	 "securityContext":{"reference":"<Type>/<id> of its record",
//	                    "identifier":{"system":"urn:medwallet:resource-sha256","value":hex SHA-256 of JCS(record's resource)}},
//	 "data":base64}
//
// The record's own resource goes out unchanged. Other FHIR software sees an
// ordinary Binary whose securityContext names the record it belongs to;
// ImportPaths recognises the tag, stores the file encrypted with the record
// (matched by the canonical hash, so the reference need not resolve) and
// does not keep the Binary as a record of its own.
const (
	attachmentTagSystem = "urn:medwallet:tag"
	attachmentTagCode   = "attachment"
	attachmentNameExt   = "urn:medwallet:fhir:StructureDefinition:attachment-name"
	ownerHashSystem     = "urn:medwallet:resource-sha256"
)

type attachmentBinary struct {
	ResourceType    string       `json:"resourceType"`
	ID              string       `json:"id"`
	Meta            binaryMeta   `json:"meta"`
	ContentType     string       `json:"contentType"`
	SecurityContext *binaryOwner `json:"securityContext,omitempty"`
	Data            []byte       `json:"data"`
}

// inlineFile is an attached file read from an export's Binary.
type inlineFile struct {
	name, contentType string
	data, sha256      []byte
	owner             string // hex SHA-256 of JCS(owner resource)
	where             string
	taken             bool // stored with its record
}

type binaryMeta struct {
	Tag       []fhirCoding    `json:"tag"`
	Extension []fhirExtension `json:"extension,omitempty"`
}

type fhirCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type fhirExtension struct {
	URL               string `json:"url"`
	ValueString       string `json:"valueString,omitempty"`
	ValueBase64Binary []byte `json:"valueBase64Binary,omitempty"`
}

type binaryOwner struct {
	Reference  string          `json:"reference,omitempty"`
	Identifier *fhirIdentifier `json:"identifier,omitempty"`
}

type fhirIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// parseInlineFile recognises a Binary this package's exports write. ok is
// false for any other resource (a foreign Binary stays a record).
func parseInlineFile(res []byte, where string) (f inlineFile, ok bool, err error) {
	if !bytes.Contains(res, []byte(attachmentTagSystem)) || !bytes.Contains(res, []byte(`"Binary"`)) {
		return f, false, nil
	}
	var b attachmentBinary
	if err := json.Unmarshal(res, &b); err != nil || b.ResourceType != "Binary" {
		return f, false, nil
	}
	if !slices.Contains(b.Meta.Tag, fhirCoding{attachmentTagSystem, attachmentTagCode}) {
		return f, false, nil
	}
	f = inlineFile{name: b.ID, contentType: b.ContentType, data: b.Data, where: where}
	if f.name == "" {
		f.name = "attachment"
	}
	if b.SecurityContext == nil || b.SecurityContext.Identifier == nil || b.SecurityContext.Identifier.System != ownerHashSystem {
		return f, true, errors.New("the attached file names no record it belongs to")
	}
	if v := b.SecurityContext.Identifier.Value; len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
		return f, true, errors.New("the attached file's record hash is not a SHA-256 in hex")
	}
	f.owner = b.SecurityContext.Identifier.Value
	for _, e := range b.Meta.Extension {
		switch e.URL {
		case attachmentNameExt:
			if n := filepath.Base(e.ValueString); n != "." && n != string(filepath.Separator) && n != "" {
				f.name = n
			}
		case export.AttachmentSHA256Extension:
			f.sha256 = e.ValueBase64Binary
		}
	}
	sum := sha256.Sum256(f.data)
	if len(f.sha256) > 0 && !bytes.Equal(sum[:], f.sha256) {
		return f, true, errors.New("the attached file's bytes do not match the SHA-256 it carries")
	}
	f.sha256 = sum[:]
	return f, true, nil
}
