package app

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"medwallet/wallet/share"
)

func testFlags() (*flag.FlagSet, *bool, *string) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.Bool("json", false, ""), fs.String("kind", "", "")
}

func TestSplitArgsTakesFlagsAnywhere(t *testing.T) {
	for _, args := range [][]string{
		{"a", "--kind", "lab", "b", "--json"},
		{"--json", "a", "b", "--kind=lab"},
		{"a", "-kind", "lab", "-json", "b"},
	} {
		fs, js, kind := testFlags()
		pos, err := SplitArgs(fs, args, nil)
		if err != nil || !slices.Equal(pos, []string{"a", "b"}) || !*js || *kind != "lab" {
			t.Errorf("%q: pos %q json %v kind %q err %v", args, pos, *js, *kind, err)
		}
	}
}

func TestSplitArgsDoubleDashEndsFlags(t *testing.T) {
	fs, js, _ := testFlags()
	pos, err := SplitArgs(fs, []string{"log", "--", "-x", "--json"}, nil)
	if err != nil || !slices.Equal(pos, []string{"log", "-x", "--json"}) || *js {
		t.Errorf("pos %q json %v err %v", pos, *js, err)
	}
}

func TestSplitArgsRefusesUnknownFlagsAndMissingValues(t *testing.T) {
	fs, _, _ := testFlags()
	if _, err := SplitArgs(fs, []string{"a", "--nope"}, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown flag: %v", err)
	}
	fs, _, _ = testFlags()
	if _, err := SplitArgs(fs, []string{"a", "--kind"}, nil); err == nil {
		t.Error("a flag without its value was accepted")
	}
	fs, _, _ = testFlags()
	if _, err := SplitArgs(fs, []string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestSplitArgsShareIDBeginningWithDash pins that a share ID that begins
// with "-" (one in 64 of them) is taken as the ID it is, not as a flag, and
// that the flags after it are still read.
func TestSplitArgsShareIDBeginningWithDash(t *testing.T) {
	id := "-" + strings.Repeat("A", 41) + "E"
	if !share.ValidID(id) {
		t.Fatalf("%s is not a share ID", id)
	}
	fs, js, _ := testFlags()
	pos, err := SplitArgs(fs, []string{"log", id, "--json"}, share.ValidID)
	if err != nil || !slices.Equal(pos, []string{"log", id}) || !*js {
		t.Errorf("pos %q json %v err %v", pos, *js, err)
	}
	// Without the hint it is an unknown flag, as for any other word.
	fs, _, _ = testFlags()
	if _, err := SplitArgs(fs, []string{"log", id}, nil); err == nil {
		t.Error("an unknown flag was taken as positional without a hint")
	}
	// A defined flag is a flag even if the hint would accept it.
	fs, js, _ = testFlags()
	if pos, err := SplitArgs(fs, []string{"--json"}, func(string) bool { return true }); err != nil || len(pos) != 0 || !*js {
		t.Errorf("defined flag: pos %q json %v err %v", pos, *js, err)
	}
}
