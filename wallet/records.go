package wallet

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

// Record keys (see layout.go). Every value is sealed by the kv layer with
// its key as associated data, so a version is bound to its record ID and
// number.
func headKey(id string) []byte { return []byte(prefixHead + id) }
func versionKey(id string, v int) []byte {
	return fmt.Appendf(nil, "%s%s/%08d", prefixVersion, id, v)
}

// head is what the index needs of a record, stored apart from the version
// so that opening a wallet never decrypts whole resources.
type head struct {
	ID       string       `json:"id"`
	Version  int          `json:"version"`
	Summary  fhir.Summary `json:"summary"`
	Source   Source       `json:"source"`
	Added    time.Time    `json:"added"`
	Hash     string       `json:"hash"` // hex SHA-256 of the JCS form of the latest version
	Identity string       `json:"identity"`
	Attach   int          `json:"attach,omitempty"`
	Person   string       `json:"person,omitempty"` // the Person.ID the record belongs to; "" for nobody's (directory resources) or not yet attributed
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// recordID derives a record's ID from its identity with a keyed hash, so IDs
// are stable (importing twice finds the same record) but reveal nothing of
// the resource.
func (w *Wallet) recordID(identity string) string {
	return recordIDWith(hmac.New(sha256.New, w.idKey), identity)
}

// recordIDWith is recordID with mac, hmac.New(sha256.New, w.idKey), which
// an importer keeps for every resource it prepares.
func recordIDWith(mac hash.Hash, identity string) string {
	mac.Reset()
	mac.Write([]byte(identity))
	var sum [sha256.Size]byte
	return idEncoding.EncodeToString(mac.Sum(sum[:0])[:10])
}

// ValidID reports whether s has the shape of a record ID.
func ValidID(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := idEncoding.DecodeString(s)
	return err == nil
}

// identityOf is the key that makes the same resource one record: its
// type/id within a scope, or its content hash when it has no id.
func identityOf(scope string, resource []byte, hash [32]byte) (string, error) {
	id, err := fhir.Identity(resource)
	if err != nil {
		return "", err
	}
	return scopedIdentity(scope, id, hash), nil
}

// scopedIdentity is identityOf given the resource's fhir.Identity.
func scopedIdentity(scope, id string, hash [32]byte) string {
	if id == "" {
		id = "sha256:" + hex.EncodeToString(hash[:])
	}
	return scope + "|" + id
}

// scopeOf is the scope part of an identity (identityOf): all before the
// last "|", since scopes may hold "|" themselves (cardScope) and the
// resource part never does.
func scopeOf(identity string) string {
	if i := strings.LastIndex(identity, "|"); i >= 0 {
		return identity[:i]
	}
	return ""
}

// prepared is a resource ready to be written as a record version.
type prepared struct {
	identity string
	id       string
	resource []byte
	hash     [32]byte
	summary  fhir.Summary
	// summaryJSON is summary's JSON encoding.
	summaryJSON []byte
	facts       recordFacts
	// person is who the record belongs to (see attribute); personSure
	// says a record already stored under someone else moves to person,
	// rather than staying whose it was.
	person     string
	personSure bool
}

// prepare reads resource for writing it as a record version; ids is
// hmac.New(sha256.New, w.idKey), kept by the caller from one resource to
// the next; parsed says resource is one fhir.Parse returned (Batch.Parsed).
func (w *Wallet) prepare(scope string, resource []byte, ids hash.Hash, parsed bool) (prepared, error) {
	// The resource is compacted here, on every core, rather than in
	// json.Marshal under the writer's transaction; the summary's encoding
	// too. The summary, the canonical hash and the facts read the compact
	// form, the same JSON without the whitespace they would skip (an
	// indented export's is a third of its bytes); a resource too large to
	// hash is refused by its size as given. Only JSON already checked is
	// compacted: what Parse returned, or what Summarize has checked.
	var (
		sum     fhir.Summary
		compact []byte
		err     error
	)
	if parsed {
		compact = compactJSON(make([]byte, 0, len(resource)), resource)
		sum, err = fhir.SummarizeParsed(compact)
	} else if sum, err = fhir.Summarize(resource); err == nil {
		compact = compactJSON(make([]byte, 0, len(resource)), resource)
	}
	if err != nil {
		return prepared{}, err
	}
	canon := compact
	if len(resource) > ledger.MaxResourceSize {
		canon = resource
	}
	hash, err := ledger.ResourceHash(canon)
	if err != nil {
		return prepared{}, fmt.Errorf("canonical form: %w", err)
	}
	identity := scopedIdentity(scope, fhir.IdentityOf(sum), hash)
	sumJSON, err := sum.AppendJSON(make([]byte, 0, 384))
	if err != nil {
		return prepared{}, fmt.Errorf("summary: %w", err)
	}
	return prepared{identity: identity, id: recordIDWith(ids, identity), resource: compact, hash: hash, summary: sum, summaryJSON: sumJSON,
		facts: factsOfValid(compact)}, nil
}

// recordJSON appends to dst json.Marshal(r) for a record whose Resource
// is in compactJSON's form, made of encodings at hand: summary is
// r.Summary's (prepare makes it on every core), source and added are
// r.Source's and r.Added's, the same for a whole batch. Only the record's
// own numbers are encoded here, under the writer's transaction.
func recordJSON(dst []byte, r *Record, summary, source, added []byte) ([]byte, error) {
	var atts []byte
	if len(r.Attachments) > 0 {
		var err error
		if atts, err = json.Marshal(r.Attachments); err != nil {
			return nil, err
		}
	}
	id, err := json.Marshal(r.ID)
	if err != nil {
		return nil, err
	}
	b := slices.Grow(dst, len(r.Resource)+len(summary)+len(source)+len(added)+len(atts)+len(id)+256)
	b = append(b, `{"id":`...)
	b = append(b, id...)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = append(b, `,"resource":`...)
	if len(r.Resource) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, r.Resource...)
	}
	b = append(b, `,"summary":`...)
	b = append(b, summary...)
	b = append(b, `,"source":`...)
	b = append(b, source...)
	b = append(b, `,"added":`...)
	b = append(b, added...)
	if len(atts) > 0 {
		b = append(b, `,"attachments":`...)
		b = append(b, atts...)
	}
	b = append(b, `,"salt":[`...)
	for i, c := range r.Salt {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	b = append(b, `],"leafIndex":`...)
	b = strconv.AppendUint(b, r.LeafIndex, 10)
	return append(b, '}'), nil
}

