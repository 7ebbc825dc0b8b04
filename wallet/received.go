package wallet

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/shc"
)

// Errors callers switch on.
var (
	// ErrNotReceived means the record did not come from a redeemed share.
	ErrNotReceived = errors.New("the record did not come from a received share")
	// ErrForgedOrigin means a share's proofs claim a patient's log whose
	// origin this wallet has bound to another key: someone other than that
	// patient signed them.
	ErrForgedOrigin = errors.New("FORGERY ALARM: the records claim a patient's log that is bound to another key; they were not stored")
)

// Received is a redeemed share: where it came from and what became of
// every file and record in it.
type Received struct {
	ID       string    `json:"id"`
	Label    string    `json:"label"`
	From     string    `json:"from"` // "peer <id>" or the https origin that served it
	Scope    string    `json:"scope"`
	Received time.Time `json:"received"`
	// Origin is the patient's log that signed the records' proofs, when
	// they came with proofs from one log.
	Origin  string           `json:"origin,omitempty"`
	Records []ReceivedRecord `json:"records"`
	Files   []ReceivedFile   `json:"files"`
	Skipped []fhir.Skipped   `json:"skipped,omitempty"`
	// Alarms are what the recipient must know beyond each record's verdict:
	// a forged origin, records refused as tampered.
	Alarms []string `json:"alarms,omitempty"`
	// Person is set when the records were filed as this person's own (a
	// clinic's after-visit records): they are then not a received share
	// and this Received is only the report of what was filed, not kept.
	Person string `json:"person,omitempty"`
	// Bundle is the FHIR content as received (the first FHIR file, or all
	// of them as one collection), for saving with redeem --out. Not stored.
	Bundle []byte `json:"-"`
}

// ReceivedRecord is one record of a share with the verdict on it. A record
// whose verdict is tampered is shown but never stored: its RecordID is
// empty.
type ReceivedRecord struct {
	RecordID     string        `json:"recordId"`
	Summary      fhir.Summary  `json:"summary"`
	Verification ledger.Result `json:"verification"`
	// AttachmentOf is the record ID of the record an attached file (a
	// Binary) belongs to.
	AttachmentOf string `json:"attachmentOf,omitempty"`
	// Card is set for records that came inside a SMART Health Card.
	Card *CardCheck `json:"card,omitempty"`
	// Share is the ID of the Received it came with.
	Share string `json:"share,omitempty"`
	// PatientShared marks what the patient shared about themselves (the KTC
	// profile's patient-shared DocumentReference, or meta.security PATAST),
	// as against what a clinician recorded.
	PatientShared bool `json:"patientShared,omitempty"`
}

// Stored reports whether the record was kept in the wallet.
func (r ReceivedRecord) Stored() bool { return r.RecordID != "" }

// CardCheck is the verdict on the SMART Health Card a record came in.
type CardCheck struct {
	Issuer     string     `json:"issuer"`
	IssuerName string     `json:"issuerName,omitempty"`
	Status     shc.Status `json:"status"`
	Reason     string     `json:"reason,omitempty"`
}

// ReceivedFile is one file of a share and what became of it.
type ReceivedFile struct {
	ContentType string `json:"contentType"`
	Bytes       int    `json:"bytes"`
	Outcome     string `json:"outcome"`
}

func receivedShareKey(id string) []byte        { return []byte(prefixReceivedShare + id) }
func receivedRecordKey(recordID string) []byte { return []byte(prefixReceivedRecord + recordID) }
func originKey(origin string) []byte           { return []byte(prefixOriginKey + origin) }

