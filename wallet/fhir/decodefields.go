package fhir

import (
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// This file decodes the members Summarize reads (the structures in
// summary.go) from JSON that validJSON has accepted, without reflection:
// Summarize runs for every resource of an import, and encoding/json spent
// most of its time there scanning each resource twice and matching every
// member by reflection. The result is exactly what json.Unmarshal gives for
// the same structures, oddities included, because stored summaries and
// the tests of reference_impl_test.go depend on it:
//   - member names match exactly, else case-insensitively as encoding/json
//     folds them ("STATUS", "ſtatus" name status);
//   - a later duplicate member decodes into what the earlier one left: an
//     object merges, an array reuses and overwrites its elements, null
//     clears a pointer, slice or raw member and leaves a string or bool;
//   - a member of the wrong type is skipped (a pointer to it is still
//     allocated), and the decoder notes a type error;
//   - a string that is not a valid number, in a json.Number, stops the
//     decoding with encoding/json's error.

// fieldDecoder holds one decoding: the input, whether a member had the
// wrong type, and the error that stopped it.
type fieldDecoder struct {
	b       []byte
	typeErr bool
	err     error
	// listing: decode only what Summarize, DateText and PatientName read,
	// skipping the members only DraftOf, Details and Points use (see
	// listingSkips).
	listing bool
}

// stopped is returned by member functions to stop the decoding.
const stopped = -1

// unknownMember is returned by a member function for a name it does not
// hold.
const unknownMember = -2

// object walks the object at b[i], calling member with each key (unquoted)
// and the index of its value; member returns the index past the value,
// unknownMember, or stopped. null leaves the target alone; another type is
// a type error. It returns the index past the value, or stopped.
func (d *fieldDecoder) object(i int, member func(key []byte, v int) int) int {
	b := d.b
	switch b[i] {
	case '{':
	case 'n':
		return i + 4
	default:
		d.typeErr = true
		return skipValue(b, i)
	}
	i = skipSpace(b, i+1)
	for b[i] == '"' {
		key, end := d.key(i)
		v := skipSpace(b, skipSpace(b, end)+1) // past the colon
		next := member(key, v)
		if next == unknownMember {
			if name := foldedMember(key); name != nil && string(name) != string(key) {
				next = member(name, v)
			}
			if next == unknownMember {
				next = skipValue(b, v)
			}
		}
		if next < 0 {
			return stopped
		}
		i = skipSpace(b, next)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return i + 1 // past '}'
}

// key reads the member name at b[i] == '"': the bytes between the quotes
// when they need no unquoting, and the index past the closing quote.
func (d *fieldDecoder) key(i int) ([]byte, int) {
	b := d.b
	for j := i + 1; ; j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1
		case c == '\\' || c >= utf8.RuneSelf:
			end := skipString(b, i)
			return []byte(unquote(b[i:end])), end
		}
	}
}

