package app

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/backup"
	"medwallet/wallet/checkin"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
	"medwallet/wallet/shc"
)

// sentinels names every sentinel error of wallet/ and app/ (but the clinic
// node's own package) by the name the source declares it under.
var sentinels = map[string]error{
	"app.ErrSessionLocked":          ErrSessionLocked,
	"app.ErrNotOwned":               ErrNotOwned,
	"app.ErrNotReceived":            ErrNotReceived,
	"app.ErrNotABundle":             ErrNotABundle,
	"app.ErrAlreadyKept":            ErrAlreadyKept,
	"app.ErrNotThisPerson":          ErrNotThisPerson,
	"app.ErrNothingToShare":         ErrNothingToShare,
	"app.ErrCheckInPasscode":        ErrCheckInPasscode,
	"app.ErrCheckInExpiry":          ErrCheckInExpiry,
	"app.ErrCheckInNeedsHost":       ErrCheckInNeedsHost,
	"app.ErrCheckInNeedsHTTPS":      ErrCheckInNeedsHTTPS,
	"app.ErrNoPatientRecord":        ErrNoPatientRecord,
	"app.ErrNotOwnRecord":           ErrNotOwnRecord,
	"app.ErrNoInsuranceCard":        ErrNoInsuranceCard,
	"app.ErrNoPeer":                 ErrNoPeer,
	"app.ErrShareTooLarge":          ErrShareTooLarge,
	"app.ErrNoSuchShare":            ErrNoSuchShare,
	"app.ErrAttachmentsTooLarge":    ErrAttachmentsTooLarge,
	"peer.ErrAlreadyServing":        peer.ErrAlreadyServing,
	"peer.ErrUnknownPeer":           peer.ErrUnknownPeer,
	"peer.ErrUnreachable":           peer.ErrUnreachable,
	"peer.ErrWrongPeer":             peer.ErrWrongPeer,
	"peer.ErrNoHTTP":                peer.ErrNoHTTP,
	"peer.ErrClosed":                peer.ErrClosed,
	"wallet.ErrNoSuchWitness":       wallet.ErrNoSuchWitness,
	"wallet.ErrAttachmentTampered":  wallet.ErrAttachmentTampered,
	"wallet.ErrInUse":               wallet.ErrInUse,
	"wallet.ErrExists":              wallet.ErrExists,
	"wallet.ErrNotFound":            wallet.ErrNotFound,
	"wallet.ErrLocked":              wallet.ErrLocked,
	"share.ErrNotALink":             share.ErrNotALink,
	"share.ErrInvalidLink":          share.ErrInvalidLink,
	"share.ErrLinkTooLong":          share.ErrLinkTooLong,
	"share.ErrTruncatedLink":        share.ErrTruncatedLink,
	"share.ErrNotFound":             share.ErrNotFound,
	"share.ErrExpired":              share.ErrExpired,
	"share.ErrRevoked":              share.ErrRevoked,
	"share.ErrLocked":               share.ErrLocked,
	"share.ErrPasscodeRequired":     share.ErrPasscodeRequired,
	"share.ErrDecrypt":              share.ErrDecrypt,
	"share.ErrMalformedJWE":         share.ErrMalformedJWE,
	"share.ErrTooLarge":             share.ErrTooLarge,
	"share.ErrMalformedManifest":    share.ErrMalformedManifest,
	"share.ErrUnknownContent":       share.ErrUnknownContent,
	"share.ErrRateLimited":          share.ErrRateLimited,
	"share.ErrUnauthorized":         share.ErrUnauthorized,
	"share.ErrNoQRCode":             share.ErrNoQRCode,
	"share.ErrTextTooLongForQR":     share.ErrTextTooLongForQR,
	"export.ErrUnsupportedType":     export.ErrUnsupportedType,
	"export.ErrNoRecords":           export.ErrNoRecords,
	"export.ErrNoPatient":           export.ErrNoPatient,
	"ledger.ErrNotAnchored":         ledger.ErrNotAnchored,
	"ledger.ErrCorrupt":             ledger.ErrCorrupt,
	"ledger.ErrBeyondLog":           ledger.ErrBeyondLog,
	"ledger.ErrFork":                ledger.ErrFork,
	"ledger.ErrNoQuorum":            ledger.ErrNoQuorum,
	"ledger.ErrNotEnrolled":         ledger.ErrNotEnrolled,
	"ledger.ErrRefused":             ledger.ErrRefused,
	"ledger.ErrMalformed":           ledger.ErrMalformed,
	"ledger.ErrNoEnrollment":        ledger.ErrNoEnrollment,
	"ledger.ErrLogNotAdded":         ledger.ErrLogNotAdded,
	"share.ErrTimedOut":             share.ErrTimedOut,
	"share.ErrPrivateAddress":       share.ErrPrivateAddress,
	"share.ErrRefusedDestination":   share.ErrRefusedDestination,
	"share.ErrTooManyDownloads":     share.ErrTooManyDownloads,
	"keys.ErrWeakPassphrase":        keys.ErrWeakPassphrase,
	"wallet.ErrStaleHeader":         wallet.ErrStaleHeader,
	"wallet.ErrRotationUnfinished":  wallet.ErrRotationUnfinished,
	"wallet.ErrRolledBack":          wallet.ErrRolledBack,
	"wallet.ErrForgedOrigin":        wallet.ErrForgedOrigin,
	"wallet.ErrUnknownContact":      wallet.ErrUnknownContact,
	"wallet.ErrNoSuchShare":         wallet.ErrNoSuchShare,
	"wallet.ErrNotReceived":         wallet.ErrNotReceived,
	"checkin.ErrNotACheckin":        checkin.ErrNotACheckin,
	"checkin.ErrInvalidCard":        checkin.ErrInvalidCard,
	"checkin.ErrNoPatient":          checkin.ErrNoPatient,
	"checkin.ErrSecondPatient":      checkin.ErrSecondPatient,
	"checkin.ErrBadEntry":           checkin.ErrBadEntry,
	"checkin.ErrTooLarge":           checkin.ErrTooLarge,
	"export.ErrMixedTypes":          export.ErrMixedTypes,
	"export.ErrSeveralPeople":       export.ErrSeveralPeople,
	"wallet.ErrNoSuchPerson":        wallet.ErrNoSuchPerson,
	"wallet.ErrAmbiguousPerson":     wallet.ErrAmbiguousPerson,
	"wallet.ErrPersonHasRecords":    wallet.ErrPersonHasRecords,
	"app.ErrMixedPeople":            ErrMixedPeople,
	"fhir.ErrBundleType":            fhir.ErrBundleType,
	"share.ErrUnsigned":             share.ErrUnsigned,
	"share.ErrBadSignature":         share.ErrBadSignature,
	"share.ErrNotEnrolled":          share.ErrNotEnrolled,
	"share.ErrIDInUse":              share.ErrIDInUse,
	"share.ErrQuota":                share.ErrQuota,
	"witness.ErrPending":            witness.ErrPending,
	"app.ErrHostedShareNeedsExpiry": ErrHostedShareNeedsExpiry,
	"witness.ErrUnknownLog":         witness.ErrUnknownLog,
	"witness.ErrNotPending":         witness.ErrNotPending,
	"fhir.ErrTooLarge":              fhir.ErrTooLarge,
	"fhir.ErrNotFHIR":               fhir.ErrNotFHIR,
	"fhir.ErrBadDate":               fhir.ErrBadDate,
	"fhir.ErrUnknownKind":           fhir.ErrUnknownKind,
	"fhir.ErrInvalidDraft":          fhir.ErrInvalidDraft,
	"fhir.ErrNotEditable":           fhir.ErrNotEditable,
	"backup.ErrWrongKey":            backup.ErrWrongKey,
	"backup.ErrNotBackup":           backup.ErrNotBackup,
	"backup.ErrTruncated":           backup.ErrTruncated,
	"backup.ErrDamaged":             backup.ErrDamaged,
	"backup.ErrNewerFormat":         backup.ErrNewerFormat,
	"backup.ErrTargetExists":        backup.ErrTargetExists,
	"keys.ErrWrongPassphrase":       keys.ErrWrongPassphrase,
	"keys.ErrWrongRecoveryKey":      keys.ErrWrongRecoveryKey,
	"keys.ErrBadRecoveryKey":        keys.ErrBadRecoveryKey,
	"keys.ErrNoWallet":              keys.ErrNoWallet,
	"keys.ErrNewerFormat":           keys.ErrNewerFormat,
	"keys.ErrCorruptHeader":         keys.ErrCorruptHeader,
	"keys.ErrTampered":              keys.ErrTampered,
	"kv.ErrTampered":                kv.ErrTampered,
	"kv.ErrNotFound":                kv.ErrNotFound,
	"kv.ErrInUse":                   kv.ErrInUse,
	"kv.ErrStop":                    kv.ErrStop,
	"shc.ErrBadTrustList":           shc.ErrBadTrustList,
	"shc.ErrMalformed":              shc.ErrMalformed,
	"shc.ErrTooLarge":               shc.ErrTooLarge,
	"shc.ErrIncompleteChunks":       shc.ErrIncompleteChunks,
}

