package export

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"medwallet/wallet"
)

// entry is one record placed in a Bundle.
type entry struct {
	rec          *wallet.Record
	resourceType string
	id           string
	fullURL      string
}

// plan gives each record a fullUrl under which the references it and the
// other records already hold resolve: "urn:uuid:<id>" when some resource
// refers to the id that way (Synthea, many IPS documents), else
// "<ResourceType>/<id>". A resource without an id, or whose relative URL
// another record already took, gets a urn:uuid derived from its record ID.
func plan(recs []wallet.Record) ([]entry, error) {
	uuidRefs := make(map[string]bool)
	heads := make([]struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}, len(recs))
	for i := range recs {
		res := bytes.TrimSpace(recs[i].Resource)
		if len(res) == 0 || res[0] != '{' || !json.Valid(res) {
			return nil, fmt.Errorf("record %s: resource is not a JSON object; the record may be damaged", recs[i].ID)
		}
		if err := json.Unmarshal(res, &heads[i]); err != nil || heads[i].ResourceType == "" || !validResourceType(heads[i].ResourceType) {
			return nil, fmt.Errorf("record %s: resource has no valid resourceType", recs[i].ID)
		}
		collectUUIDRefs(res, uuidRefs)
	}
	used := make(map[string]bool, len(recs))
	out := make([]entry, len(recs))
	for i := range recs {
		h := heads[i]
		e := entry{rec: &recs[i], resourceType: h.ResourceType, id: h.ID}
		switch {
		case h.ID != "" && uuidRefs[h.ID] && !used["urn:uuid:"+h.ID]:
			e.fullURL = "urn:uuid:" + h.ID
		case h.ID != "" && !used[h.ResourceType+"/"+h.ID]:
			e.fullURL = h.ResourceType + "/" + h.ID
		default:
			e.fullURL = "urn:uuid:" + derivedUUID("fullUrl", recs[i].ID, fmt.Sprint(recs[i].Version))
		}
		used[e.fullURL] = true
		out[i] = e
	}
	return out, nil
}

var urnUUID = []byte("urn:uuid:")

func collectUUIDRefs(res []byte, into map[string]bool) {
	for {
		i := bytes.Index(res, urnUUID)
		if i < 0 {
			return
		}
		res = res[i+len(urnUUID):]
		end := bytes.IndexByte(res, '"')
		if end < 0 {
			return
		}
		into[string(res[:end])] = true
		res = res[end:]
	}
}

func validResourceType(t string) bool {
	if len(t) > 64 || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// derivedUUID is a name-based UUID (RFC 9562 version 8 layout) over parts,
// so repeated exports of the same records name them the same way.
func derivedUUID(parts ...string) string {
	h := sha256.New()
	h.Write([]byte("medwallet/export/v1"))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x80
	b[8] = (b[8] & 0x3f) | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// FHIR writes recs as one FHIR R4 Bundle of type collection. Each entry
// carries the resource's exact stored bytes, so importing the file again
// yields the same records.
func FHIR(w io.Writer, recs []wallet.Record, opts ...Option) error {
	s := apply(opts)
	if len(recs) == 0 {
		return fmt.Errorf("export FHIR bundle: %w", ErrNoRecords)
	}
	entries, err := plan(recs)
	if err != nil {
		return fmt.Errorf("export FHIR bundle: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i, e := range entries {
		if i > 0 {
			bw.WriteByte(',')
		}
		writeEntry(bw, e.fullURL, bytes.TrimSpace(e.rec.Resource))
		s.progress.report(i+1, len(entries))
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export FHIR bundle: %w", err)
	}
	return nil
}

func writeEntry(bw *bufio.Writer, fullURL string, resource []byte) {
	u, _ := json.Marshal(fullURL)
	bw.WriteString("\n{\"fullUrl\":")
	bw.Write(u)
	bw.WriteString(",\"resource\":")
	bw.Write(resource)
	bw.WriteByte('}')
}

// NDJSON writes recs as FHIR Bulk Data NDJSON: one compact resource per line,
// members in their original order.
func NDJSON(w io.Writer, recs []wallet.Record, opts ...Option) error {
	s := apply(opts)
	bw := bufio.NewWriterSize(w, 64<<10)
	var line bytes.Buffer
	for i := range recs {
		line.Reset()
		if err := json.Compact(&line, recs[i].Resource); err != nil {
			return fmt.Errorf("export NDJSON: record %s: resource is not valid JSON: %w", recs[i].ID, err)
		}
		if line.Len() == 0 || line.Bytes()[0] != '{' {
			return fmt.Errorf("export NDJSON: record %s: resource is not a JSON object", recs[i].ID)
		}
		line.WriteByte('\n')
		bw.Write(line.Bytes())
		s.progress.report(i+1, len(recs))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export NDJSON: %w", err)
	}
	return nil
}

// NDJSONByType writes one <ResourceType>.ndjson file per resource type into
// dir (created if missing, owner-only), each atomically, as a Bulk Data
// export lays them out. It returns the paths written, sorted.
func NDJSONByType(dir string, recs []wallet.Record, opts ...Option) ([]string, error) {
	s := apply(opts)
	if len(recs) == 0 {
		return nil, fmt.Errorf("export NDJSON files: %w", ErrNoRecords)
	}
	entries, err := plan(recs)
	if err != nil {
		return nil, fmt.Errorf("export NDJSON files: %w", err)
	}
	byType := make(map[string][]wallet.Record)
	for _, e := range entries {
		byType[e.resourceType] = append(byType[e.resourceType], *e.rec)
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("export NDJSON files: %w", err)
	}
	var paths []string
	done := 0
	for _, t := range types {
		// t passed validResourceType: letters only, so the name stays in dir.
		path := filepath.Join(dir, t+".ndjson")
		group := byType[t]
		err := WriteFile(path, func(w io.Writer) error { return NDJSON(w, group) })
		if err != nil {
			return paths, fmt.Errorf("export NDJSON files: %w", err)
		}
		paths = append(paths, path)
		done += len(group)
		s.progress.report(done, len(recs))
	}
	return paths, nil
}
