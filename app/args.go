package app

import (
	"flag"
	"strings"
)

// SplitArgs parses the flags of fs wherever they stand among args ("list
// --kind lab" and "import a.json --json" both work) and returns the
// positional arguments in order. "--" ends the flags: every word after it is
// positional. A word that begins with "-" but names no flag of fs is
// positional when positional says so: share IDs are base64url, so one in 64
// of them begins with "-" and must not be read as a flag. Both command lines
// (medwallet and medwallet-node) parse with it.
func SplitArgs(fs *flag.FlagSet, args []string, positional func(string) bool) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(pos, args[i+1:]...), nil
		case len(a) < 2 || a[0] != '-':
			pos = append(pos, a)
		case fs.Lookup(flagName(a)) == nil && positional != nil && positional(a):
			pos = append(pos, a)
		default:
			// One flag at a time, with its value when it takes one, so that
			// fs.Parse never reads on past it into a positional word.
			n := 1
			if takesValue(fs, a) && i+1 < len(args) {
				n = 2
			}
			if err := fs.Parse(args[i : i+n]); err != nil {
				return nil, err
			}
			i += n - 1
		}
	}
	return pos, nil
}

// flagName is the name in "-name", "--name" or "--name=value".
func flagName(a string) string {
	name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name
}

// takesValue reports whether the flag a names reads the next word as its
// value: a defined flag that is not boolean and has no "=value" of its own.
func takesValue(fs *flag.FlagSet, a string) bool {
	if strings.Contains(a, "=") {
		return false
	}
	f := fs.Lookup(flagName(a))
	if f == nil {
		return false
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
}
