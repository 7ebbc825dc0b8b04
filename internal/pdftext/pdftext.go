// Package pdftext holds the test support that reads back the text of the
// PDFs Medwallet writes, with poppler's pdftotext: a reader that is not the
// PDF writer's own. Only tests import it; it must never be imported by code
// that ships.
package pdftext

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Read extracts pdf's text with pdftotext and mode ("-layout" as it looks,
// "-raw" in content order, "" for pdftotext's default reading order). The
// test is skipped when pdftotext is not installed.
func Read(t testing.TB, pdf []byte, mode string) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext (poppler-utils) is not installed; install it to check the PDF's text")
	}
	path := filepath.Join(t.TempDir(), "read.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-enc", "UTF-8", path, "-"}
	if mode != "" {
		args = append([]string{mode}, args...)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// Collapsed is Read in pdftotext's default order with Collapse applied.
func Collapsed(t testing.TB, pdf []byte) string {
	t.Helper()
	return Collapse(Read(t, pdf, ""))
}

var spaces = regexp.MustCompile(`\s+`)

// Collapse makes text comparable across line wrapping, and maps what the
// PDF core fonts cannot print to '?' as the PDF writer does.
func Collapse(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 0x80 && !(r >= 0xA0 && r <= 0xFF) && !strings.ContainsRune("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ", r) {
			return '?'
		}
		return r
	}, s)
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}
