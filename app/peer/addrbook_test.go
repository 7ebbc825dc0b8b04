package peer

import (
	"errors"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"medwallet/wallet"
	"medwallet/wallet/kv"
)

func TestAddressBookPutGetListRemove(t *testing.T) {
	book := NewBook(wallet.NewAddressBook(kv.Memory()))
	clinic := Contact{
		Name:  "Riverside Clinic",
		ID:    testPeerID(t, "clinic"),
		Role:  RoleClinic,
		Addrs: []ma.Multiaddr{mustMultiaddr(t, "/ip4/192.0.2.7/tcp/4001"), mustMultiaddr(t, "/ip4/192.0.2.7/udp/4001/quic-v1")},
	}
	witness := Contact{Name: "Dr. Ada — witness", ID: testPeerID(t, "witness"), Role: RoleWitness,
		Updated: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	for _, c := range []Contact{clinic, witness} {
		if err := book.Put(c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := book.Get(clinic.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != clinic.Name || got.Role != RoleClinic || len(got.Addrs) != 2 || !got.Addrs[1].Equal(clinic.Addrs[1]) {
		t.Errorf("got %+v, want %+v", got, clinic)
	}
	if got.Updated.IsZero() {
		t.Error("Updated not set on Put")
	}
	list, err := book.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("listed %d contacts, want 2", len(list))
	}
	// Put replaces.
	clinic.Name = "Riverside Clinic (main)"
	if err := book.Put(clinic); err != nil {
		t.Fatal(err)
	}
	if got, _ := book.Get(clinic.ID); got.Name != clinic.Name {
		t.Errorf("after replace: name %q", got.Name)
	}
	if err := book.Remove(clinic.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := book.Get(clinic.ID); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("after Remove: %v, want ErrUnknownPeer", err)
	}
	if err := book.Remove(clinic.ID); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	if list, _ := book.List(); len(list) != 1 || list[0].ID != witness.ID || !list[0].Updated.Equal(witness.Updated) {
		t.Errorf("left %+v, want only the witness", list)
	}
}

func TestAddressBookRefusesBadContacts(t *testing.T) {
	book := NewBook(wallet.NewAddressBook(kv.Memory()))
	id := testPeerID(t, "someone")
	other := testPeerID(t, "someone else")
	for name, c := range map[string]Contact{
		"no name":            {ID: id},
		"blank name":         {Name: "  ", ID: id},
		"control characters": {Name: "a\x1b[31m", ID: id},
		"name too long":      {Name: strings.Repeat("x", MaxNameLen+1), ID: id},
		"no peer ID":         {Name: "x"},
		"address of another": {Name: "x", ID: id, Addrs: []ma.Multiaddr{mustMultiaddr(t, "/ip4/192.0.2.1/tcp/1/p2p/"+other.String())}},
		"too many addresses": {Name: "x", ID: id, Addrs: make([]ma.Multiaddr, MaxContactAddrs+1)},
	} {
		if err := book.Put(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if list, _ := book.List(); len(list) != 0 {
		t.Errorf("refused contacts were stored: %v", list)
	}
}

func TestParseAddr(t *testing.T) {
	id := testPeerID(t, "parsed").String()
	for _, tc := range []struct {
		in        string
		wantAddrs int
		wantErr   string
	}{
		{"/ip4/192.0.2.7/tcp/4001/p2p/" + id, 1, ""},
		{"  /ip4/192.0.2.7/udp/4001/quic-v1/p2p/" + id + "\n", 1, ""},
		{"/ip4/192.0.2.9/tcp/1/p2p/" + id + "/p2p-circuit/p2p/" + id, 1, ""},
		{"/p2p/" + id, 0, ""},
		{"/ip4/192.0.2.7/tcp/4001", 0, "no /p2p/"},
		{id, 0, "must start with '/'"},
		{"/ip4/192.0.2.7/tcp/4001/p2p/notapeerid", 0, "peer address"},
		{"", 0, "must start"},
		{"/" + strings.Repeat("a", MaxAddrLen), 0, "over"},
	} {
		info, err := ParseAddr(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseAddr(%.40q): err %v, want one saying %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAddr(%.40q): %v", tc.in, err)
			continue
		}
		if info.ID.String() != id || len(info.Addrs) != tc.wantAddrs {
			t.Errorf("ParseAddr(%.40q) = %v", tc.in, info)
		}
	}
}

func FuzzParseAddr(f *testing.F) {
	f.Add("/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWRAMNfQjwdXvJrKvWsZ5mvMEvUnTuDWEP7w7a9GrHX7sR")
	f.Add("/p2p/12D3KooWRAMNfQjwdXvJrKvWsZ5mvMEvUnTuDWEP7w7a9GrHX7sR")
	f.Add("/dns4/clinic.example/udp/443/quic-v1")
	f.Fuzz(func(t *testing.T, s string) {
		info, err := ParseAddr(s)
		if err != nil {
			return
		}
		if err := info.ID.Validate(); err != nil {
			t.Fatalf("ParseAddr(%q) returned an invalid peer ID: %v", s, err)
		}
		if len(info.Addrs) > 1 {
			t.Fatalf("ParseAddr(%q) returned %d addresses", s, len(info.Addrs))
		}
	})
}
