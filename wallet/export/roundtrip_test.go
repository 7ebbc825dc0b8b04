package export

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"medwallet/wallet/fhir"
)

// reimport parses the files an export wrote, file by file, as the wallet
// imports them.
func reimport(t *testing.T, paths ...string) []fhir.Entry {
	t.Helper()
	var out []fhir.Entry
	for _, name := range paths {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := fhir.Parse(name, data)
		if err != nil {
			t.Fatalf("%s: import of the export: %v", name, err)
		}
		if len(p.Skipped) > 0 {
			t.Fatalf("%s: import of the export skipped %+v", name, p.Skipped)
		}
		out = append(out, p.Entries...)
	}
	return out
}

func TestNDJSONRoundTripGivesTheSameRecords(t *testing.T) {
	for _, name := range []string{clemente, "ips/bundle-minimal.json", "../shc/example-00-a-fhirBundle.json"} {
		recs := loadRecords(t, name)
		dir := t.TempDir()
		paths, err := NDJSONByType(dir, recs)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, e := range reimport(t, paths...) {
			got[compact(t, e.Resource)] = true
		}
		for _, r := range recs {
			if c := compact(t, r.Resource); !got[c] {
				t.Errorf("%s: record %s came back changed:\n%s", name, r.ID, c)
			}
		}
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	return c.String()
}
