package wallet

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"medwallet/wallet/kv"
)

// ErrUnknownContact means the address book has no contact of that ID.
var ErrUnknownContact = errors.New("peer is not in the address book")

// maxContactBytes bounds one stored contact.
const maxContactBytes = 32 << 10

// Contact is one known peer as the address book stores it. The wallet
// keeps its ID and addresses as text; app/peer reads them as libp2p values
// and checks them before they are stored.
type Contact struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Role    string    `json:"role,omitempty"`
	Addrs   []string  `json:"addrs,omitempty"`
	Updated time.Time `json:"updated"`
}

// AddressBook is the store of known peers (witnesses, clinic nodes, those
// shared with) in a wallet's store.
type AddressBook struct{ db kv.DB }

// NewAddressBook is the address book kept in db (a wallet's, or a memory
// store in tests).
func NewAddressBook(db kv.DB) *AddressBook { return &AddressBook{db: db} }

// AddressBook is the wallet's address book.
func (w *Wallet) AddressBook() *AddressBook { return NewAddressBook(w.db) }

func contactKey(id string) []byte { return []byte(prefixAddressBook + id) }

// Put adds or replaces the contact c.ID.
func (b *AddressBook) Put(c Contact) error {
	if c.ID == "" {
		return errors.New("save peer: no peer ID")
	}
	val, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("save peer %q: %w", c.Name, err)
	}
	if len(val) > maxContactBytes {
		return fmt.Errorf("save peer %q: %d bytes is over %d", c.Name, len(val), maxContactBytes)
	}
	if err := b.db.Update(func(t kv.Txn) error { return t.Set(contactKey(c.ID), val) }); err != nil {
		return fmt.Errorf("save peer %q: %w", c.Name, err)
	}
	return nil
}

// Get returns the contact id, or an error wrapping ErrUnknownContact.
func (b *AddressBook) Get(id string) (Contact, error) {
	var c Contact
	err := b.db.View(func(t kv.Txn) error {
		val, err := t.Get(contactKey(id))
		if errors.Is(err, kv.ErrNotFound) {
			return ErrUnknownContact
		}
		if err != nil {
			return err
		}
		c, err = decodeContact(val)
		return err
	})
	if err != nil {
		return Contact{}, fmt.Errorf("look up peer %s: %w", id, err)
	}
	return c, nil
}

// List returns every contact, ordered by ID.
func (b *AddressBook) List() ([]Contact, error) {
	var out []Contact
	err := b.db.View(func(t kv.Txn) error {
		return t.Iterate([]byte(prefixAddressBook), func(key, val []byte) error {
			c, err := decodeContact(val)
			if err != nil {
				return fmt.Errorf("entry %q: %w", key, err)
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list known peers: %w", err)
	}
	return out, nil
}

// Remove deletes the contact id; removing an unknown one is not an error.
func (b *AddressBook) Remove(id string) error {
	if err := b.db.Update(func(t kv.Txn) error { return t.Delete(contactKey(id)) }); err != nil {
		return fmt.Errorf("forget peer %s: %w", id, err)
	}
	return nil
}

func decodeContact(val []byte) (Contact, error) {
	if len(val) > maxContactBytes {
		return Contact{}, fmt.Errorf("stored contact of %d bytes is over %d", len(val), maxContactBytes)
	}
	var c Contact
	if err := json.Unmarshal(val, &c); err != nil {
		return Contact{}, fmt.Errorf("stored contact: %w", err)
	}
	return c, nil
}
