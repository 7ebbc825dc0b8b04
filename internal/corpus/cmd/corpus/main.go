// Command corpus writes a large, realistic FHIR corpus for measuring the
// wallet by hand (see package corpus): for example
//
//	go run ./internal/corpus/cmd/corpus -out /tmp/corpus -size 600MB
//
// writes about 430 Synthea-shaped bundles, one person each, of about
// 175,000 resources. The same seed writes the same files.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"medwallet/internal/corpus"
)

func main() {
	out := flag.String("out", "", "the directory to write the bundles into (created if needed)")
	size := flag.String("size", "600MB", "how much to write, e.g. 600MB or 1.5GB")
	files := flag.Int("files", 0, "stop after this many files (0: only -size counts)")
	seed := flag.Uint64("seed", 1, "the seed; the same seed writes the same corpus")
	fixtures := flag.String("fixtures", "", "the fixture directory holding fhir/synthea (default: shared/fixtures beside or above the current directory)")
	flag.Parse()
	if err := run(*out, *size, *files, *seed, *fixtures); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(out, size string, files int, seed uint64, fixtures string) error {
	if out == "" {
		return fmt.Errorf("name the directory to write into with -out DIR")
	}
	bytes, err := corpus.ParseSize(size)
	if err != nil {
		return err
	}
	if fixtures == "" {
		if fixtures, err = findFixtures(); err != nil {
			return err
		}
	}
	g, err := corpus.Load(fixtures, seed)
	if err != nil {
		return err
	}
	st, err := g.WriteDir(out, corpus.Size{Files: files, Bytes: bytes})
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d files, %.1f MB, %d resources into %s (seed %d)\n", st.Files, float64(st.Bytes)/1e6, st.Resources, out, seed)
	return nil
}

// findFixtures looks for shared/fixtures in the current directory and its
// parents (a worktree has it one level up).
func findFixtures() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		for _, c := range []string{filepath.Join(dir, "shared", "fixtures"), filepath.Join(dir, "..", "shared", "fixtures")} {
			if _, err := os.Stat(filepath.Join(c, "fhir", "synthea")); err == nil {
				return c, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no shared/fixtures found above the current directory; name it with -fixtures DIR")
		}
		dir = parent
	}
}
