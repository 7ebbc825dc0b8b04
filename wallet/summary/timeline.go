package summary

import (
	"cmp"
	"slices"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// Visit is one group of the timeline: an encounter and the records made at
// it, or (RecordID "") the records of one day that name no visit.
type Visit struct {
	RecordID     string // the Encounter's record, "" for a day without one
	Date         time.Time
	Title        string // the encounter's type ("Encounter for check up"), "" for a day
	Organization string // where it took place, when a record says
	Records      []*wallet.Entry
}

// Timeline groups records by the visit they belong to (their Encounter
// reference), newest visit first; records that name no visit the wallet
// holds are grouped by day. Records outside the clinical categories
// (insurance, billing, the Patient, directory resources) are left out.
// Within a visit, records are newest first.
func Timeline(entries []*wallet.Entry) []Visit {
	visits := map[string]*Visit{} // by the encounter's record ID
	byRef := map[string]string{}  // encounter resource id → record ID
	for _, e := range entries {
		if e == nil || e.Summary.ResourceType != "Encounter" {
			continue
		}
		visits[e.ID] = &Visit{RecordID: e.ID, Date: e.Summary.Date, Title: e.Summary.Title, Organization: e.Summary.Organization}
		if id := e.Summary.ResourceID; id != "" {
			byRef[id] = e.ID
		}
	}
	days := map[int]*Visit{} // by the date, yyyymmdd; 0 for undated
	for _, e := range entries {
		if e == nil || e.Summary.ResourceType == "Encounter" || !CategoryOf(e).Clinical() {
			continue
		}
		if v := visits[byRef[fhir.ReferencedID(e.Summary.Encounter)]]; v != nil {
			v.Records = append(v.Records, e)
			continue
		}
		day, d := 0, e.Summary.Date
		if !d.IsZero() {
			day = d.Year()*10000 + int(d.Month())*100 + d.Day()
		}
		v := days[day]
		if v == nil {
			v = &Visit{}
			if day != 0 {
				v.Date = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, d.Location())
			}
			days[day] = v
		}
		v.Records = append(v.Records, e)
	}
	out := make([]Visit, 0, len(visits)+len(days))
	for _, v := range visits {
		out = append(out, *v)
	}
	for _, v := range days {
		out = append(out, *v)
	}
	for i := range out {
		v := &out[i]
		slices.SortFunc(v.Records, newestFirst)
		if v.Organization == "" {
			v.Organization = commonOrganization(v.Records)
		}
	}
	slices.SortFunc(out, func(a, b Visit) int {
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		return cmp.Compare(a.RecordID, b.RecordID)
	})
	return out
}

// commonOrganization is the organisation the records name, when they name
// only one.
func commonOrganization(records []*wallet.Entry) string {
	org := ""
	for _, e := range records {
		switch o := e.Summary.Organization; {
		case o == "":
		case org == "":
			org = o
		case o != org:
			return ""
		}
	}
	return org
}

func newestFirst(a, b *wallet.Entry) int {
	if c := b.Summary.Date.Compare(a.Summary.Date); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}