// outcome of writing one prepared resource.
type outcome int

const (
	outcomeAdded outcome = iota
	outcomeUpdated
	outcomeUnchanged
)

// writeVersions stores each prepared resource as the next version of its
// record inside tx, appending all their commitments to the log in one step.
// atts[i] are the files (already written) that go with ps[i]; nil keeps the
// files of the record's previous version. A resource whose content and
// files are already the latest version is left as it is, and the IDs of
// the files it brought are returned in unused for the caller to remove
// once the transaction commits.
func (w *Wallet) writeVersions(tx kv.Txn, ps []prepared, src Source, atts [][]Attachment, now time.Time, cancel func(i int) error) (heads []head, outs []outcome, unused []string, err error) {
	heads = make([]head, len(ps))
	outs = make([]outcome, len(ps))
	recs := make([]Record, 0, len(ps))
	idx := make([]int, 0, len(ps))
	commitments := make([][32]byte, 0, len(ps))
	for i, p := range ps {
		if cancel != nil {
			if err := cancel(i); err != nil {
				return nil, nil, nil, err
			}
		}
		var files []Attachment
		if i < len(atts) {
			files = atts[i]
		}
		prevVersion := 0
		var prev *Record
		b, err := tx.Get(headKey(p.id))
		switch {
		case err == nil:
			var old head
			if err := old.unmarshal(b); err != nil {
				return nil, nil, nil, fmt.Errorf("record %s: %w", p.id, err)
			}
			if old.Hash == hex.EncodeToString(p.hash[:]) {
				if files == nil {
					if p.personSure && old.Person != p.person {
						// The same content filed under another person:
						// only the head changes.
						old.Person = p.person
						if err := tx.Set(headKey(p.id), old.marshal()); err != nil {
							return nil, nil, nil, err
						}
					}
					heads[i], outs[i] = old, outcomeUnchanged
					continue
				}
				r, err := getVersion(tx, p.id, old.Version)
				if err != nil {
					return nil, nil, nil, err
				}
				if sameAttachments(r.Attachments, files) {
					heads[i], outs[i] = old, outcomeUnchanged
					for _, a := range files {
						unused = append(unused, a.ID)
					}
					continue
				}
				prev = &r
			}
			prevVersion = old.Version
			outs[i] = outcomeUpdated
			if !p.personSure {
				ps[i].person = old.Person
			}
		case errors.Is(err, kv.ErrNotFound):
			outs[i] = outcomeAdded
		default:
			return nil, nil, nil, fmt.Errorf("record %s: %w", p.id, err)
		}
		rec := Record{
			ID: p.id, Version: prevVersion + 1, Resource: json.RawMessage(p.resource),
			Summary: p.summary, Source: src, Added: now.UTC(), Attachments: files,
		}
		if prevVersion > 0 && files == nil {
			// An edit keeps the record's files unless it brings new ones.
			if prev == nil {
				r, err := getVersion(tx, p.id, prevVersion)
				if err != nil {
					return nil, nil, nil, err
				}
				prev = &r
			}
			rec.Attachments = prev.Attachments
		}
		rec.Salt = ledger.NewSalt()
		recs = append(recs, rec)
		idx = append(idx, i)
		commitments = append(commitments, ledger.Commitment(rec.Salt, p.hash))
	}
	if len(recs) == 0 {
		return heads, outs, unused, nil
	}
	first, err := w.log.AppendAll(tx, commitments)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("append to the log: %w", err)
	}
	srcJSON, err := json.Marshal(src)
	if err != nil {
		return nil, nil, nil, err
	}
	addedJSON, err := json.Marshal(now.UTC())
	if err != nil {
		return nil, nil, nil, err
	}
	var buf []byte // one record's JSON at a time: Set keeps none of it
	for j := range recs {
		rec := &recs[j]
		p := ps[idx[j]]
		rec.LeafIndex = first + uint64(j)
		var vb []byte
		if p.summaryJSON != nil {
			vb, err = recordJSON(buf[:0], rec, p.summaryJSON, srcJSON, addedJSON)
			buf = vb
		} else {
			vb, err = marshalRecord(*rec)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if err := tx.Set(versionKey(p.id, rec.Version), vb); err != nil {
			return nil, nil, nil, err
		}
		h := head{
			ID: p.id, Version: rec.Version, Summary: p.summary, Source: src, Added: rec.Added,
			Hash: hex.EncodeToString(p.hash[:]), Identity: p.identity, Attach: len(rec.Attachments),
			Person: p.person,
		}
		if err := tx.Set(headKey(p.id), h.marshal()); err != nil {
			return nil, nil, nil, err
		}
		heads[idx[j]] = h
	}
	return heads, outs, unused, nil
}