// slice decodes the array at b[i] into *s as encoding/json does: element n
// decodes into what the slice held there (within its capacity), the slice
// ends at the last element, [] makes it empty and null nil; another type
// is a type error.
func slice[T any](d *fieldDecoder, i int, s *[]T, elem func(d *fieldDecoder, i int, e *T) int) int {
	b := d.b
	switch b[i] {
	case '[':
	case 'n':
		*s = nil
		return i + 4
	default:
		d.typeErr = true
		return skipValue(b, i)
	}
	list := *s
	n := 0
	i = skipSpace(b, i+1)
	for b[i] != ']' {
		if n < cap(list) {
			list = list[:n+1]
		} else {
			var zero T
			list = append(list[:n], zero)
		}
		end := elem(d, i, &list[n])
		if end < 0 {
			*s = list
			return stopped
		}
		n++
		i = skipSpace(b, end)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	if n == 0 {
		list = []T{}
	}
	*s = list[:n]
	return i + 1
}

// pointer decodes the value at b[i] into **p: null makes it nil; anything
// else decodes into *p, allocated first if nil.
func pointer[T any](d *fieldDecoder, i int, p **T, elem func(d *fieldDecoder, i int, e *T) int) int {
	if d.b[i] == 'n' {
		*p = nil
		return i + 4
	}
	if *p == nil {
		*p = new(T)
	}
	return elem(d, i, *p)
}

// decodeString decodes a JSON string into *s; null leaves it.
func decodeString(d *fieldDecoder, i int, s *string) int {
	b := d.b
	switch b[i] {
	case '"':
		// One pass to the closing quote, then a copy, when nothing needs
		// unquoting: the value unquote would give.
		ascii := true
		for j := i + 1; ; j++ {
			switch c := b[j]; {
			case c == '"':
				if inner := b[i+1 : j]; ascii || utf8.Valid(inner) {
					*s = string(inner)
				} else {
					*s = unquote(b[i : j+1])
				}
				return j + 1
			case c == '\\':
				end := skipString(b, i)
				*s = unquote(b[i:end])
				return end
			case c >= utf8.RuneSelf:
				ascii = false
			}
		}
	case 'n':
		return i + 4
	default:
		d.typeErr = true
		return skipValue(b, i)
	}
}

// decodeBool decodes true or false into *v; null leaves it.
func decodeBool(d *fieldDecoder, i int, v *bool) int {
	switch d.b[i] {
	case 't':
		*v = true
		return i + 4
	case 'f':
		*v = false
		return i + 5
	case 'n':
		return i + 4
	default:
		d.typeErr = true
		return skipValue(d.b, i)
	}
}

// decodeNumber decodes a number, or a string holding one, into *n; null
// leaves it. A string that is not a number stops the decoding.
func decodeNumber(d *fieldDecoder, i int, n *json.Number) int {
	b := d.b
	switch c := b[i]; {
	case c == '-' || c >= '0' && c <= '9':
		end := skipValue(b, i)
		*n = json.Number(b[i:end])
		return end
	case c == '"':
		end := skipString(b, i)
		s := unquote(b[i:end])
		if validNumber([]byte(s), 0) != len(s) {
			d.err = fmt.Errorf("json: invalid number literal, trying to unmarshal %q into Number", b[i:end])
			return stopped
		}
		*n = json.Number(s)
		return end
	case c == 'n':
		return i + 4
	default:
		d.typeErr = true
		return skipValue(b, i)
	}
}

// decodeRaw keeps the value at b[i] as it is written (null too).
func decodeRaw(d *fieldDecoder, i int, raw *json.RawMessage) int {
	end := skipValue(d.b, i)
	*raw = json.RawMessage(d.b[i:end:end])
	return end
}

func (d *fieldDecoder) coding(i int, c *Coding) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "system":
			return decodeString(d, v, &c.System)
		case "code":
			return decodeString(d, v, &c.Code)
		case "display":
			return decodeString(d, v, &c.Display)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) concept(i int, c *codeableConcept) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "coding":
			return slice(d, v, &c.Coding, (*fieldDecoder).coding)
		case "text":
			return decodeString(d, v, &c.Text)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) period(i int, p *period) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "start":
			return decodeString(d, v, &p.Start)
		case "end":
			return decodeString(d, v, &p.End)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) quantity(i int, q *quantity) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "value":
			return decodeNumber(d, v, &q.Value)
		case "comparator":
			return decodeString(d, v, &q.Comparator)
		case "unit":
			return decodeString(d, v, &q.Unit)
		case "code":
			return decodeString(d, v, &q.Code)
		case "system":
			return decodeString(d, v, &q.System)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) reference(i int, r *reference) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "reference":
			return decodeString(d, v, &r.Reference)
		case "display":
			return decodeString(d, v, &r.Display)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) humanName(i int, n *humanName) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "use":
			return decodeString(d, v, &n.Use)
		case "text":
			return decodeString(d, v, &n.Text)
		case "family":
			return decodeString(d, v, &n.Family)
		case "given":
			return slice(d, v, &n.Given, decodeString)
		case "prefix":
			return slice(d, v, &n.Prefix, decodeString)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) referenceRange(i int, r *referenceRange) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "low":
			return pointer(d, v, &r.Low, (*fieldDecoder).quantity)
		case "high":
			return pointer(d, v, &r.High, (*fieldDecoder).quantity)
		case "text":
			return decodeString(d, v, &r.Text)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) quantityRange(i int, r *quantityRange) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "low":
			return pointer(d, v, &r.Low, (*fieldDecoder).quantity)
		case "high":
			return pointer(d, v, &r.High, (*fieldDecoder).quantity)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) ratio(i int, r *ratio) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "numerator":
			return pointer(d, v, &r.Numerator, (*fieldDecoder).quantity)
		case "denominator":
			return pointer(d, v, &r.Denominator, (*fieldDecoder).quantity)
		}
		return unknownMember
	})
}

