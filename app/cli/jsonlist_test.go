package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// entryJSONWant is what encoding/json writes for e as an element of a list
// printed by printJSON: MarshalIndent's lines after the first carry the
// prefix, and the element's first line its indent.
func entryJSONWant(e *wallet.Entry) ([]byte, error) {
	b, err := json.MarshalIndent(e, "  ", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte("  "), b...), nil
}

// checkEntryJSON fails unless appendEntryJSON writes e as encoding/json
// does, or fails where encoding/json fails.
func checkEntryJSON(t *testing.T, e *wallet.Entry) {
	t.Helper()
	want, wantErr := entryJSONWant(e)
	got, err := appendEntryJSON([]byte("kept"), e)
	if wantErr != nil || err != nil {
		if (wantErr == nil) != (err == nil) {
			t.Fatalf("encoding/json's error %v, appendEntryJSON's %v, for %#v", wantErr, err, e)
		}
		return
	}
	if !bytes.HasPrefix(got, []byte("kept")) {
		t.Fatalf("appendEntryJSON lost what the buffer held: %q", got)
	}
	if got = got[len("kept"):]; !bytes.Equal(got, want) {
		t.Fatalf("appendEntryJSON differs from encoding/json for %#v:\n%s\nwant\n%s", e, got, want)
	}
}

// entryFiller fills values of any type wallet.Entry is made of, field by
// field through reflection, so a field added to Entry (or to what it
// holds) is filled too and appendEntryJSON, which does not know it yet,
// no longer matches encoding/json. A field of a kind the filler does not
// know fails the test: teach both appendEntryJSON and the filler.
type entryFiller struct {
	str  func() string
	num  func() int64
	when func() time.Time
}

func (f entryFiller) fill(t testing.TB, v reflect.Value, path string) {
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(f.when()))
	case v.Kind() == reflect.String:
		v.SetString(f.str())
	case v.Kind() == reflect.Int:
		v.SetInt(f.num())
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if sf := v.Type().Field(i); sf.IsExported() {
				f.fill(t, v.Field(i), path+"."+sf.Name)
			}
		}
	default:
		t.Fatalf("%s is a %s: appendEntryJSON and this test's filler write no %s yet", path, v.Type(), v.Kind())
	}
}

// hostileStrings are strings whose JSON encoding has an edge: every
// escape encoding/json makes, invalid and truncated UTF-8, the line
// separators JavaScript chokes on, and HTML that must not reach a page raw.
var hostileStrings = []string{
	"",
	"plain",
	`"quoted" \backslash\ \"both\\`,
	"\x00\x01\x02\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f",
	"<script>alert('x')</script> & </record> &amp;",
	"line\u2028separator\u2029paragraph \u2027\u202a",
	"\xff\xfe invalid \xc3 truncated \xe2\x80 surrogate \xed\xa0\x80 overlong \xc0\xaf",
	"ünïcödé 血糖 😀 \U0010ffff \ufffd",
	"/ slash and \\u0041 that is not an escape",
	strings.Repeat("long <value> \u2028 \xff ", 8_000),
	strings.Repeat("x", 200_000),
}

func TestEntryJSONMatchesEncodingJSONForHostileStrings(t *testing.T) {
	for i, s := range hostileStrings {
		n := int64(i)
		f := entryFiller{
			str:  func() string { return s },
			num:  func() int64 { n = n*31 - 7; return n },
			when: func() time.Time { return time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC) },
		}
		var e wallet.Entry
		f.fill(t, reflect.ValueOf(&e).Elem(), "Entry")
		checkEntryJSON(t, &e)
	}
}

// TestEntryJSONCoversEveryField fills every field of Entry, each with a
// different value, so a field appendEntryJSON skips or writes under
// another's name shows; then empties them one at a time, so every
// omission (omitempty, omitzero) shows.
func TestEntryJSONCoversEveryField(t *testing.T) {
	count := 0
	full := entryFiller{
		str: func() string { count++; return fmt.Sprintf("field %d <&>", count) },
		num: func() int64 { count++; return int64(count) },
		when: func() time.Time {
			count++
			return time.Date(1990+count, 1, 2, 3, 4, 5, count*1000, time.FixedZone("", (count%12)*3600+count*60))
		},
	}
	var e wallet.Entry
	full.fill(t, reflect.ValueOf(&e).Elem(), "Entry")
	checkEntryJSON(t, &e)

	// Each leaf field in turn set to its zero value.
	var leaves []string
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		if v.Kind() == reflect.Struct && v.Type() != reflect.TypeFor[time.Time]() {
			for i := range v.NumField() {
				if sf := v.Type().Field(i); sf.IsExported() {
					walk(v.Field(i), path+"."+sf.Name)
				}
			}
			return
		}
		leaves = append(leaves, path)
		saved := reflect.New(v.Type()).Elem()
		saved.Set(v)
		v.SetZero()
		checkEntryJSON(t, &e)
		v.Set(saved)
	}
	walk(reflect.ValueOf(&e).Elem(), "Entry")
	if len(leaves) < 20 {
		t.Fatalf("only %d fields of Entry found: %v", len(leaves), leaves)
	}
	var zero wallet.Entry
	checkEntryJSON(t, &zero)
}