// sameAttachments reports whether two lists of files hold the same bytes
// in the same order.
func sameAttachments(a, b []Attachment) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].SHA256, b[i].SHA256) {
			return false
		}
	}
	return true
}

// stored is a record's latest version with its content hash.
type stored struct {
	rec  Record
	hash [32]byte
}

// latestVersion reads the latest version of record id.
func latestVersion(tx kv.Txn, id string) (stored, error) {
	b, err := tx.Get(headKey(id))
	if err != nil {
		return stored{}, err
	}
	var h head
	if err := h.unmarshal(b); err != nil {
		return stored{}, err
	}
	r, err := getVersion(tx, id, h.Version)
	if err != nil {
		return stored{}, err
	}
	var out stored
	out.rec = r
	if hb, err := hex.DecodeString(h.Hash); err == nil && len(hb) == 32 {
		copy(out.hash[:], hb)
	}
	return out, nil
}

func getVersion(tx kv.Txn, id string, v int) (Record, error) {
	b, err := tx.Get(versionKey(id, v))
	if errors.Is(err, kv.ErrNotFound) {
		return Record{}, fmt.Errorf("record %s version %d: %w", id, v, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("record %s version %d: %w", id, v, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("record %s version %d: %w", id, v, err)
	}
	return r, nil
}

func (w *Wallet) checkOpen() error {
	if w.master == nil {
		return ErrLocked
	}
	return nil
}

// Get returns the latest version of record id.
func (w *Wallet) Get(id string) (Record, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return Record{}, err
	}
	e := w.index.Get(id)
	if e == nil {
		return Record{}, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	var r Record
	err := w.db.View(func(tx kv.Txn) (err error) {
		r, err = getVersion(tx, id, e.Version)
		return err
	})
	return r, err
}

// GetVersion returns version v of record id.
func (w *Wallet) GetVersion(id string, v int) (Record, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return Record{}, err
	}
	var r Record
	err := w.db.View(func(tx kv.Txn) (err error) {
		r, err = getVersion(tx, id, v)
		return err
	})
	return r, err
}

// VersionInfo describes one stored version of a record.
type VersionInfo struct {
	Version int       `json:"version"`
	Added   time.Time `json:"added"`
	Source  Source    `json:"source"`
	Title   string    `json:"title"`
}

// Versions lists every stored version of record id, oldest first.
func (w *Wallet) Versions(id string) ([]VersionInfo, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return nil, err
	}
	var out []VersionInfo
	err := w.db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte(prefixVersion+id+"/"), func(k, v []byte) error {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %s: %s: %w", id, k, err)
			}
			out = append(out, VersionInfo{Version: r.Version, Added: r.Added, Source: r.Source, Title: r.Summary.Title})
			return nil
		})
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	return out, err
}