// valueMember decodes the value[x] member k of an Observation or a
// component into v, or returns unknownMember.
func (d *fieldDecoder) valueMember(k []byte, i int, v *value) int {
	switch string(k) {
	case "valueQuantity":
		return pointer(d, i, &v.ValueQuantity, (*fieldDecoder).quantity)
	case "valueCodeableConcept":
		return pointer(d, i, &v.ValueCodeableConcept, (*fieldDecoder).concept)
	case "valueString":
		return pointer(d, i, &v.ValueString, decodeString)
	case "valueBoolean":
		return pointer(d, i, &v.ValueBoolean, decodeBool)
	case "valueInteger":
		return pointer(d, i, &v.ValueInteger, decodeNumber)
	case "valueRange":
		return pointer(d, i, &v.ValueRange, (*fieldDecoder).quantityRange)
	case "valueRatio":
		return pointer(d, i, &v.ValueRatio, (*fieldDecoder).ratio)
	case "valueTime":
		return pointer(d, i, &v.ValueTime, decodeString)
	case "valueDateTime":
		return pointer(d, i, &v.ValueDateTime, decodeString)
	case "valuePeriod":
		return pointer(d, i, &v.ValuePeriod, (*fieldDecoder).period)
	}
	return unknownMember
}

func (d *fieldDecoder) component(i int, c *component) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "code":
			return pointer(d, v, &c.Code, (*fieldDecoder).concept)
		case "referenceRange":
			return slice(d, v, &c.ReferenceRange, (*fieldDecoder).referenceRange)
		}
		return d.valueMember(k, v, &c.value)
	})
}

func (d *fieldDecoder) dosage(i int, ds *dosage) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "text":
			return decodeString(d, v, &ds.Text)
		case "doseAndRate":
			return slice(d, v, &ds.DoseAndRate, func(d *fieldDecoder, i int, dr *doseAndRate) int {
				return d.object(i, func(k []byte, v int) int {
					if string(k) == "doseQuantity" {
						return pointer(d, v, &dr.DoseQuantity, (*fieldDecoder).quantity)
					}
					return unknownMember
				})
			})
		case "timing":
			return pointer(d, v, &ds.Timing, func(d *fieldDecoder, i int, t *timing) int {
				return d.object(i, func(k []byte, v int) int {
					if string(k) == "repeat" {
						return pointer(d, v, &t.Repeat, (*fieldDecoder).timingRepeat)
					}
					return unknownMember
				})
			})
		case "asNeededBoolean":
			return decodeBool(d, v, &ds.AsNeededBoolean)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) timingRepeat(i int, r *timingRepeat) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "frequency":
			return decodeNumber(d, v, &r.Frequency)
		case "period":
			return decodeNumber(d, v, &r.Period)
		case "periodUnit":
			return decodeString(d, v, &r.PeriodUnit)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) attachment(i int, a *attachment) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "contentType":
			if d.listing {
				return skipValue(d.b, v)
			}
			return decodeString(d, v, &a.ContentType)
		case "data":
			if d.listing {
				return skipValue(d.b, v)
			}
			return decodeString(d, v, &a.Data)
		case "url":
			if d.listing {
				return skipValue(d.b, v)
			}
			return decodeString(d, v, &a.URL)
		case "title":
			return decodeString(d, v, &a.Title)
		case "creation":
			return decodeString(d, v, &a.Creation)
		}
		return unknownMember
	})
}

func (d *fieldDecoder) docContext(i int, c *docContext) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "period":
			return pointer(d, v, &c.Period, (*fieldDecoder).period)
		case "encounter":
			return decodeRaw(d, v, &c.Encounter)
		case "reference":
			return decodeString(d, v, &c.Reference)
		}
		return unknownMember
	})
}

