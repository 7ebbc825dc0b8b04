package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gowebpki/jcs"
)

// canonicalCases are documents whose canonical form the fast path must get
// exactly right, or leave to jcs.Transform.
var canonicalCases = []string{
	`{"resourceType":"Observation","id":"a","valueQuantity":{"value":72.70,"unit":"kg"},"code":{"text":"x"}}`,
	`{"b":1,"a":2,"a!":3,"":4,"A":5,"aa":6}`,
	` { "z" : [ 1 , 2.50 , -0 , 0 , -0.0, 1e3, 1E-7, 123456789012345, 1234567890123456, 99.99999999999999 ] } `,
	`{"s":"tab\tnew\nquote\"back\\slash\/ctl\u0001\u001f\u0041\u00e9\u20ac","t":"é€😀","u":"\ud83d\ude00"}`,
	`{"nested":{"y":{"b":[{"d":1,"c":2}],"a":null},"x":[true,false,null,[],{}]}}`,
	`[1,2,{"b":"x","a":"y"}]`, `"just a string"`, `42`, `true`, ` null `,
	// Refused by both:
	`{"a":1,"a":2}`, `{"b":1,"a":2,"b":3}`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a" 1}`, `{"a":01}`, `{"a":1.}`,
	`{"a":.5}`, `{"a":1e}`, `{"a":+1}`, `{"a":tru}`, `{"a":truex}`, `{"a":"x"}x`, `{"a":"\x"}`, `{"a":"\u12"}`,
	`{"a":"\udc00"}`, `{"a":"\ud800x"}`, "{\"a\":\"\xff\"}", "{\"a\":\"a\x01\"}", `{"a":1e400}`, ``, `   `, `{`, `[`, `"`,
	`{"é":1,"e":2}`, `{"\u0062":1,"a":2}`,
}

func jcsHash(doc []byte) ([32]byte, error) {
	out, err := jcs.Transform(doc)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(out), nil
}

func checkSameAsJCS(t *testing.T, doc []byte) {
	t.Helper()
	want, wantErr := jcsHash(doc)
	got, err := canonicalHash(doc)
	if (err != nil) != (wantErr != nil) || got != want {
		t.Fatalf("canonical hash of %.200q: %x, %v; jcs.Transform gives %x, %v", doc, got, err, want, wantErr)
	}
}

func TestCanonicalHashIsJCS(t *testing.T) {
	for _, c := range canonicalCases {
		checkSameAsJCS(t, []byte(c))
	}
}

// Every resource of every FHIR fixture hashes as jcs.Transform does.
func TestCanonicalHashOfEveryFixtureResourceIsJCS(t *testing.T) {
	var files []string
	for _, dir := range []string{"fhir/synthea", "fhir/ips", "shl"} {
		fs, _ := filepath.Glob(filepath.Join("../../../shared/fixtures", dir, "*.json"))
		files = append(files, fs...)
	}
	if len(files) < 8 {
		t.Fatalf("found %d fixture files", len(files))
	}
	n, fast := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkSameAsJCS(t, data)
		var b struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		json.Unmarshal(data, &b)
		for _, e := range b.Entry {
			checkSameAsJCS(t, e.Resource)
			n++
			c := canonicaliser{in: e.Resource}
			if c.document() == nil {
				fast++
			}
		}
	}
	if n < 2000 || fast < n*99/100 {
		t.Fatalf("checked %d resources, %d of them on the fast path", n, fast)
	}
}

func FuzzCanonicalHashIsJCS(f *testing.F) {
	for _, c := range canonicalCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 1<<16 {
			return
		}
		checkSameAsJCS(t, doc)
	})
}
