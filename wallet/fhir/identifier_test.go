package fhir

import (
	"encoding/json"
	"strings"
	"testing"
)

const patientWithNumbers = `{"resourceType":"Patient","id":"p",
 "identifier":[
  {"system":"https://github.com/synthetichealth/synthea","value":"keep-1"},
  {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"SS"}]},"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-43-5397"},
  {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"DL"}]},"system":"urn:oid:2.16.840.1.113883.4.3.25","value":"S99923456"},
  {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"value":"keep-2"},
  {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PPN"}]},"system":"http://hl7.org/fhir/sid/passport-USA","value":"X12345678"}
 ],
 "name":[{"family":"Doe"}]}`

func TestSharesLeaveOutSocialSecurityLicenceAndPassportNumbers(t *testing.T) {
	out, n := WithoutSensitiveIdentifiers([]byte(patientWithNumbers))
	if n != 3 {
		t.Fatalf("removed %d, want 3", n)
	}
	for _, secret := range []string{"999-43-5397", "S99923456", "X12345678"} {
		if strings.Contains(string(out), secret) {
			t.Fatalf("%s is still there: %s", secret, out)
		}
	}
	for _, kept := range []string{"keep-1", "keep-2", `"name":[{"family":"Doe"}]`} {
		if !strings.Contains(string(out), kept) {
			t.Fatalf("%s was removed: %s", kept, out)
		}
	}
	if !json.Valid(out) {
		t.Fatalf("not JSON: %s", out)
	}

	only := []byte(`{"resourceType":"Patient","identifier":[{"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-43-5397"}],"gender":"male"}`)
	out, n = WithoutSensitiveIdentifiers(only)
	if n != 1 || string(out) != `{"resourceType":"Patient","gender":"male"}` {
		t.Fatalf("only an SSN: %d %s", n, out)
	}
	last := []byte(`{"resourceType":"Patient","gender":"male", "identifier":[{"type":{"text":"Passport number"},"value":"X1"}]}`)
	out, n = WithoutSensitiveIdentifiers(last)
	if n != 1 || !json.Valid(out) || strings.Contains(string(out), "X1") {
		t.Fatalf("last member: %d %s", n, out)
	}
	plain := []byte(`{"resourceType":"Patient","identifier":[{"value":"1"}]}`)
	if out, n := WithoutSensitiveIdentifiers(plain); n != 0 || string(out) != string(plain) {
		t.Fatalf("nothing sensitive, yet %d removed: %s", n, out)
	}
}

func FuzzWithoutSensitiveIdentifiers(f *testing.F) {
	f.Add([]byte(patientWithNumbers))
	f.Add([]byte(`{"identifier":[{"system":"http://hl7.org/fhir/sid/us-ssn"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, n := WithoutSensitiveIdentifiers(in)
		if n > 0 && !json.Valid(out) {
			t.Fatalf("removed %d and left invalid JSON: %s", n, out)
		}
		if n == 0 && string(out) != string(in) {
			t.Fatal("changed without removing")
		}
	})
}
