package app

import (
	"os"
	"testing"
)

// readImportFile reads a fixture for Import, as an importer reads a file.
func readImportFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