// fields decodes a whole resource (see decode).
func (d *fieldDecoder) fields(i int, f *fields) int {
	return d.object(i, func(k []byte, v int) int {
		switch string(k) {
		case "meta":
			if d.listing {
				return skipValue(d.b, v)
			}
			return d.object(v, func(k []byte, v int) int {
				if string(k) == "tag" {
					return slice(d, v, &f.Meta.Tag, (*fieldDecoder).coding)
				}
				return unknownMember
			})
		case "status":
			return decodeString(d, v, &f.Status)
		case "docStatus":
			return decodeString(d, v, &f.DocStatus)
		case "clinicalStatus":
			return pointer(d, v, &f.ClinicalStatus, (*fieldDecoder).concept)
		case "code":
			return pointer(d, v, &f.Code, (*fieldDecoder).concept)
		case "vaccineCode":
			return pointer(d, v, &f.VaccineCode, (*fieldDecoder).concept)
		case "medicationCodeableConcept":
			return pointer(d, v, &f.MedicationCodeableConcept, (*fieldDecoder).concept)
		case "medicationReference":
			return pointer(d, v, &f.MedicationReference, (*fieldDecoder).reference)
		case "subject":
			if d.listing {
				return skipValue(d.b, v)
			}
			return pointer(d, v, &f.Subject, (*fieldDecoder).reference)
		case "patient":
			if d.listing {
				return skipValue(d.b, v)
			}
			return pointer(d, v, &f.Patient, (*fieldDecoder).reference)
		case "contained":
			return slice(d, v, &f.Contained, decodeRaw)
		case "category":
			return decodeRaw(d, v, &f.Category)
		case "type":
			return decodeRaw(d, v, &f.Type)
		case "class":
			return decodeRaw(d, v, &f.Class)
		case "name":
			return decodeRaw(d, v, &f.Name)
		case "title":
			return decodeRaw(d, v, &f.Title)
		case "description":
			return decodeRaw(d, v, &f.Description)
		case "component":
			return slice(d, v, &f.Component, (*fieldDecoder).component)
		case "referenceRange":
			return slice(d, v, &f.ReferenceRange, (*fieldDecoder).referenceRange)
		case "reaction":
			return slice(d, v, &f.Reaction, func(d *fieldDecoder, i int, r *reaction) int {
				return d.object(i, func(k []byte, v int) int {
					if string(k) == "manifestation" {
						return slice(d, v, &r.Manifestation, (*fieldDecoder).concept)
					}
					return unknownMember
				})
			})
		case "dosage":
			return slice(d, v, &f.Dosage, (*fieldDecoder).dosage)
		case "dosageInstruction":
			return slice(d, v, &f.DosageInstruction, (*fieldDecoder).dosage)
		case "note":
			if d.listing {
				return skipValue(d.b, v)
			}
			return slice(d, v, &f.Note, func(d *fieldDecoder, i int, a *annotation) int {
				return d.object(i, func(k []byte, v int) int {
					if string(k) == "text" {
						return decodeString(d, v, &a.Text)
					}
					return unknownMember
				})
			})
		case "content":
			return slice(d, v, &f.Content, func(d *fieldDecoder, i int, c *content) int {
				return d.object(i, func(k []byte, v int) int {
					if string(k) == "attachment" {
						return d.attachment(v, &c.Attachment)
					}
					return unknownMember
				})
			})
		case "criticality":
			if d.listing {
				return skipValue(d.b, v)
			}
			return decodeString(d, v, &f.Criticality)
		case "gender":
			if d.listing {
				return skipValue(d.b, v)
			}
			return decodeString(d, v, &f.Gender)
		case "identifier":
			if d.listing {
				return skipValue(d.b, v)
			}
			return slice(d, v, &f.Identifier, decodeRaw)
		case "deceasedBoolean":
			return pointer(d, v, &f.DeceasedBoolean, decodeBool)
		case "deceasedDateTime":
			return decodeString(d, v, &f.DeceasedDateTime)
		case "effectiveDateTime":
			return decodeString(d, v, &f.EffectiveDateTime)
		case "effectiveInstant":
			return decodeString(d, v, &f.EffectiveInstant)
		case "effectivePeriod":
			return pointer(d, v, &f.EffectivePeriod, (*fieldDecoder).period)
		case "onsetDateTime":
			return decodeString(d, v, &f.OnsetDateTime)
		case "onsetPeriod":
			return pointer(d, v, &f.OnsetPeriod, (*fieldDecoder).period)
		case "recordedDate":
			return decodeString(d, v, &f.RecordedDate)
		case "authoredOn":
			return decodeString(d, v, &f.AuthoredOn)
		case "occurrenceDateTime":
			return decodeString(d, v, &f.OccurrenceDateTime)
		case "occurrencePeriod":
			return pointer(d, v, &f.OccurrencePeriod, (*fieldDecoder).period)
		case "performedDateTime":
			return decodeString(d, v, &f.PerformedDateTime)
		case "performedPeriod":
			return pointer(d, v, &f.PerformedPeriod, (*fieldDecoder).period)
		case "period":
			return pointer(d, v, &f.Period, (*fieldDecoder).period)
		case "date":
			return decodeString(d, v, &f.Date)
		case "issued":
			return decodeString(d, v, &f.Issued)
		case "created":
			return decodeString(d, v, &f.Created)
		case "birthDate":
			return decodeString(d, v, &f.BirthDate)
		case "dateAsserted":
			return decodeString(d, v, &f.DateAsserted)
		case "whenHandedOver":
			return decodeString(d, v, &f.WhenHandedOver)
		case "started":
			return decodeString(d, v, &f.Started)
		case "recorded":
			return decodeString(d, v, &f.Recorded)
		case "lastOccurrence":
			return decodeString(d, v, &f.LastOccurrence)
		case "billablePeriod":
			return pointer(d, v, &f.BillablePeriod, (*fieldDecoder).period)
		case "context":
			return pointer(d, v, &f.Context, (*fieldDecoder).docContext)
		case "encounter":
			return decodeRaw(d, v, &f.Encounter)
		case "serviceProvider":
			return decodeRaw(d, v, &f.ServiceProvider)
		case "performer":
			return decodeRaw(d, v, &f.Performer)
		case "custodian":
			return decodeRaw(d, v, &f.Custodian)
		case "organization":
			return decodeRaw(d, v, &f.Organization)
		case "provider":
			return decodeRaw(d, v, &f.Provider)
		case "insurer":
			return decodeRaw(d, v, &f.Insurer)
		case "payor":
			return decodeRaw(d, v, &f.Payor)
		case "author":
			return decodeRaw(d, v, &f.Author)
		case "recorder":
			return decodeRaw(d, v, &f.Recorder)
		case "asserter":
			return decodeRaw(d, v, &f.Asserter)
		}
		return d.valueMember(k, v, &f.value)
	})
}

