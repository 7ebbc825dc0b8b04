package wallet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"medwallet/wallet/kv"
	"medwallet/wallet/share"
)

// ErrNoSuchShare means the wallet has no share of its own with that ID.
var ErrNoSuchShare = errors.New("no such share")

// ShareNote is what the wallet knows of one of its own shares beyond what
// the registry serves: the link, the records, where it is hosted.
type ShareNote struct {
	ID          string    `json:"id"`
	Link        string    `json:"link"`
	Records     []string  `json:"records"`
	Host        string    `json:"host,omitempty"`     // as the patient named it
	NodePeer    string    `json:"nodePeer,omitempty"` // the hosting node's peer ID, when hosted over libp2p
	HostRevoked bool      `json:"hostRevoked,omitempty"`
	Created     time.Time `json:"created"`
}

// MyShare is one of the patient's shares: the share as the registry serves
// it and the wallet's note about it, one thing to its callers.
type MyShare struct {
	*share.Share
	Note ShareNote
}

// ShareRegistry is the registry of the wallet's shares, the one its peer
// serves from. Shares in it without a note are served for someone else
// (a wallet acting as a host) and are not the patient's.
func (w *Wallet) ShareRegistry() *share.Registry {
	w.sharesOnce.Do(func() { w.shares = share.NewRegistry(w.db, share.DefaultPrefix) })
	return w.shares
}

func shareNoteKey(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return []byte(prefixMyShare + hex.EncodeToString(h[:]))
}

// AddShare puts a new share in the registry. It is the patient's once
// SaveShareNote has noted it; until then DeleteShare undoes it.
func (w *Wallet) AddShare(sh *share.Share) error {
	return w.ShareRegistry().Put(sh)
}

// SaveShareNote keeps (or replaces) the note of one of the patient's shares.
func (w *Wallet) SaveShareNote(n ShareNote) error {
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("share %.8s…: %w", n.ID, err)
	}
	if err := w.db.Update(func(tx kv.Txn) error { return tx.Set(shareNoteKey(n.ID), b) }); err != nil {
		return fmt.Errorf("share %.8s…: keep its note: %w", n.ID, err)
	}
	return nil
}

// DeleteShare removes a share, its files, log and note.
func (w *Wallet) DeleteShare(id string) error {
	if err := w.ShareRegistry().Delete(id); err != nil {
		return fmt.Errorf("delete share %.8s…: %w", id, err)
	}
	if err := w.db.Update(func(tx kv.Txn) error { return tx.Delete(shareNoteKey(id)) }); err != nil {
		return fmt.Errorf("delete share %.8s…: %w", id, err)
	}
	return nil
}

func (w *Wallet) shareNote(id string) (ShareNote, error) {
	var n ShareNote
	err := w.db.View(func(tx kv.Txn) error {
		b, err := tx.Get(shareNoteKey(id))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &n)
	})
	if errors.Is(err, kv.ErrNotFound) {
		return n, fmt.Errorf("share %.8s…: %w", id, ErrNoSuchShare)
	}
	if err != nil {
		return n, fmt.Errorf("share %.8s…: %w", id, err)
	}
	return n, nil
}

// MyShare returns one of the patient's shares.
func (w *Wallet) MyShare(id string) (MyShare, error) {
	n, err := w.shareNote(id)
	if err != nil {
		return MyShare{}, err
	}
	sh, err := w.ShareRegistry().Get(id)
	if err != nil {
		return MyShare{}, fmt.Errorf("share %.8s…: %w", id, err)
	}
	return MyShare{Share: sh, Note: n}, nil
}

// MyShares lists the patient's shares in the registry's order.
func (w *Wallet) MyShares() ([]MyShare, error) {
	all, err := w.ShareRegistry().List()
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	var out []MyShare
	for _, sh := range all {
		n, err := w.shareNote(sh.ID)
		if errors.Is(err, ErrNoSuchShare) {
			continue // served for someone else, not one of the patient's
		}
		if err != nil {
			return nil, err
		}
		out = append(out, MyShare{Share: sh, Note: n})
	}
	return out, nil
}
