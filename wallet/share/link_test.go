package share

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fixtures = "../../../shared/fixtures"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// fixtureKey is the key shared by every SHL fixture.
func fixtureKey(t testing.TB) [32]byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(fixture(t, "shl/jwe-example-key.txt"))))
	if err != nil || len(b) != 32 {
		t.Fatalf("fixture key: %v", err)
	}
	var k [32]byte
	copy(k[:], b)
	return k
}

type detailsPayload struct {
	URL   string `json:"url"`
	Flag  string `json:"flag"`
	Key   string `json:"key"`
	Label string `json:"label"`
}

func TestFixtureLinksParseToTheirDetails(t *testing.T) {
	var ips struct {
		Payload detailsPayload `json:"shlinkJsonPayload"`
		Bare    string         `json:"shlinkBare"`
		Shlink  string         `json:"shlink"`
	}
	if err := json.Unmarshal(fixture(t, "shl/IPS_IG-bundle-01-shl-details.json"), &ips); err != nil {
		t.Fatal(err)
	}
	var carin, spec, payload2 detailsPayload
	for name, dst := range map[string]*detailsPayload{
		"shl/CARIN_INS_CD-bundle-01-shl-details.json": &carin,
		"shl/spec-example-shlink-payload.json":        &spec,
		"shl/shl-payload-2.json":                      &payload2,
	} {
		if err := json.Unmarshal(fixture(t, name), dst); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	cases := []struct {
		name string
		text string
		want detailsPayload
	}{
		{"IPS viewer link file", string(fixture(t, "shl/IPS_IG-bundle-01-shl.txt")), ips.Payload},
		{"IPS shlinkBare", ips.Bare, ips.Payload},
		{"IPS shlink", ips.Shlink, ips.Payload},
		{"IPS equals shl-payload-2", ips.Shlink, payload2},
		{"CARIN viewer link file", string(fixture(t, "shl/CARIN_INS_CD-bundle-01-shl.txt")), carin},
		{"spec example LP link", string(fixture(t, "shl/spec-example-shlink.txt")), spec},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := Parse(c.text)
			if err != nil {
				t.Fatal(err)
			}
			if l.URL != c.want.URL || l.Flags != c.want.Flag || l.Label != c.want.Label ||
				base64.RawURLEncoding.EncodeToString(l.Key[:]) != c.want.Key {
				t.Errorf("parsed %+v, want %+v", l, c.want)
			}
			if !l.Exp.IsZero() || l.V != 0 || l.P2P != nil {
				t.Errorf("fixture has no exp, v or _p2p, parsed %v %d %v", l.Exp, l.V, l.P2P)
			}
		})
	}
}