// notForPeople are the sentinels that never reach a person, and why.
var notForPeople = map[string]string{
	"kv.ErrStop":             "ends an iteration early; Iterate never returns it",
	"peer.ErrAlreadyServing": "a programming error: each host serves one handler, set once at start",
	"witness.ErrUnknownLog":  "the witness's own: wallets receive it as HTTP 404 (ledger.ErrNotEnrolled), medwallet-node's operator reads it",
	"witness.ErrNotPending":  "the witness's own: only medwallet-node's enroll command returns it",
	"witness.ErrPending":     "the witness's own: a wallet receives it as the enrolment status \"pending\", which the witnesses screen and anchor report",
	"share.ErrUnsigned":      "the clinic node's own, when it hosts a share: it answers it as a refusal that the wallet reports as share.ErrUnauthorized with the node's words",
	"share.ErrBadSignature":  "the clinic node's own, when it hosts a share: it answers it as a refusal that the wallet reports as share.ErrUnauthorized with the node's words",
	"share.ErrNotEnrolled":   "the clinic node's own, when it hosts a share: it answers it as a refusal that the wallet reports as share.ErrUnauthorized with the node's words",
	"share.ErrIDInUse":       "the clinic node's own, when it hosts a share: it answers it as a refusal that the wallet reports as share.ErrUnauthorized with the node's words",
	"share.ErrQuota":         "the clinic node's own, when it hosts a share: it answers it as a refusal that the wallet reports as share.ErrUnauthorized with the node's words",
	"fhir.ErrBundleType":     "a programming error: the wallet's own writers ask WriteBundle for collection and document Bundles only",
}

