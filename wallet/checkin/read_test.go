package checkin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestReadKeepsThePDFKindsApartAndEveryRecord(t *testing.T) {
	patient, purl, entries := loadPerson(t, "synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")
	card, _ := NewInsuranceCard("Acme Health", "ZX1", "", "", "", "")
	out, err := Build(Options{Patient: patient, PatientFullURL: purl, Entries: entries, Story: "My knee hurts.", Insurance: &card, Now: checkinTime})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 0 {
		t.Errorf("problems: %v", r.Problems)
	}
	if len(r.Rendered) != 1 || len(r.Stories) != 1 || !bytes.HasPrefix(r.Rendered[0].PDF, []byte("%PDF-")) || !bytes.HasPrefix(r.Stories[0].PDF, []byte("%PDF-")) {
		t.Fatalf("%d rendered and %d story PDFs, want one each", len(r.Rendered), len(r.Stories))
	}
	if !bytes.Contains(r.Patient, []byte("Napoleon")) || r.PatientFullURL == "" {
		t.Errorf("patient %s at %q", r.Patient, r.PatientFullURL)
	}
	// Every record, plus the Coverage and its payer.
	if len(r.Resources) != len(entries)+2 {
		t.Errorf("%d resources, want %d", len(r.Resources), len(entries)+2)
	}
	kinds := map[string]int{}
	for _, e := range r.Resources {
		h, _ := head(e.Resource)
		kinds[h.ResourceType]++
	}
	for _, k := range []string{"Condition", "MedicationRequest", "Immunization", "Coverage"} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the resources read", k)
		}
	}
}

func TestReadRefusesWhatCannotBeFiledUnderOnePerson(t *testing.T) {
	two := mutate(t, func(b map[string]any) {
		b["entry"] = append(entries(b), map[string]any{"fullUrl": "urn:uuid:3f0e6b7a-1111-4222-8333-944455556666", "resource": map[string]any{"resourceType": "Patient", "id": "p2"}})
	})
	for name, data := range map[string][]byte{
		"two Patients": two,
		"not JSON":     []byte("%PDF-1.4"),
		"oversized":    bytes.Repeat([]byte(" "), MaxBundle+1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Read(data); !errors.Is(err, ErrNotACheckin) {
				t.Errorf("got %v, want ErrNotACheckin", err)
			}
		})
	}
}

func TestReadDoesNotPassOffAFakePDFAsADocument(t *testing.T) {
	// A sender labels HTML as the rendered PDF: the receiver must not show
	// it as the patient's PDF, but keeps the resource and says why.
	data := mutate(t, func(b map[string]any) {
		doc(b)["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["data"] = base64.StdEncoding.EncodeToString([]byte("<script>alert(1)</script>"))
	})
	r, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rendered) != 0 {
		t.Error("a fake PDF was handed on as the rendered PDF")
	}
	if len(r.Resources) != 2 {
		t.Errorf("%d resources, want the Condition and the labelled DocumentReference", len(r.Resources))
	}
	if len(r.Problems) == 0 {
		t.Error("the fake PDF went unreported")
	}
}

func FuzzRead(f *testing.F) {
	f.Add(conformantBundle(f))
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:3f0e6b7a-1111-4222-8333-944455556666","resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"DocumentReference","type":{"coding":[{"system":"http://loinc.org","code":"51855-5"}]},"content":[{"attachment":{"contentType":"application/pdf","data":"JVBERi0="}}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Read(data)
		if err != nil {
			return
		}
		if r.Patient == nil {
			t.Fatal("a check-in read without its Patient")
		}
		for _, d := range append(r.Rendered, r.Stories...) {
			if !bytes.HasPrefix(d.PDF, []byte("%PDF-")) {
				t.Fatal("a document that is not a PDF")
			}
		}
	})
}