func TestParseAcceptsScannerInput(t *testing.T) {
	base := strings.TrimSpace(string(fixture(t, "shl/spec-example-shlink.txt")))
	want, err := Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	bare := base[strings.IndexByte(base, '#')+1:]
	for _, text := range []string{base + "\r\n", base + "\n", "  " + base + "\t", bare + "\r", "SHLINK:/" + bare[len("shlink:/"):], bare + "=="} {
		got, err := Parse(text)
		if err != nil {
			t.Errorf("Parse(%q): %v", text[len(text)-6:], err)
			continue
		}
		if got.URL != want.URL || got.Key != want.Key {
			t.Errorf("Parse(%q) = %+v", text, got)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestParseRefusesBadLinks(t *testing.T) {
	key := "rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q"
	cases := []struct {
		name, text string
		want       error
	}{
		{"empty", "", ErrNotALink},
		{"plain web page", "https://example.org/page", ErrNotALink},
		{"other scheme", "shc:/5676290952432060", ErrNotALink},
		{"not base64", "shlink:/!!!", ErrInvalidLink},
		{"not json", "shlink:/" + b64("hello"), ErrInvalidLink},
		{"no url", "shlink:/" + b64(`{"key":"`+key+`"}`), ErrInvalidLink},
		{"short key", "shlink:/" + b64(`{"url":"https://a.example/x","key":"abc"}`), ErrInvalidLink},
		{"key not base64url", "shlink:/" + b64(`{"url":"https://a.example/x","key":"`+strings.Repeat("+", 43)+`"}`), ErrInvalidLink},
		{"exp as string in ms", "shlink:/" + b64(`{"url":"https://a.example/x","key":"`+key+`","exp":"1767225600000"}`), ErrInvalidLink},
		{"long label", "shlink:/" + b64(`{"url":"https://a.example/x","key":"`+key+`","label":"`+strings.Repeat("é", 81)+`"}`), ErrInvalidLink},
		{"U with P", "shlink:/" + b64(`{"url":"https://a.example/x","key":"`+key+`","flag":"PU"}`), ErrInvalidLink},
		{"lower-case flag", "shlink:/" + b64(`{"url":"https://a.example/x","key":"`+key+`","flag":"lp"}`), ErrInvalidLink},
		{"ftp url", "shlink:/" + b64(`{"url":"ftp://a.example/x","key":"`+key+`"}`), ErrInvalidLink},
		{"medwallet without peer", "medwallet:/" + b64(`{"url":"http://p2p/shl/x","key":"`+key+`"}`), ErrInvalidLink},
		{"too long", "shlink:/" + strings.Repeat("A", MaxLinkText), ErrLinkTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.text)
			if !errors.Is(err, c.want) {
				t.Errorf("Parse: %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseIgnoresUnknownMembersAndReadsExpAndV(t *testing.T) {
	text := "shlink:/" + b64(`{"url":"https://a.example/x","key":"rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q","exp":1767225600,"v":1,"extension":{"a":1},"_other":[1]}`)
	l, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Exp.Equal(time.Unix(1767225600, 0)) || l.V != 1 {
		t.Errorf("exp %v v %d", l.Exp, l.V)
	}
	if !l.Expired(time.Unix(1767225601, 0)) || l.Expired(time.Unix(1767225599, 0)) {
		t.Error("Expired does not follow exp")
	}
}

func TestEncodeChoosesSchemeByURL(t *testing.T) {
	var key [32]byte
	key[0] = 7
	exp := time.Unix(1800000000, 0)
	https := Link{URL: "https://node.example.org/shl/" + strings.Repeat("A", 43), Key: key, Exp: exp, Flags: "PL", Label: "Labs for Dr. Osei"}
	text, err := https.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, SchemeSHL) {
		t.Errorf("https link encoded as %q", text[:12])
	}
	back, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if back.Flags != "LP" || back.Key != key || !back.Exp.Equal(exp) || back.Label != https.Label {
		t.Errorf("round trip gave %+v", back)
	}

	p2p := Link{URL: "http://peer/shl/" + strings.Repeat("B", 43), Key: key, Flags: "L", P2P: &P2P{Peer: "12D3KooWabc", Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}}}
	text, err = p2p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, SchemeMedwallet) {
		t.Errorf("p2p link encoded as %q", text[:12])
	}
	back, err = Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if back.P2P == nil || back.P2P.Peer != "12D3KooWabc" || len(back.P2P.Addrs) != 1 {
		t.Errorf("round trip lost _p2p: %+v", back.P2P)
	}
	if !FitsVersion15(text) {
		t.Errorf("a typical p2p link of %d bytes does not fit QR version 15", len(text))
	}

	if _, err := (Link{URL: "http://peer/shl/x", Key: key}).Encode(); !errors.Is(err, ErrInvalidLink) {
		t.Errorf("http link without _p2p: %v, want ErrInvalidLink", err)
	}
	if _, err := (Link{URL: "https://a.example/" + strings.Repeat("x", 200), Key: key}).Encode(); !errors.Is(err, ErrInvalidLink) {
		t.Errorf("url over 128 characters: %v, want ErrInvalidLink", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"shl/IPS_IG-bundle-01-shl.txt", "shl/CARIN_INS_CD-bundle-01-shl.txt", "shl/spec-example-shlink.txt"} {
		f.Add(string(fixture(f, name)))
	}
	f.Add("medwallet:/" + b64(`{"url":"http://p/x","key":"rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q","_p2p":{"peer":"12D3","addrs":["/ip4/1.2.3.4/tcp/1"]}}`))
	f.Fuzz(func(t *testing.T, text string) {
		l, err := Parse(text)
		if err != nil {
			return
		}
		if l.URL == "" || len([]rune(l.Label)) > MaxLabel {
			t.Fatalf("Parse accepted an invalid payload: %+v", l)
		}
		// Whatever parses must survive an encode/parse round trip when it is
		// short enough to encode.
		if len(l.URL) > MaxURLEncode {
			return
		}
		text2, err := l.Encode()
		if err != nil {
			return // e.g. an http url without _p2p from a shlink:/ text
		}
		l2, err := Parse(text2)
		if err != nil {
			t.Fatalf("re-parse of encoded link: %v", err)
		}
		if l2.URL != l.URL || l2.Key != l.Key || l2.Label != l.Label {
			t.Fatalf("round trip changed the link: %+v → %+v", l, l2)
		}
	})
}