// declaredSentinels finds, by reading the source, every package-level
// `var ErrX = errors.New(…)` (or fmt.Errorf) under wallet/ and app/ outside
// tests and the clinic node, named "pkg.ErrX".
func declaredSentinels(t *testing.T) []string {
	t.Helper()
	var names []string
	fset := token.NewFileSet()
	for _, root := range []string{".", "../wallet"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node" || d.Name() == "cli") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if !strings.HasPrefix(n.Name, "Err") || i >= len(vs.Values) {
							continue
						}
						call, ok := vs.Values[i].(*ast.CallExpr)
						if !ok {
							continue
						}
						sel, ok := call.Fun.(*ast.SelectorExpr)
						if !ok {
							continue
						}
						if x, _ := sel.X.(*ast.Ident); x != nil && (x.Name == "errors" && sel.Sel.Name == "New" || x.Name == "fmt" && sel.Sel.Name == "Errorf") {
							names = append(names, f.Name.Name+"."+n.Name)
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(names)
	return names
}

// TestEverySentinelErrorHasAdvice holds the advice table to the sentinels
// the code declares: a new sentinel without advice fails here, so the
// window and the command line never fall back to "something went wrong"
// for an error a caller can name.
func TestEverySentinelErrorHasAdvice(t *testing.T) {
	declared := declaredSentinels(t)
	if len(declared) < 60 {
		t.Fatalf("found only %d sentinels; the source scan is broken", len(declared))
	}
	for _, name := range declared {
		if _, ok := sentinels[name]; !ok {
			t.Errorf("%s is declared but not listed in advice_test.go's sentinels: add it there and its advice to app/advice.go (or to notForPeople, saying why no person sees it)", name)
		}
	}
	for name, err := range sentinels {
		if why, exempt := notForPeople[name]; exempt {
			if why == "" {
				t.Errorf("%s: exempt without a reason", name)
			}
			continue
		}
		a, ok := AdviceFor(fmt.Errorf("doing something: %w", err))
		if !ok {
			t.Errorf("%s has no advice", name)
			continue
		}
		if a.Err != err {
			t.Errorf("%s is answered by the advice for %v: give it its own entry before that one", name, a.Err)
		}
		for _, s := range []string{a.What, a.Do} {
			if s == "" || !strings.HasSuffix(s, ".") || strings.ToUpper(s[:1]) != s[:1] {
				t.Errorf("%s: %q is not a sentence", name, s)
			}
		}
		if a.Command != "" && !strings.HasSuffix(a.Command, ".") {
			t.Errorf("%s: command-line advice %q is not a sentence", name, a.Command)
		}
	}
}

func TestAdviceTableHasNoUnreachableEntries(t *testing.T) {
	seen := map[error]bool{}
	for _, a := range AdviceTable() {
		if seen[a.Err] {
			t.Errorf("%v is in the table twice", a.Err)
		}
		seen[a.Err] = true
		if got, _ := AdviceFor(a.Err); got.Err != a.Err {
			t.Errorf("%v is shadowed by the entry for %v", a.Err, got.Err)
		}
	}
}

// TestRecoveryKeyAdviceMatchesTheKeysFormat holds the advice for a mistyped
// recovery key to what keys.RecoveryKey.String writes: the number of groups,
// the group length and the separator.
func TestRecoveryKeyAdviceMatchesTheKeysFormat(t *testing.T) {
	var rk keys.RecoveryKey
	for i := range rk {
		rk[i] = byte(i * 37)
	}
	text := rk.String()
	groups := strings.Split(text, "-")
	for _, g := range groups {
		if len(g) != len(groups[0]) {
			t.Fatalf("groups of unequal length in %q", text)
		}
	}
	a, ok := AdviceFor(fmt.Errorf("unlock: %w", keys.ErrBadRecoveryKey))
	if !ok {
		t.Fatal("no advice for a mistyped recovery key")
	}
	want := fmt.Sprintf("%d groups of %d letters and digits joined by dashes", len(groups), len(groups[0]))
	for _, s := range []string{a.ForWindow(), a.ForCommandLine()} {
		if !strings.Contains(s, want) {
			t.Errorf("advice %q does not say %q (the key reads %s)", s, want, text)
		}
		total := len(strings.ReplaceAll(text, "-", ""))
		for _, n := range regexp.MustCompile(`\d+`).FindAllString(s, -1) {
			if n != fmt.Sprint(len(groups)) && n != fmt.Sprint(len(groups[0])) && n != fmt.Sprint(total) {
				t.Errorf("advice %q names %s, which is no count of the key's %d characters in %d groups", s, n, total, len(groups))
			}
		}
	}
	if _, err := keys.ParseRecoveryKey(text); err != nil {
		t.Fatalf("the key's own text does not parse: %v", err)
	}
}

// TestForkAlarmSaysWhatToDo pins that both the window and the command line
// say what to do about a fork, not only that one happened.
func TestForkAlarmSaysWhatToDo(t *testing.T) {
	a, ok := AdviceFor(fmt.Errorf("anchor: witness x: %w", ledger.ErrFork))
	if !ok {
		t.Fatal("no advice for a fork")
	}
	for _, s := range []string{a.ForWindow(), a.ForCommandLine()} {
		for _, want := range []string{"create no new shares", "change your passphrase", "give the evidence"} {
			if !strings.Contains(s, want) {
				t.Errorf("fork advice %q does not say %q", s, want)
			}
		}
	}
	if !strings.Contains(a.ForCommandLine(), "medwallet anchor --evidence") {
		t.Errorf("the command line's fork advice does not say how to get the evidence: %q", a.ForCommandLine())
	}
}

func TestAdviceForErrorsWithDetails(t *testing.T) {
	a, ok := AdviceFor(fmt.Errorf("import x.json: %w", &fhir.SyntaxError{Line: 3, Column: 7, Msg: "x"}))
	if !ok || !strings.Contains(a.What, "line 3, column 7") {
		t.Errorf("syntax error: %+v", a)
	}
	a, ok = AdviceFor(fmt.Errorf("redeem: %w", &share.ErrPasscode{Remaining: 2}))
	if !ok || !strings.Contains(a.What, "2 more wrong tries") {
		t.Errorf("wrong passcode: %+v", a)
	}
	a, ok = AdviceFor(fmt.Errorf("redeem: %w", &share.ErrPasscode{}))
	if !ok || !strings.Contains(a.What, "disabled") || !strings.Contains(a.Do, "new link") {
		t.Errorf("last wrong passcode: %+v", a)
	}
	if _, ok := AdviceFor(errors.New("something unforeseen")); ok {
		t.Error("advice for an error no table entry names")
	}
	if a, ok := AdviceFor(context.Canceled); !ok || !strings.Contains(a.Do, "Nothing was changed") {
		t.Errorf("cancel: %+v", a)
	}
}

// TestSentinelTextsLeaveWhatToDoToTheTable: the command line prints an
// error's text and then its advice, so a sentinel that also says what to do
// says it twice.
func TestSentinelTextsLeaveWhatToDoToTheTable(t *testing.T) {
	for _, a := range AdviceTable() {
		msg := strings.ToLower(a.Err.Error())
		for _, do := range []string{a.Do, a.Command} {
			if len(do) < 24 {
				continue
			}
			if head := strings.ToLower(do[:24]); strings.Contains(msg, head) {
				t.Errorf("%q already says %q, which its advice says again", a.Err, do[:24])
			}
		}
	}
}

// On the way back the patient redeems a clinic's link, so the advice for a
// passcode must not tell them to ask "the patient", and must not repeat
// itself after the error's own text.
func TestPasscodeAdviceFitsTheReturnPath(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("fetch share: %w", share.ErrPasscodeRequired),
		&share.ErrPasscode{Remaining: 3},
		&share.ErrPasscode{},
	} {
		a, ok := AdviceFor(err)
		if !ok {
			t.Fatalf("%v: no advice", err)
		}
		line := err.Error() + ". " + a.ForCommandLine()
		if strings.Contains(strings.ToLower(line), "patient") || strings.Count(line, "Ask ") > 1 {
			t.Errorf("%v: the command line reads %q", err, line)
		}
	}
}

// A node that refuses an upload is met by enrolling with it over libp2p;
// the advice says how instead of suggesting to share without it, which a
// check-in cannot do.
func TestHostRefusedAdviceSaysHowToEnrol(t *testing.T) {
	a, ok := AdviceFor(fmt.Errorf("upload: %w", share.ErrUnauthorized))
	if !ok || !strings.Contains(a.ForCommandLine(), "medwallet anchor --witness") || !strings.Contains(a.ForCommandLine(), "/p2p/") {
		t.Errorf("advice for a refused upload: %q", a.ForCommandLine())
	}
}

func TestAdjustedWarningCountsOneRecordInTheSingular(t *testing.T) {
	if got := adjustedWarning(1); !strings.HasPrefix(got, "1 record was adjusted") || !strings.Contains(got, "goes without its proof") {
		t.Errorf("adjustedWarning(1) = %q", got)
	}
	if got := adjustedWarning(3); !strings.HasPrefix(got, "3 records were adjusted") {
		t.Errorf("adjustedWarning(3) = %q", got)
	}
}