// decodeFields decodes the resource raw, which validJSON has accepted,
// into f as json.Unmarshal would; with listing, only the members the
// listing reads (the others hold no json.Number, so skipping them cannot
// change whether the decoding stops). It reports whether a member had the
// wrong type, and the error that stopped it (only a json.Number string
// that is not a number does).
func decodeFields(raw []byte, f *fields, listing bool) (typeErr bool, err error) {
	d := fieldDecoder{b: raw, listing: listing}
	d.fields(0, f)
	return d.typeErr, d.err
}

// decodeConcept, decodeConcepts, decodeCoding and decodeNames read one
// member that validJSON has accepted (as part of its resource), as
// json.Unmarshal would into those types; ok is false where Unmarshal
// would fail, a member of the wrong type included.
func decodeConcept(raw []byte, c *codeableConcept) (ok bool) {
	d := fieldDecoder{b: raw}
	d.concept(0, c)
	return !d.typeErr
}

func decodeConcepts(raw []byte, list *[]codeableConcept) (ok bool) {
	d := fieldDecoder{b: raw}
	slice(&d, 0, list, (*fieldDecoder).concept)
	return !d.typeErr
}

func decodeCoding(raw []byte, c *Coding) (ok bool) {
	if len(raw) == 0 {
		return false // Unmarshal's "unexpected end of JSON input"
	}
	d := fieldDecoder{b: raw}
	d.coding(0, c)
	return !d.typeErr
}