// TestEntryJSONRefusesTimesEncodingJSONRefuses: times RFC 3339 cannot
// write fail the list rather than print something no parser reads back.
func TestEntryJSONRefusesTimesEncodingJSONRefuses(t *testing.T) {
	for _, when := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)),
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("", -30*3600)),
	} {
		for _, e := range []wallet.Entry{{ID: "a", Added: when}, datedEntry(when)} {
			if _, err := entryJSONWant(&e); err == nil {
				t.Fatalf("encoding/json writes %v", when)
			}
			if _, err := appendEntryJSON(nil, &e); err == nil {
				t.Fatalf("appendEntryJSON writes %v, which encoding/json refuses", when)
			}
		}
	}
}

func datedEntry(t time.Time) (e wallet.Entry) {
	e.ID = "b"
	e.Summary.Date = t
	return
}

// TestListJSONMatchesEncodingJSONForAnImportedWallet lists a wallet of the
// real fixtures (several batches' worth, a document with an attachment,
// health cards, people) and compares the whole output with what
// printJSON wrote before the list streamed: json.MarshalIndent of the
// entries.
func TestListJSONMatchesEncodingJSONForAnImportedWallet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	w, _, err := wallet.Create(dir, []byte("pass phrase"), keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, pattern := range []string{"fhir/*/*.json", "shc/*.smart-health-card", "shc/*-a-fhirBundle.json"} {
		m, _ := filepath.Glob(filepath.Join(fixtures, pattern))
		files = append(files, m...)
	}
	if len(files) < 8 {
		t.Fatalf("fixtures missing: %v", files)
	}
	// A document whose name becomes its title, with HTML in it.
	pdf := filepath.Join(t.TempDir(), "discharge <letter> & \"notes\".pdf")
	if err := os.WriteFile(pdf, pdfBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	s := app.NewSession(w)
	t.Cleanup(s.Lock)
	// As the import command imports them: health cards unverified, each
	// Patient a person.
	if _, err := app.ImportPaths(context.Background(), s, append(files, pdf), app.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	entries := w.Search(wallet.Query{})
	var files1, people, coded, dated int
	for _, e := range entries {
		files1 += min(e.Files, 1)
		people += min(len(e.Person), 1)
		if e.Summary.Code.Code != "" {
			coded++
		}
		if !e.Summary.Date.IsZero() {
			dated++
		}
	}
	if len(entries) < 3*listJSONBatch || files1 == 0 || people == 0 || coded == 0 || dated == 0 {
		t.Fatalf("the wallet lacks what the test needs: %d entries, %d with attachments, %d with a person, %d coded, %d dated", len(entries), files1, people, coded, dated)
	}
	want, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	for _, args := range [][]string{{"list", "--json"}, {"list", "--json", "--query", "zzzzqqq"}} {
		var out bytes.Buffer
		env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard, Cwd: t.TempDir(), Session: s, NoForward: true}
		if code := Run(context.Background(), env, args); code != 0 {
			t.Fatalf("%v exited %d", args, code)
		}
		if len(args) > 2 {
			if out.String() != "[]\n" {
				t.Fatalf("no match printed %q", out.String())
			}
			continue
		}
		if !bytes.Equal(out.Bytes(), want) {
			line := 1 + bytes.Count(want[:commonPrefix(out.Bytes(), want)], []byte("\n"))
			t.Fatalf("list --json differs from encoding/json's at line %d (%d bytes, want %d)", line, out.Len(), len(want))
		}
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestPrintJSONListKeepsOrderAtBatchEdges prints lists of every length
// around the batch size and checks each is the array of its items in
// order: the parallel batches are written in turn, with no item lost,
// repeated or left without its comma.
func TestPrintJSONListKeepsOrderAtBatchEdges(t *testing.T) {
	for _, n := range []int{0, 1, 2, listJSONBatch - 1, listJSONBatch, listJSONBatch + 1, 3*listJSONBatch - 1, 17*listJSONBatch + 5} {
		var out bytes.Buffer
		c := &call{ctx: context.Background(), env: Env{Stdout: &out}}
		err := c.printJSONList(n, func(b []byte, i int) ([]byte, error) {
			return fmt.Appendf(b, "  {\n    \"n\": %d\n  }", i), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		items := make([]struct {
			N int `json:"n"`
		}, n)
		for i := range items {
			items[i].N = i
		}
		want, _ := json.MarshalIndent(items, "", "  ")
		if out.String() != string(want)+"\n" {
			t.Fatalf("%d items: got\n%s\nwant\n%s", n, out.String(), want)
		}
	}
}

// failingWriter accepts limit bytes, then fails as a closed pipe does.
type failingWriter struct{ limit int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		return 0, io.ErrClosedPipe
	}
	f.limit -= len(p)
	return len(p), nil
}

// TestPrintJSONListStopsAtTheFirstFailure: an item that cannot be written
// and an output that closes (| head) both end the list with their error,
// and nothing after the failure is written.
func TestPrintJSONListStopsAtTheFirstFailure(t *testing.T) {
	const n = 50 * listJSONBatch
	bad := errors.New("item 1000 cannot be written")
	var out bytes.Buffer
	c := &call{ctx: context.Background(), env: Env{Stdout: &out}}
	err := c.printJSONList(n, func(b []byte, i int) ([]byte, error) {
		if i == 1000 {
			return b, bad
		}
		return fmt.Appendf(b, "  %d", i), nil
	})
	if !errors.Is(err, bad) {
		t.Fatalf("got %v, want the item's error", err)
	}
	if !bytes.Contains(out.Bytes(), []byte("  895,\n")) || bytes.Contains(out.Bytes(), []byte(" 1000")) || bytes.Contains(out.Bytes(), []byte("\n]")) {
		t.Fatalf("written past the failing item: %d bytes", out.Len())
	}
	c = &call{ctx: context.Background(), env: Env{Stdout: &failingWriter{limit: 10_000}}}
	if err := c.printJSONList(n, func(b []byte, i int) ([]byte, error) { return fmt.Appendf(b, "  %d", i), nil }); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("got %v, want the closed output's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c = &call{ctx: ctx, env: Env{Stdout: io.Discard}}
	if err := c.printJSONList(n, func(b []byte, i int) ([]byte, error) { return fmt.Appendf(b, "  %d", i), nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the cancelled command's error", err)
	}
}

// byteFiller fills an Entry from fuzz input: each string takes a length
// byte and that many bytes, each number eight, each time twelve (seconds,
// nanoseconds) and a zone offset; past the end everything is zero.
func byteFiller(data []byte) entryFiller {
	take := func(n int) []byte {
		n = min(n, len(data))
		p := data[:n]
		data = data[n:]
		return p
	}
	u64 := func() uint64 {
		var p [8]byte
		copy(p[:], take(8))
		return binary.LittleEndian.Uint64(p[:])
	}
	return entryFiller{
		str: func() string {
			n := take(1)
			if len(n) == 0 {
				return ""
			}
			return string(take(int(n[0])))
		},
		num: func() int64 { return int64(u64()) },
		when: func() time.Time {
			sec, nsec := int64(u64()), int64(u64()%2e9)
			off := take(2)
			zone := time.UTC
			if len(off) == 2 {
				zone = time.FixedZone("", (int(off[0])-128)*900+int(off[1])%60)
			}
			return time.Unix(sec%(400e9), nsec).In(zone)
		},
	}
}

func FuzzEntryJSONMatchesEncodingJSON(f *testing.F) {
	for _, s := range hostileStrings[:9] {
		var seed []byte
		for range 20 {
			seed = append(seed, byte(min(len(s), 255)))
			seed = append(seed, s[:min(len(s), 255)]...)
			seed = binary.LittleEndian.AppendUint64(seed, uint64(len(seed))*1e9)
		}
		f.Add(seed)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e wallet.Entry
		byteFiller(data).fill(t, reflect.ValueOf(&e).Elem(), "Entry")
		checkEntryJSON(t, &e)
	})
}
