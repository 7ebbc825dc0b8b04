package peer

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"medwallet/wallet"
)

// Role says why a peer is in the address book.
type Role string

const (
	RoleWitness    Role = "witness"     // cosigns the wallet's log checkpoints
	RoleClinic     Role = "clinic"      // a clinic node hosting shares or relaying
	RoleSharedWith Role = "shared-with" // a clinician the patient shared with
)

// Contact is one known peer: what the person calls it, who it is and where
// it was last reached.
type Contact struct {
	Name    string         `json:"name"`
	ID      ID             `json:"-"`
	Role    Role           `json:"role,omitempty"`
	Addrs   []ma.Multiaddr `json:"-"`
	Updated time.Time      `json:"updated"`
}

// AddrInfo is the contact as something to dial.
func (c Contact) AddrInfo() AddrInfo { return AddrInfo{ID: c.ID, Addrs: c.Addrs} }

// Limits on what the address book accepts and on what ParseAddr reads.
const (
	MaxNameLen      = 80
	MaxAddrLen      = 1024
	MaxContactAddrs = 16
)

// ErrUnknownPeer is returned by Book.Get for a peer that is not in the book.
var ErrUnknownPeer = errors.New("peer is not in the address book")

// Book is the address book of known peers: libp2p values over the
// contacts the wallet stores (wallet.AddressBook).
type Book struct {
	store *wallet.AddressBook
}

// NewBook returns the address book kept in store.
func NewBook(store *wallet.AddressBook) *Book { return &Book{store: store} }

// Put adds or replaces the contact with c.ID. Updated is set to now when
// zero.
func (b *Book) Put(c Contact) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("save peer %q: %w", c.Name, err)
	}
	if c.Updated.IsZero() {
		c.Updated = time.Now().UTC()
	}
	s := wallet.Contact{Name: c.Name, ID: c.ID.String(), Role: string(c.Role), Updated: c.Updated}
	for _, a := range c.Addrs {
		s.Addrs = append(s.Addrs, a.String())
	}
	return b.store.Put(s)
}

func (c Contact) validate() error {
	if err := c.ID.Validate(); err != nil {
		return fmt.Errorf("peer ID: %w", err)
	}
	if err := validateName(c.Name); err != nil {
		return err
	}
	if len(c.Addrs) > MaxContactAddrs {
		return fmt.Errorf("%d addresses, at most %d are kept", len(c.Addrs), MaxContactAddrs)
	}
	for _, a := range c.Addrs {
		if len(a.String()) > MaxAddrLen {
			return fmt.Errorf("address longer than %d characters", MaxAddrLen)
		}
		if _, id := libp2ppeer.SplitAddr(a); id != "" && id != c.ID {
			return fmt.Errorf("address %s names peer %s, not %s", a, id, c.ID)
		}
	}
	return nil
}

func validateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("a name is needed, such as the clinic's")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return fmt.Errorf("name must be readable text of at most %d characters", MaxNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errors.New("name must not contain control characters")
		}
	}
	return nil
}

// Get returns the contact for id, or an error wrapping ErrUnknownPeer.
func (b *Book) Get(id ID) (Contact, error) {
	s, err := b.store.Get(id.String())
	if errors.Is(err, wallet.ErrUnknownContact) {
		return Contact{}, fmt.Errorf("look up peer %s: %w", id, ErrUnknownPeer)
	}
	if err != nil {
		return Contact{}, err
	}
	c, err := decodeContact(s)
	if err != nil {
		return Contact{}, fmt.Errorf("look up peer %s: %w", id, err)
	}
	return c, nil
}

// List returns every contact, ordered by peer ID.
func (b *Book) List() ([]Contact, error) {
	all, err := b.store.List()
	if err != nil {
		return nil, err
	}
	out := make([]Contact, 0, len(all))
	for _, s := range all {
		c, err := decodeContact(s)
		if err != nil {
			return nil, fmt.Errorf("list known peers: entry %q: %w", s.ID, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Remove deletes the contact for id; removing an unknown peer is not an error.
func (b *Book) Remove(id ID) error { return b.store.Remove(id.String()) }

func decodeContact(s wallet.Contact) (Contact, error) {
	id, err := libp2ppeer.Decode(s.ID)
	if err != nil {
		return Contact{}, fmt.Errorf("stored contact: peer ID: %w", err)
	}
	c := Contact{Name: s.Name, ID: id, Role: Role(s.Role), Updated: s.Updated}
	for _, as := range s.Addrs {
		a, err := ma.NewMultiaddr(as)
		if err != nil {
			return Contact{}, fmt.Errorf("stored contact: address %q: %w", as, err)
		}
		c.Addrs = append(c.Addrs, a)
	}
	return c, nil
}

// ParseAddr reads an address as a person pastes it or a QR code carries it:
// a full multiaddr ending in /p2p/<peer id>, for example
// /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…, or /p2p/<peer id> alone when only
// the identity is known. Surrounding spaces are ignored.
func ParseAddr(s string) (AddrInfo, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxAddrLen {
		return AddrInfo{}, fmt.Errorf("peer address of %d characters is over %d: it is not a peer address", len(s), MaxAddrLen)
	}
	if !strings.HasPrefix(s, "/") {
		return AddrInfo{}, fmt.Errorf("peer address %q must start with '/', as in /ip4/192.0.2.7/tcp/4001/p2p/<peer id>", s)
	}
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return AddrInfo{}, fmt.Errorf("peer address %q: %w", s, err)
	}
	transport, id := libp2ppeer.SplitAddr(a)
	if id == "" {
		return AddrInfo{}, fmt.Errorf("peer address %q has no /p2p/<peer id> at its end: copy the full address the node shows", s)
	}
	info := AddrInfo{ID: id}
	if len(transport) > 0 {
		info.Addrs = []ma.Multiaddr{transport}
	}
	return info, nil
}
