package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"medwallet/wallet"
)

func TestPeopleCommandAndThePersonFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	env := map[string]string{"MEDWALLET_PASSPHRASE": "correct horse battery staple"}
	if _, errs, code := run(t, dir, env, "init"); code != 0 {
		t.Fatalf("init: %s", errs)
	}
	napoleon, _ := filepath.Abs(filepath.Join(fixtures, "fhir/synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json"))
	clemente, _ := filepath.Abs(filepath.Join(fixtures, "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"))
	maxKris, _ := filepath.Abs(filepath.Join(fixtures, "fhir/synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json"))

	out, errs, code := run(t, dir, env, "import", napoleon)
	if code != 0 || !strings.Contains(out, "added Napoleon Ullrich, born 1995-01-08, as the wallet's owner") {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	out, errs, code = run(t, dir, env, "import", clemente)
	if code != 0 || !strings.Contains(out, "added Clemente Kreiger, born 1984-07-02, as a new person") {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	out, _, code = run(t, dir, env, "import", "--person", "Napoleon", maxKris)
	if code != 0 || !strings.Contains(out, "filed Max Kris, born 1920-04-23, under Napoleon Ullrich as you asked; the file's patient does not match them") {
		t.Fatalf("import --person: %d %s", code, out)
	}

	out, errs, code = run(t, dir, env, "people", "--json")
	if code != 0 {
		t.Fatalf("people: %d %s", code, errs)
	}
	var people []map[string]any
	if err := json.Unmarshal([]byte(out), &people); err != nil || len(people) != 2 {
		t.Fatalf("people --json %s: %v", out, err)
	}
	owners, total := 0, 0
	ids := map[string]string{}
	for _, p := range people {
		for _, k := range []string{"id", "name", "birthDate", "gender", "owner", "records"} {
			if _, ok := p[k]; !ok {
				t.Fatalf("people --json lacks %q: %v", k, p)
			}
		}
		if p["owner"] == true {
			owners++
		}
		total += int(p["records"].(float64))
		ids[p["name"].(string)] = p["id"].(string)
	}
	if owners != 1 || people[0]["name"] != "Napoleon Ullrich" || people[0]["owner"] != true {
		t.Fatalf("owners: %v", people)
	}

	out, _, _ = run(t, dir, env, "list", "--json")
	var all []wallet.Entry
	json.Unmarshal([]byte(out), &all)
	attributed := 0
	for _, e := range all {
		if e.Person != "" {
			attributed++
		}
	}
	if attributed != total || attributed == 0 {
		t.Fatalf("list --json: %d records carry a person, people count %d", attributed, total)
	}
	out, _, code = run(t, dir, env, "list", "--person", "Clemente Kreiger", "--json")
	var his []wallet.Entry
	json.Unmarshal([]byte(out), &his)
	if code != 0 || len(his) == 0 {
		t.Fatalf("list --person: %d %s", code, out)
	}
	for _, e := range his {
		if e.Person != ids["Clemente Kreiger"] {
			t.Fatalf("list --person Clemente gave a record of %q", e.Person)
		}
	}

	_, errs, code = run(t, dir, env, "list", "--person", "Tobie")
	if code != 1 || !strings.Contains(errs, "no such person") || !strings.Contains(errs, "'medwallet people'") {
		t.Fatalf("unknown person: %d %s", code, errs)
	}
	_, errs, code = run(t, dir, env, "export", "--format", "ips", "-o", filepath.Join(t.TempDir(), "ips.json"))
	if code != 1 || !strings.Contains(errs, "--person") {
		t.Fatalf("IPS of two people: %d %s", code, errs)
	}
	out, errs, code = run(t, dir, env, "export", "--format", "ips", "--person", ids["Clemente Kreiger"], "-o", filepath.Join(t.TempDir(), "ips.json"))
	if code != 0 {
		t.Fatalf("IPS of one person: %d %s %s", code, out, errs)
	}

	out, errs, code = run(t, dir, env, "people", "add", "--name", "Tom Ullrich", "--birth-date", "2020-02-02")
	if code != 0 || !strings.Contains(out, "added Tom Ullrich, born 2020-02-02, as a dependant") {
		t.Fatalf("people add: %d %s %s", code, out, errs)
	}
	if _, errs, code = run(t, dir, env, "people", "remove", "Napoleon"); code != 1 || !strings.Contains(errs, "still has records") {
		t.Fatalf("remove the owner: %d %s", code, errs)
	}
	if out, errs, code = run(t, dir, env, "people", "remove", "Tom"); code != 0 || !strings.Contains(out, "removed Tom Ullrich") {
		t.Fatalf("remove: %d %s %s", code, out, errs)
	}
}
