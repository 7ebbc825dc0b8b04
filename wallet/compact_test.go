package wallet

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
)

var compactCases = []string{
	` { "a" : [ 1 , 2 ] , "b" : "x y\t<b>&amp;</b> \" \\ \u2028 \u2029 " } `,
	"{\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">a\\nb</div>\",\"s\":\"\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xa7 é\"}",
	`"<>&"`, `[ ]`, `{}`, `12`, "{\"bad\":\"\xff\xfe\"}",
}

func checkCompact(t *testing.T, doc []byte) {
	t.Helper()
	want, err := json.Marshal(json.RawMessage(doc))
	if err != nil {
		return // not JSON: compactJSON is never given it
	}
	if got := compactJSON(nil, doc); !bytes.Equal(got, want) {
		t.Fatalf("compactJSON(%.200q) = %.200q, json.Marshal gives %.200q", doc, got, want)
	}
}

func TestCompactJSONIsWhatMarshalMakes(t *testing.T) {
	for _, c := range compactCases {
		checkCompact(t, []byte(c))
	}
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "fhir/*/*.json"))
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := fhir.Parse(filepath.Base(f), data)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			checkCompact(t, e.Resource)
			n++
		}
	}
	if n < 2000 {
		t.Fatalf("checked %d resources", n)
	}
}

func TestMarshalRecordIsWhatMarshalMakes(t *testing.T) {
	res := []byte(`{"resourceType":"Observation","id":"o1","note":[{"text":"a <b> & \"resource\":0, c"}]}`)
	r := Record{ID: "abcdefghijklmnop", Version: 3, Resource: compactJSON(nil, res),
		Summary: fhir.Summary{Title: `"resource":0,`}, Source: Source{Type: SourceImport, Name: `x","resource":0,`},
		Added: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Attachments: []Attachment{{ID: "a", Name: "n", SHA256: []byte{1}}},
		Salt: [32]byte{9}, LeafIndex: 77}
	want, _ := json.Marshal(r)
	got, err := marshalRecord(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("marshalRecord = %s, %v\njson.Marshal  = %s", got, err, want)
	}
	checkRecordJSON(t, r)
	r.Attachments, r.Salt, r.Resource = nil, [32]byte{255, 0, 7, 128}, nil
	checkRecordJSON(t, r)
}

// checkRecordJSON checks that recordJSON encodes r as json.Marshal does.
func checkRecordJSON(t *testing.T, r Record) {
	t.Helper()
	want, _ := json.Marshal(r)
	sum, _ := json.Marshal(r.Summary)
	src, _ := json.Marshal(r.Source)
	added, _ := json.Marshal(r.Added)
	got, err := recordJSON(nil, &r, sum, src, added)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("recordJSON   = %s, %v\njson.Marshal = %s", got, err, want)
	}
}

// TestStoredVersionsAreWhatMarshalMakes stores every fixture bundle and
// checks that each version stored is json.Marshal of the record it holds.
func TestStoredVersionsAreWhatMarshalMakes(t *testing.T) {
	w := newWallet(t)
	for _, f := range fixtureFiles(t) {
		importFile(t, w, f)
	}
	n := 0
	err := w.db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte(prefixVersion), func(k, v []byte) error {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			want, _ := json.Marshal(r)
			if !bytes.Equal(v, want) {
				t.Errorf("%s is\n%s\nwant\n%s", k, v, want)
			}
			n++
			return nil
		})
	})
	if err != nil || n < 2000 {
		t.Fatalf("checked %d versions: %v", n, err)
	}
}

func FuzzCompactJSON(f *testing.F) {
	for _, c := range compactCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { checkCompact(t, doc) })
}
