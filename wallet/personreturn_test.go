package wallet

import (
	"context"
	"testing"
)

// TestUnattributedBatchJoinsNobody: a received share whose Patient is the
// owner (or names nobody) neither joins the owner's records nor adds a
// person; the user files it with someone, or not at all.
func TestUnattributedBatchJoinsNobody(t *testing.T) {
	w := newWallet(t)
	patient := []byte(`{"resourceType":"Patient","id":"p1","name":[{"given":["Ada"],"family":"Lovelace"}],"birthDate":"1815-12-10"}`)
	if _, err := w.Store(context.Background(), Batch{Name: "mine", Entries: []Incoming{{Where: "entry 1", Resource: patient}}}); err != nil {
		t.Fatal(err)
	}
	if len(w.People()) != 1 {
		t.Fatalf("%d people", len(w.People()))
	}
	stranger := []byte(`{"resourceType":"Patient","id":"p9","name":[{"given":["Bob"],"family":"Stranger"}],"birthDate":"1990-01-01"}`)
	note := []byte(`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Note"},"valueString":"x"}`)
	rep, err := w.Store(context.Background(), Batch{Name: "received", Scope: "shl:https://a.example/x", Unattributed: true,
		Entries: []Incoming{{Where: "entry 1", Resource: patient}, {Where: "entry 2", Resource: stranger}, {Where: "entry 3", Resource: note}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.People()) != 1 || len(rep.People) != 0 {
		t.Errorf("%d people, notes %+v", len(w.People()), rep.People)
	}
	for _, e := range rep.Entries {
		if who, ok := w.PersonOf(e.RecordID); !ok || who != "" {
			t.Errorf("%s filed under %q", e.Where, who)
		}
	}
}