func decodeNames(raw []byte, names *[]humanName) (ok bool) {
	if len(raw) == 0 {
		return false
	}
	d := fieldDecoder{b: raw}
	slice(&d, 0, names, (*fieldDecoder).humanName)
	return !d.typeErr
}

// containedMedication is what Summarize reads of a contained Medication.
type containedMedication struct {
	ResourceType, ID string
	Code             *codeableConcept
}

// decodeMedication reads the contained resource raw; ok is false where
// json.Unmarshal into containedMedication would fail.
func decodeMedication(raw []byte, m *containedMedication) (ok bool) {
	d := fieldDecoder{b: raw}
	d.object(0, func(k []byte, v int) int {
		switch string(k) {
		case "resourceType":
			return decodeString(&d, v, &m.ResourceType)
		case "id":
			return decodeString(&d, v, &m.ID)
		case "code":
			return pointer(&d, v, &m.Code, (*fieldDecoder).concept)
		}
		return unknownMember
	})
	return !d.typeErr
}

// decodeName reads the name of the contained resource raw, what is left
// of it when another member has the wrong type.
func decodeName(raw []byte) string {
	var name string
	d := fieldDecoder{b: raw}
	d.object(0, func(k []byte, v int) int {
		if string(k) == "name" {
			return decodeString(&d, v, &name)
		}
		return unknownMember
	})
	return name
}

// memberNames are the names of every member the decoders above read; a
// key that is none of them exactly may still be one of them in another
// case, as encoding/json matches.
var memberNames = []string{
	"system", "code", "display", "coding", "text", "start", "end", "value", "comparator", "unit",
	"reference", "use", "family", "given", "prefix", "low", "high", "numerator", "denominator",
	"valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger", "valueRange",
	"valueRatio", "valueTime", "valueDateTime", "valuePeriod", "referenceRange", "doseAndRate",
	"doseQuantity", "timing", "repeat", "asNeededBoolean", "frequency", "period", "periodUnit",
	"contentType", "data", "url", "title", "creation", "encounter", "meta", "tag", "status", "docStatus",
	"clinicalStatus", "vaccineCode", "medicationCodeableConcept", "medicationReference", "subject",
	"patient", "contained", "category", "type", "class", "name", "description", "component", "reaction",
	"manifestation", "dosage", "dosageInstruction", "note", "content", "attachment", "criticality",
	"gender", "identifier", "deceasedBoolean", "deceasedDateTime", "effectiveDateTime", "effectiveInstant",
	"effectivePeriod", "onsetDateTime", "onsetPeriod", "recordedDate", "authoredOn", "occurrenceDateTime",
	"occurrencePeriod", "performedDateTime", "performedPeriod", "date", "issued", "created", "birthDate",
	"dateAsserted", "whenHandedOver", "started", "recorded", "lastOccurrence", "billablePeriod", "context",
	"serviceProvider", "performer", "custodian", "organization", "provider", "insurer", "payor", "author",
	"recorder", "asserter", "resourceType", "id",
}

// maxMemberName is at least the length of the longest of memberNames.
const maxMemberName = 32

// membersByFold maps each member name, folded, to the name.
var membersByFold = func() map[string][]byte {
	m := make(map[string][]byte, len(memberNames))
	for _, n := range memberNames {
		m[string(foldName(nil, []byte(n)))] = []byte(n)
	}
	return m
}()

// foldedMember is the member name key matches case-insensitively, or nil.
func foldedMember(key []byte) []byte {
	// A character folds to one no shorter than a third of it: a key
	// longer than this is no member name.
	var buf [3 * maxMemberName]byte
	if len(key) > len(buf) {
		return nil
	}
	return membersByFold[string(foldName(buf[:0], key))]
}

// foldName folds a name as encoding/json does to match member names
// case-insensitively: ASCII letters to upper case, every other character
// to the smallest of its Unicode case-fold orbit (so "ſ" is "S" and the
// Kelvin sign "K").
func foldName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
