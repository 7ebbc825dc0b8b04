package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// In a household wallet the insurance commands say whose card they mean,
// and the remedy for a missing card names --person: without it the card
// would be saved as the owner's and the check-in would fail again.
func TestInsuranceCardNamesThePersonAndTheFlagToEnterIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	env := map[string]string{"MEDWALLET_PASSPHRASE": "correct horse battery staple"}
	if _, errs, code := run(t, dir, env, "init"); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	var files []string
	for _, f := range []string{"Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json", "Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json"} {
		abs, _ := filepath.Abs(filepath.Join(fixtures, "fhir/synthea", f))
		files = append(files, abs)
	}
	if _, errs, code := run(t, dir, env, append([]string{"import"}, files...)...); code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}

	out, errs, code := run(t, dir, env, "insurance", "set", "--payer", "Acme Health Plan", "--member-id", "ACM123456789")
	if code != 0 || !strings.Contains(out, "Saved Clemente Kreiger's insurance card as record") {
		t.Errorf("insurance set for the owner: %d %q %s", code, out, errs)
	}

	_, errs, code = run(t, dir, env, "insurance", "show", "--person", "Napoleon")
	if code == 0 || !strings.Contains(errs, "Napoleon Ullrich has no insurance card") ||
		!strings.Contains(errs, `insurance set --person "Napoleon"`) || strings.Contains(errs, "drop --insurance") {
		t.Errorf("insurance show for someone without a card: %d %s", code, errs)
	}

	_, errs, code = run(t, dir, env, "share", "create", "--checkin", "--insurance", "--person", "Napoleon",
		"--host", "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWDuENqa6ssYjTC5wmai4GTGBwGVRm5e9wzMfzKogUEFUU")
	if code == 0 || !strings.Contains(errs, "(Napoleon Ullrich)") || !strings.Contains(errs, "--person WHO") {
		t.Errorf("check-in with --insurance for someone without a card: %d %s", code, errs)
	}
}
