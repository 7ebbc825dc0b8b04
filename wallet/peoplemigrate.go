package wallet

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
)

// isReceived reports whether the record of h came with a share redeemed
// here.
func isReceived(tx kv.Txn, h head) bool {
	if h.Source.Type == SourceShare {
		return true
	}
	_, err := tx.Get(receivedRecordKey(h.ID))
	return err == nil
}

// peopleDone is meta/people's value once every record was attributed.
const peopleDone = 1

// migrateBatch is how many heads one transaction of the migration rewrites.
const migrateBatch = 256

// attributeRecords loads the wallet's people and, on the first unlock of a
// wallet made before people existed, attributes its records to them
// (migratePeople). A new wallet is marked done at once.
func (w *Wallet) attributeRecords(fresh bool) error {
	if err := w.keepReceivedApart(); err != nil {
		return fmt.Errorf("keep received records apart from the wallet's own: %w", err)
	}
	var done bool
	var people []Person
	err := w.db.View(func(tx kv.Txn) error {
		v, err := tx.Get([]byte(keyPeople))
		switch {
		case err == nil:
			done = len(v) == 1 && v[0] >= peopleDone
		case !errors.Is(err, kv.ErrNotFound):
			return err
		}
		people, err = readPeople(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("read the wallet's people: %w", err)
	}
	if !done && fresh {
		if err := w.db.Update(func(tx kv.Txn) error { return tx.Set([]byte(keyPeople), []byte{peopleDone}) }); err != nil {
			return fmt.Errorf("mark the wallet's people: %w", err)
		}
		done = true
	}
	if done {
		w.setPeople(people)
		return nil
	}
	if err := w.migratePeople(people); err != nil {
		return fmt.Errorf("attribute the wallet's records to people: %w", err)
	}
	return nil
}

// migratePeople attributes every record of an older wallet to a person.
// First its Patient records, oldest first, become people (the first its
// owner; one that matches a person already made joins them). Then every
// head is read with its latest version, summarised again (the summary
// gains what fhir.Summarize learnt since), named after the other records
// of its file as an import names them (fileNames), and written in format 2
// with the person of the Patient the record refers to, in batches of
// migrateBatch; records received from others belong to nobody.
// Versions are never touched, so nothing can be lost; a head or version
// that fails its integrity check is left as it is (the index lists it as
// damaged). meta/people is written last: an interrupted migration runs
// again at the next unlock and comes to the same people, since a Patient
// record already linked to a person is theirs again.
func (w *Wallet) migratePeople(people []Person) error {
	type patientHead struct {
		id       string
		ver      int
		added    time.Time
		source   Source
		received bool
	}
	var pats []patientHead
	var named []head // the records others are named after (fileNames)
	err := w.db.View(func(tx kv.Txn) error {
		return scan(tx, prefixHead, func(_, v []byte) {
			var h head
			if h.unmarshal(v) != nil {
				return
			}
			if namesOthers[h.Summary.ResourceType] {
				named = append(named, h)
			}
			if h.Summary.ResourceType != "Patient" {
				return
			}
			pats = append(pats, patientHead{id: h.ID, ver: h.Version, added: h.Added, source: h.Source, received: isReceived(tx, h)})
		}, func([]byte) {}, func() { pats, named = nil, nil })
	})
	if err != nil {
		return err
	}
	names, err := w.fileNames(named)
	if err != nil {
		return err
	}
	// The wallet's own Patients first, oldest first; received ones (the
	// records of a share redeemed here) make nobody and join nobody, as at
	// redeem: another party's records stay apart from the wallet's own.
	slices.SortFunc(pats, func(a, b patientHead) int {
		if a.received != b.received {
			if a.received {
				return 1
			}
			return -1
		}
		return cmp.Or(a.added.Compare(b.added), cmp.Compare(a.id, b.id))
	})
	var a attribution
	a.people = people
	personOf := map[string]string{}        // Patient record ID -> person ID
	fileOf := map[Source]map[string]bool{} // an import's people, for records that name nobody
	now := time.Now().UTC()
	for _, ph := range pats {
		var rec Record
		err := w.db.View(func(tx kv.Txn) (err error) {
			rec, err = getVersion(tx, ph.id, ph.ver)
			return err
		})
		if err != nil {
			continue // damaged: its records stay unattributed
		}
		cand, err := PatientOf(rec.Resource)
		if err != nil {
			continue
		}
		if ph.received {
			personOf[ph.id] = "" // another party's: kept apart, as at redeem
			continue
		}
		var at int
		if m, how, ok := matchPersonHow(cand, ph.id, a.people); ok {
			at = slices.IndexFunc(a.people, func(p Person) bool { return p.ID == m.ID })
			linkPatient(&a.people[at], ph.id, cand, how)
		} else {
			at = a.add(cand, ph.id, cmp.Or(ph.added, now))
		}
		personOf[ph.id] = a.people[at].ID
		if fileOf[ph.source] == nil {
			fileOf[ph.source] = map[string]bool{}
		}
		fileOf[ph.source][a.people[at].ID] = true
	}
	if len(a.people) > 0 {
		err := w.db.Update(func(tx kv.Txn) error {
			for _, p := range a.people {
				if err := writePerson(tx, p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	owner := ""
	if i := slices.IndexFunc(a.people, func(p Person) bool { return p.Owner }); i >= 0 {
		owner = a.people[i].ID
	}

	var keys [][]byte
	err = w.db.View(func(tx kv.Txn) error {
		return kv.Keys(tx, []byte(prefixHead), func(k []byte) error {
			keys = append(keys, slices.Clone(k))
			return nil
		})
	})
	if err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(migrateBatch, len(keys))
		batch := keys[:n]
		keys = keys[n:]
		err := w.db.Update(func(tx kv.Txn) error {
			var heads []head
			var recs []Record
			var ks [][]byte
			for _, k := range batch {
				v, err := tx.Get(k)
				if errors.Is(err, kv.ErrTampered) {
					continue
				}
				if err != nil {
					return err
				}
				var h head
				if h.unmarshal(v) != nil {
					continue
				}
				rec, err := getVersion(tx, h.ID, h.Version)
				if err != nil {
					continue
				}
				if sum, err := fhir.Summarize(rec.Resource); err == nil {
					h.Summary = sum
				}
				heads, recs, ks = append(heads, h), append(recs, rec), append(ks, k)
			}
			names.complete(heads, recs)
			for i := range heads {
				h, rec, k := heads[i], recs[i], ks[i]
				scope := scopeOf(h.Identity)
				f := factsOf(rec.Resource)
				switch {
				case isReceived(tx, h):
					h.Person = "" // another party's records belong to nobody here
				case f.patient != nil:
					h.Person = personOf[h.ID]
				case directoryTypes[f.resourceType]:
					h.Person = ""
				case len(f.refs) > 0:
					h.Person = ""
					for _, ref := range f.refs {
						if pid, _ := patientIDOfRef(ref); pid != "" {
							if p, ok := personOf[w.recordID(scope+"|Patient/"+pid)]; ok {
								h.Person = p
								break
							}
						}
					}
				case len(fileOf[h.Source]) == 1:
					for p := range fileOf[h.Source] {
						h.Person = p
					}
				default:
					h.Person = owner
				}
				if err := tx.Set(k, h.marshal()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := w.db.Update(func(tx kv.Txn) error { return tx.Set([]byte(keyPeople), []byte{peopleDone}) }); err != nil {
		return err
	}
	w.setPeople(a.people)
	return nil
}

// namesOthers are the resource types whose names a file's other records
// take (fhir.NameFromFile): the organisations, the visits that name theirs,
// and the drugs.
var namesOthers = map[string]bool{"Organization": true, "Encounter": true, "Medication": true}

// importedFile is which import a record came with: its source (the file's
// name, or the share's label) and the scope its resource ids live in.
type importedFile struct {
	source Source
	scope  string
}

func fileOfHead(h *head) importedFile { return importedFile{h.Source, scopeOf(h.Identity)} }

// migrationNames are, per imported file, the summaries of its records
// that others are named after, already named themselves: what an import
// of the file gave its records (nameFromFile), for a migration that reads
// one record at a time.
type migrationNames map[importedFile][]fhir.Summary

// fileNames summarises the records of heads (latest versions) and names
// them within their files. A version that cannot be read is left out.
func (w *Wallet) fileNames(heads []head) (migrationNames, error) {
	type file struct {
		resources []json.RawMessage
		sums      []fhir.Summary
	}
	files := map[importedFile]*file{}
	err := w.db.View(func(tx kv.Txn) error {
		for i := range heads {
			h := &heads[i]
			rec, err := getVersion(tx, h.ID, h.Version)
			if err != nil {
				continue // damaged: the index lists it so
			}
			sum, err := fhir.Summarize(rec.Resource)
			if err != nil {
				continue
			}
			f := files[fileOfHead(h)]
			if f == nil {
				f = &file{}
				files[fileOfHead(h)] = f
			}
			f.resources, f.sums = append(f.resources, rec.Resource), append(f.sums, sum)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := migrationNames{}
	for k, f := range files {
		fhir.NameFromFile(f.resources, f.sums)
		out[k] = f.sums
	}
	return out, nil
}

// complete names the summaries of heads (a batch of the migration; recs
// their latest versions) after their files' other records, as an import
// of the file did.
func (n migrationNames) complete(heads []head, recs []Record) {
	byFile := map[importedFile][]int{}
	for i := range heads {
		k := fileOfHead(&heads[i])
		if len(n[k]) > 0 {
			byFile[k] = append(byFile[k], i)
		}
	}
	for k, idx := range byFile {
		resources := make([]json.RawMessage, len(idx))
		sums := make([]fhir.Summary, len(idx), len(idx)+len(n[k]))
		for j, i := range idx {
			resources[j], sums[j] = recs[i].Resource, heads[i].Summary
		}
		// The file's named records go after the batch's, without their
		// resources: NameFromFile reads them as names only.
		sums = append(sums, n[k]...)
		fhir.NameFromFile(resources, sums)
		for j, i := range idx {
			heads[i].Summary = sums[j]
		}
	}
}
