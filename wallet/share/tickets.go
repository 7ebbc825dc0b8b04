package share

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"medwallet/wallet/kv"
)

// A location ticket lets one GET fetch one file of a share, once, within
// TicketTTL of the manifest that listed it. Tickets live in the registry's
// kv, under t/<share hash>/<SHA-256 of the ticket>, not in a server's
// memory: clinic nodes sharing one database (behind one load balancer)
// then serve a location any of them handed out, and each only once.

// maxTicketsPerShare bounds the live tickets of one share, so that
// repeated manifest requests cannot fill the store.
const maxTicketsPerShare = 64

// ErrTooManyDownloads means a share has too many locations outstanding.
var ErrTooManyDownloads = errors.New("too many downloads of this share in progress; try again shortly")

type storedTicket struct {
	N   int       `json:"n"`
	Exp time.Time `json:"exp"`
}

func (r *Registry) ticketPrefix(hid string) []byte { return []byte(r.prefix + "t/" + hid + "/") }

func (r *Registry) ticketKey(hid, ticket string) []byte {
	h := sha256.Sum256([]byte(ticket))
	return hex.AppendEncode(r.ticketPrefix(hid), h[:])
}

// IssueTicket records a fresh single-use ticket for file n of share id,
// valid for ttl, dropping the share's expired ones.
func (r *Registry) IssueTicket(id string, n int, ttl time.Duration) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random ticket: %w", err)
	}
	t := base64.RawURLEncoding.EncodeToString(b[:])
	now := r.now()
	raw, err := json.Marshal(storedTicket{N: n, Exp: now.Add(ttl).UTC()})
	if err != nil {
		return "", err
	}
	hid := hashID(id)
	err = r.db.Update(func(txn kv.Txn) error {
		live := 0
		var expired [][]byte
		err := txn.Iterate(r.ticketPrefix(hid), func(k, v []byte) error {
			var st storedTicket
			if json.Unmarshal(v, &st) != nil || now.After(st.Exp) {
				expired = append(expired, k)
			} else {
				live++
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		if live >= maxTicketsPerShare {
			return ErrTooManyDownloads
		}
		return txn.Set(r.ticketKey(hid, t), raw)
	})
	if err != nil {
		return "", fmt.Errorf("share %.8s…: issue a location: %w", id, err)
	}
	return t, nil
}

// TakeTicket consumes ticket of share id and returns the file it names;
// ok is false for an unknown, used or expired ticket.
func (r *Registry) TakeTicket(id, ticket string) (n int, ok bool, err error) {
	hid := hashID(id)
	key := r.ticketKey(hid, ticket)
	now := r.now()
	err = r.db.Update(func(txn kv.Txn) error {
		ok = false
		v, err := txn.Get(key)
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := txn.Delete(key); err != nil {
			return err
		}
		var st storedTicket
		if json.Unmarshal(v, &st) != nil || now.After(st.Exp) {
			return nil
		}
		n, ok = st.N, true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("share %.8s…: use a location: %w", id, err)
	}
	return n, ok, nil
}