// SaveReceived keeps a redeemed share and, per stored record, the verdict
// its badge shows, in one transaction.
func (w *Wallet) SaveReceived(rcv *Received) error {
	b, err := json.Marshal(rcv)
	if err != nil {
		return fmt.Errorf("keep received share: %w", err)
	}
	err = w.db.Update(func(tx kv.Txn) error {
		if err := tx.Set(receivedShareKey(rcv.ID), b); err != nil {
			return err
		}
		for _, r := range rcv.Records {
			if !r.Stored() {
				continue
			}
			rb, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := tx.Set(receivedRecordKey(r.RecordID), rb); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep received share: %w", err)
	}
	return nil
}

// ReceivedShares lists the shares this wallet redeemed, newest first.
func (w *Wallet) ReceivedShares() ([]Received, error) {
	out := []Received{}
	err := w.db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte(prefixReceivedShare), func(_, v []byte) error {
			var r Received
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("a stored received share is unreadable: %w", err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list received shares: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Received.After(out[j].Received) })
	return out, nil
}

// ReceivedRecord returns the verdict kept for a received record. Records
// that did not come from a share are ErrNotReceived.
func (w *Wallet) ReceivedRecord(recordID string) (ReceivedRecord, error) {
	var r ReceivedRecord
	err := w.db.View(func(tx kv.Txn) error {
		b, err := tx.Get(receivedRecordKey(recordID))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &r)
	})
	if errors.Is(err, kv.ErrNotFound) {
		return r, fmt.Errorf("record %s: %w", recordID, ErrNotReceived)
	}
	if err != nil {
		return r, fmt.Errorf("record %s: read its verdict: %w", recordID, err)
	}
	return r, nil
}

// SenderScope is the scope (see Batch.Scope) under which the records a
// log key signed are kept: every sender's records stay apart, named by the
// key that signed them and never by the origin a share claims, so a share
// can only ever add records under its own key.
func SenderScope(pub ed25519.PublicKey) string {
	return "logkey:" + base64.StdEncoding.EncodeToString(pub)
}

// LogPublicKey reads the Ed25519 public key of a log's note verifier key
// ("<origin>+<key hash>+<base64 of 0x01 and the key>"), as a shared
// Provenance carries it.
func LogPublicKey(vkey string) (ed25519.PublicKey, error) {
	parts := strings.SplitN(vkey, "+", 3) // the base64 key may hold "+" too
	if len(parts) != 3 || len(vkey) > 512 {
		return nil, fmt.Errorf("log key %.60q: not a note verifier key", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return nil, fmt.Errorf("log key %.60q: not an Ed25519 verifier key", vkey)
	}
	return ed25519.PublicKey(raw[1:]), nil
}

// BindOrigin checks that a patient's log origin belongs to pub, the key
// whose signature a share's proofs carry. An origin derived from pub
// (ledger.OriginBound: every wallet made since origins were bound to keys)
// belongs to it by construction and is remembered as such. An older
// wallet's random origin is bound to the first key seen with it. A key
// other than the bound one is ErrForgedOrigin, and nothing is changed.
//
// A derived origin that another key claimed first (it cannot be told from
// an older wallet's until its own key shows up) is taken back by its key:
// the records received from the other key under that origin then have
// their verdict changed to tampered, and reclaimed says how many.
func (w *Wallet) BindOrigin(origin string, pub ed25519.PublicKey) (reclaimed int, err error) {
	if len(pub) != ed25519.PublicKeySize {
		return 0, fmt.Errorf("log %q: the key is not an Ed25519 public key", origin)
	}
	if err := ledger.ValidOrigin(origin); err != nil {
		return 0, fmt.Errorf("log %q: %w", origin, err)
	}
	err = w.db.Update(func(tx kv.Txn) error {
		reclaimed = 0
		known, err := tx.Get(originKey(origin))
		switch {
		case errors.Is(err, kv.ErrNotFound):
			return tx.Set(originKey(origin), pub)
		case err != nil:
			return err
		case bytes.Equal(known, pub):
			return nil
		case ledger.OriginBound(origin, pub) && !ledger.OriginBound(origin, known):
			// The key the origin is derived from outranks whoever
			// claimed it first.
			if reclaimed, err = markForged(tx, origin, ed25519.PublicKey(known)); err != nil {
				return err
			}
			return tx.Set(originKey(origin), pub)
		}
		return fmt.Errorf("log %q: %w", origin, ErrForgedOrigin)
	})
	if err != nil && !errors.Is(err, ErrForgedOrigin) {
		return 0, fmt.Errorf("bind log %q to its key: %w", origin, err)
	}
	return reclaimed, err
}

// markForged changes to tampered the verdict of every record received from
// key under origin, in the records' badges and in the received shares'
// lists, and returns how many records it changed.
func markForged(tx kv.Txn, origin string, key ed25519.PublicKey) (int, error) {
	scope := SenderScope(key) + "|"
	forged := map[string]bool{}
	verdict := func(r *ReceivedRecord) {
		r.Verification = ledger.Result{Status: ledger.Tampered, Origin: origin, Index: r.Verification.Index,
			Reason: fmt.Sprintf("forgery: log %s belongs to another key, which has since shown its records; this record was signed by someone else", origin)}
	}
	type update struct {
		key []byte
		val []byte
	}
	var updates []update
	type candidate struct {
		key []byte
		rec ReceivedRecord
	}
	var cands []candidate
	err := tx.Iterate([]byte(prefixReceivedRecord), func(k, v []byte) error {
		var r ReceivedRecord
		if json.Unmarshal(v, &r) == nil && r.Verification.Origin == origin && r.Verification.Status != ledger.Tampered {
			cands = append(cands, candidate{append([]byte(nil), k...), r})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, c := range cands {
		hb, err := tx.Get(headKey(c.rec.RecordID))
		if err != nil {
			continue // deleted since
		}
		var h head
		if h.unmarshal(hb) != nil || !strings.HasPrefix(h.Identity, scope) {
			continue
		}
		forged[c.rec.RecordID] = true
		verdict(&c.rec)
		b, err := json.Marshal(c.rec)
		if err != nil {
			return 0, err
		}
		updates = append(updates, update{c.key, b})
	}
	if len(forged) == 0 {
		return 0, nil
	}
	err = tx.Iterate([]byte(prefixReceivedShare), func(k, v []byte) error {
		var rcv Received
		if json.Unmarshal(v, &rcv) != nil {
			return nil
		}
		changed := false
		for i := range rcv.Records {
			if forged[rcv.Records[i].RecordID] && rcv.Records[i].Verification.Status != ledger.Tampered {
				verdict(&rcv.Records[i])
				changed = true
			}
		}
		if !changed {
			return nil
		}
		rcv.Alarms = append(rcv.Alarms, fmt.Sprintf("FORGERY ALARM: the records of this share that claim log %s were signed by another key than the one that log belongs to", origin))
		b, err := json.Marshal(rcv)
		if err != nil {
			return err
		}
		updates = append(updates, update{append([]byte(nil), k...), b})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, u := range updates {
		if err := tx.Set(u.key, u.val); err != nil {
			return 0, err
		}
	}
	return len(forged), nil
}

// keepReceivedApart makes every record kept from a received share read as
// one (Entry.Received), once per wallet: before it, a verified SMART Health
// Card inside a received share was kept with the card's issuer as a
// provider source, and an older wallet's people migration could attribute
// received records to the person their Patient matched, so that another
// party's records showed among the wallet's own. Their heads are given
// source SourceShare (the issuer stays in the record's card verdict) and
// no person; versions are not touched. meta/apart is written last, and
// only once there were received records to look at, so a wallet that never
// received anything is not written to at unlock.
func (w *Wallet) keepReceivedApart() error {
	var ids []string
	err := w.db.View(func(tx kv.Txn) error {
		if _, err := tx.Get([]byte(keyReceivedApart)); err == nil {
			return nil
		} else if !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		return kv.Keys(tx, []byte(prefixReceivedRecord), func(k []byte) error {
			ids = append(ids, strings.TrimPrefix(string(k), prefixReceivedRecord))
			return nil
		})
	})
	if err != nil || len(ids) == 0 {
		return err
	}
	for len(ids) > 0 {
		batch := ids[:min(migrateBatch, len(ids))]
		ids = ids[len(batch):]
		err := w.db.Update(func(tx kv.Txn) error {
			for _, id := range batch {
				v, err := tx.Get(headKey(id))
				if errors.Is(err, kv.ErrNotFound) || errors.Is(err, kv.ErrTampered) {
					continue // deleted since, or damaged: the index lists it so
				}
				if err != nil {
					return err
				}
				var h head
				if h.unmarshal(v) != nil || h.Source.Type == SourceShare && h.Person == "" {
					continue
				}
				h.Source.Type, h.Person = SourceShare, ""
				if err := tx.Set(headKey(id), h.marshal()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return w.db.Update(func(tx kv.Txn) error { return tx.Set([]byte(keyReceivedApart), []byte{1}) })
}
