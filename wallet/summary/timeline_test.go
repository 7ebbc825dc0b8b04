package summary

import (
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

func TestTimelineGroupsASyntheaHistoryByVisit(t *testing.T) {
	w := walletWith(t, napoleon)
	all := w.Search(wallet.Query{})
	visits := Timeline(all)
	clinical, encounters := 0, 0
	for _, e := range all {
		switch {
		case e.Summary.ResourceType == "Encounter":
			encounters++
		case CategoryOf(e).Clinical():
			clinical++
		}
	}
	if encounters != 10 || len(visits) != 10 {
		t.Fatalf("%d visits for %d encounters: every record of this file names its visit", len(visits), encounters)
	}
	grouped := 0
	for i, v := range visits {
		if v.RecordID == "" {
			t.Errorf("visit %d has no encounter: %+v", i, v)
		}
		if i > 0 && v.Date.After(visits[i-1].Date) {
			t.Errorf("visit %d (%s) is newer than the one before it", i, v.Date)
		}
		for j, e := range v.Records {
			if !CategoryOf(e).Clinical() {
				t.Errorf("%s %s is in the timeline", e.Summary.ResourceType, e.ID)
			}
			if j > 0 && e.Summary.Date.After(v.Records[j-1].Summary.Date) {
				t.Errorf("visit %d: records not newest first", i)
			}
		}
		grouped += len(v.Records)
	}
	if grouped != clinical {
		t.Errorf("%d records in visits, %d clinical records", grouped, clinical)
	}
	latest := visits[0]
	if latest.Title != "Encounter for check up (procedure)" || latest.Date.Format(time.DateOnly) != "2020-09-06" ||
		latest.Organization != "ADCARE HOSPITAL OF WORCESTER INC" {
		t.Errorf("latest visit: %q %s at %q", latest.Title, latest.Date, latest.Organization)
	}
	var titles []string
	for _, e := range latest.Records {
		titles = append(titles, e.Summary.Title)
	}
	for _, want := range []string{"Body Weight", "Blood Pressure", "Influenza, seasonal, injectable, preservative free"} {
		found := false
		for _, title := range titles {
			found = found || title == want
		}
		if !found {
			t.Errorf("latest visit lacks %q: %q", want, titles)
		}
	}
}

func TestTimelineGroupsRecordsWithoutAVisitByDay(t *testing.T) {
	at := func(s string) time.Time {
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	entry := func(id, rt string, kind fhir.Kind, date, encounter, org string) *wallet.Entry {
		return &wallet.Entry{ID: id, Summary: fhir.Summary{ResourceType: rt, ResourceID: id, Kind: kind,
			Date: at(date), Encounter: encounter, Organization: org}}
	}
	entries := []*wallet.Entry{
		entry("enc1", "Encounter", fhir.KindEncounter, "2024-03-01T09:00:00Z", "", ""),
		entry("obs1", "Observation", fhir.KindVital, "2024-03-01T09:10:00Z", "Encounter/enc1", "Riverside Clinic"),
		entry("obs2", "Observation", fhir.KindLab, "2024-03-01T09:20:00Z", "urn:uuid:enc1", "Riverside Clinic"),
		entry("imm1", "Immunization", fhir.KindImmunization, "2024-05-02T08:00:00Z", "", "City Pharmacy"),
		entry("imm2", "Immunization", fhir.KindImmunization, "2024-05-02T17:00:00Z", "Encounter/elsewhere", ""),
		entry("cond", "Condition", fhir.KindCondition, "2023-01-01T00:00:00Z", "", ""),
		entry("claim", "Claim", fhir.KindOther, "2024-03-01T10:00:00Z", "Encounter/enc1", ""),
		entry("pat", "Patient", fhir.KindPatient, "1960-01-01T00:00:00Z", "", ""),
	}
	visits := Timeline(entries)
	if len(visits) != 3 {
		t.Fatalf("want a day, a visit and a day; got %+v", visits)
	}
	day := visits[0]
	if day.RecordID != "" || day.Date.Format(time.DateOnly) != "2024-05-02" || len(day.Records) != 2 ||
		day.Records[0].ID != "imm2" || day.Organization != "City Pharmacy" {
		t.Errorf("records of a day without their visit: %+v", day)
	}
	visit := visits[1]
	if visit.RecordID != "enc1" || len(visit.Records) != 2 || visit.Records[0].ID != "obs2" || visit.Organization != "Riverside Clinic" {
		t.Errorf("the visit: %+v", visit)
	}
	if visits[2].Records[0].ID != "cond" {
		t.Errorf("the oldest day: %+v", visits[2])
	}
}

// FromEntries takes records in any order (an export's), and skips holes.
func TestFromEntriesOrdersRecordsItself(t *testing.T) {
	weight := func(id, date, value string) *wallet.Entry {
		d, _ := time.Parse(time.DateOnly, date)
		return &wallet.Entry{ID: id, Summary: fhir.Summary{ResourceType: "Observation", Kind: fhir.KindVital, Title: "Body Weight",
			Code: fhir.Coding{System: "http://loinc.org", Code: "29463-7"}, Date: d, Value: value, Unit: "kg"}}
	}
	s := FromEntries([]*wallet.Entry{weight("old", "2020-01-01", "80"), nil, weight("new", "2024-01-01", "75.55555555"), weight("mid", "2022-01-01", "78")}, time.Time{})
	if len(s.Vitals) != 1 || s.Vitals[0].RecordID != "new" || s.Vitals[0].Value != "75.6 kg" || s.Vitals[0].Trend != "↓" {
		t.Errorf("vitals: %+v", s.Vitals)
	}
}

// Two drugs an older import could only call "Medication" are two lines, not
// one: a record named only by its kind is like no other.
func TestSummaryKeepsApartRecordsNamedOnlyByTheirKind(t *testing.T) {
	med := func(id string) *wallet.Entry {
		return &wallet.Entry{ID: id, Summary: fhir.Summary{ResourceType: "MedicationStatement", Kind: fhir.KindMedication,
			Title: "Medication", Status: "active"}}
	}
	named := func(id, title string) *wallet.Entry {
		return &wallet.Entry{ID: id, Summary: fhir.Summary{ResourceType: "MedicationStatement", Kind: fhir.KindMedication,
			Title: title, Status: "active"}}
	}
	s := FromEntries([]*wallet.Entry{med("a"), med("b"), named("c", "Aspirin"), named("d", "aspirin ")}, time.Time{})
	if len(s.Medications) != 3 {
		t.Errorf("medications: %+v", s.Medications)
	}
}