// Records returns the latest versions of the given records, in order.
func (w *Wallet) Records(ids []string) ([]Record, error) {
	out := make([]Record, 0, len(ids))
	for _, id := range ids {
		r, err := w.Get(id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Add stores a new resource (or a new version of the same resource) written
// by the patient or received from elsewhere.
func (w *Wallet) Add(resource []byte, src Source) (Record, error) {
	return w.put("", "", resource, src, nil)
}

// AddWithAttachments stores resource with files already written by
// WriteAttachment.
func (w *Wallet) AddWithAttachments(resource []byte, src Source, atts []Attachment) (Record, error) {
	return w.put("", "", resource, src, atts)
}

// AddFor is AddWithAttachments (atts may be nil) of a record that belongs
// to person (an ID): a record typed in for a dependant. "" is Add's rule:
// the person of the Patient it refers to, else the owner.
func (w *Wallet) AddFor(person string, resource []byte, src Source, atts []Attachment) (Record, error) {
	return w.put("", person, resource, src, atts)
}

func (w *Wallet) put(scope, person string, resource []byte, src Source, atts []Attachment) (Record, error) {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return Record{}, err
	}
	in := Incoming{Where: "the record", Resource: resource}
	for _, a := range atts {
		in.Files = append(in.Files, IncomingFile{Name: a.Name, ContentType: a.ContentType, SHA256: a.SHA256, written: &a})
	}
	rep, err := w.store(context.Background(), Batch{Name: "the record", Source: src, Scope: scope, Person: person, Entries: []Incoming{in}})
	if err != nil {
		return Record{}, fmt.Errorf("add record: %w", err)
	}
	er := rep.Entries[0]
	if er.Outcome == OutcomeSkipped {
		return Record{}, fmt.Errorf("add record: %s", er.Reason)
	}
	var r Record
	err = w.db.View(func(tx kv.Txn) (err error) {
		r, err = getVersion(tx, er.RecordID, er.Version)
		return err
	})
	return r, err
}

// Update stores resource as a new version of record id. The resource must
// keep its identity (type and id); older versions stay readable.
func (w *Wallet) Update(id string, resource []byte, src Source) (Record, error) {
	w.mu.RLock()
	e := w.index.Get(id)
	w.mu.RUnlock()
	if e == nil {
		return Record{}, fmt.Errorf("edit record %s: %w", id, ErrNotFound)
	}
	var scope string
	err := w.db.View(func(tx kv.Txn) error {
		b, err := tx.Get(headKey(id))
		if err != nil {
			return err
		}
		var h head
		if err := h.unmarshal(b); err != nil {
			return err
		}
		scope = scopeOf(h.Identity)
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("edit record %s: %w", id, err)
	}
	r, err := w.put(scope, "", resource, src, nil)
	if err != nil {
		return Record{}, err
	}
	if r.ID != id {
		return Record{}, fmt.Errorf("edit record %s: the edited resource has another type or id (it was stored as record %s)", id, r.ID)
	}
	return r, nil
}

// Delete removes record id and all its versions and files for good. The log
// keeps only the commitments, which reveal nothing.
func (w *Wallet) Delete(id string) error {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return err
	}
	if w.index.Get(id) == nil {
		return fmt.Errorf("delete record %s: %w", id, ErrNotFound)
	}
	var files []string
	err := w.db.Update(func(tx kv.Txn) error {
		var keys [][]byte
		err := tx.Iterate([]byte(prefixVersion+id+"/"), func(k, v []byte) error {
			keys = append(keys, k)
			var r Record
			if json.Unmarshal(v, &r) == nil {
				for _, a := range r.Attachments {
					files = append(files, a.ID)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return tx.Delete(headKey(id))
	})
	if err != nil {
		return fmt.Errorf("delete record %s: %w", id, err)
	}
	w.index.Remove(id)
	for _, f := range files {
		w.removeAttachment(f)
	}
	return nil
}

// parseVersionKey returns the id and version of a version key.
func parseVersionKey(k []byte) (string, int, bool) {
	rest, ok := strings.CutPrefix(string(k), prefixVersion)
	if !ok {
		return "", 0, false
	}
	id, vs, ok := strings.Cut(rest, "/")
	if !ok {
		return "", 0, false
	}
	v, err := strconv.Atoi(vs)
	return id, v, err == nil
}
