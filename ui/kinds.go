package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// kindIcons is the one table of what each kind of record looks like in a
// list. Kinds missing here show kindIconOther. The icons are looked up
// when drawn, so they follow the theme (and the command line, which shares
// this binary, never touches Fyne).
var kindIcons = map[fhir.Kind]func() fyne.Resource{
	fhir.KindPatient:      theme.AccountIcon,
	fhir.KindAllergy:      theme.WarningIcon,
	fhir.KindCondition:    theme.InfoIcon,
	fhir.KindMedication:   theme.MediaRecordIcon,
	fhir.KindImmunization: theme.ConfirmIcon,
	fhir.KindLab:          theme.SearchIcon,
	fhir.KindVital:        theme.VisibilityIcon,
	fhir.KindObservation:  theme.ZoomInIcon,
	fhir.KindReport:       theme.ListIcon,
	fhir.KindProcedure:    theme.ContentCutIcon,
	fhir.KindEncounter:    theme.CalendarIcon,
	fhir.KindDocument:     theme.DocumentIcon,
	fhir.KindCarePlan:     theme.HistoryIcon,
	fhir.KindNote:         theme.DocumentCreateIcon,
}

var kindIconOther = theme.FileIcon

func kindIcon(k fhir.Kind) fyne.Resource {
	if r, ok := kindIcons[k]; ok {
		return r()
	}
	return kindIconOther()
}

// formKinds are the kinds the patient can type, in the order the "New
// record" form offers them (the kinds fhir.Build makes).
var formKinds = []fhir.Kind{
	fhir.KindAllergy, fhir.KindCondition, fhir.KindMedication, fhir.KindImmunization,
	fhir.KindLab, fhir.KindVital, fhir.KindNote, fhir.KindDocument,
}

// sourceLabels names where a record came from, for filters and details.
var sourceLabels = []struct {
	t     wallet.SourceType
	label string
}{
	{wallet.SourceImport, "Imported file"},
	{wallet.SourcePatient, "Typed by me"},
	{wallet.SourceShare, "Received share"},
	{wallet.SourceProvider, "Signed by a provider"},
}

func sourceLabel(t wallet.SourceType) string {
	for _, s := range sourceLabels {
		if s.t == t {
			return s.label
		}
	}
	return string(t)
}
