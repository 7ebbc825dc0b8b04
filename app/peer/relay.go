package peer

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

// Reservation timing: retry a failed relay after relayRetryMin, doubling up
// to relayRetryMax; renew a held one well before it expires and check every
// relayCheck that the connection to the relay is still up.
const (
	relayRetryMin = time.Second
	relayRetryMax = 5 * time.Minute
	relayCheck    = 15 * time.Second
)

// RelayACL decides whom a relay serves: who may hold a reservation (and
// so be reached through the relay) and whom others may reach through it.
// A clinic node lets only enrolled wallets reserve, and lets anyone reach
// only them, so its relay carries traffic to and from its patients only.
type RelayACL interface {
	// MayReserve reports whether peer p may hold a reservation.
	MayReserve(p ID) bool
	// MayReach reports whether a relayed connection to dest is allowed.
	MayReach(dest ID) bool
}

// relayACL adapts a RelayACL to libp2p's relay.ACLFilter.
type relayACL struct{ acl RelayACL }

func (a relayACL) AllowReserve(p ID, _ ma.Multiaddr) bool { return a.acl.MayReserve(p) }
func (a relayACL) AllowConnect(_ ID, _ ma.Multiaddr, dest ID) bool {
	return a.acl.MayReach(dest)
}

// keepReservation holds a circuit v2 reservation at one static relay for as
// long as the host runs, and publishes the circuit addresses it grants.
func (hp *Host) keepReservation(r AddrInfo) {
	defer hp.wg.Done()
	hp.h.Peerstore().AddAddrs(r.ID, r.Addrs, peerstore.PermanentAddrTTL)
	hp.h.ConnManager().Protect(r.ID, "medwallet-relay")
	retry := relayRetryMin
	for {
		renewAt, ok := hp.introduceAndReserve(r)
		if !ok {
			hp.setCircuitAddrs(r.ID, nil)
			if !hp.sleep(retry) {
				return
			}
			retry = min(retry*2, relayRetryMax)
			continue
		}
		retry = relayRetryMin
		// Hold until renewal is due or the relay connection drops.
		for time.Now().Before(renewAt) && hp.h.Network().Connectedness(r.ID) == network.Connected {
			if !hp.sleep(min(relayCheck, time.Until(renewAt))) {
				return
			}
		}
	}
}

// introduceAndReserve shows the relay who this peer is, when configured,
// then reserves.
func (hp *Host) introduceAndReserve(r AddrInfo) (time.Time, bool) {
	if hp.cfg.RelayIntroduce != nil {
		ctx, cancel := context.WithTimeout(hp.ctx, hp.cfg.DialTimeout)
		err := hp.cfg.RelayIntroduce(ctx, hp.Client(r), r.ID, hp.ID())
		cancel()
		if err != nil {
			if hp.ctx.Err() == nil {
				hp.log.Warn("the relay did not accept this peer; will retry", "relay", r.ID.String(), "err", err)
			}
			return time.Time{}, false
		}
	}
	return hp.reserve(r)
}

// reserve asks the relay for a slot and returns when to renew it.
func (hp *Host) reserve(r AddrInfo) (time.Time, bool) {
	ctx, cancel := context.WithTimeout(hp.ctx, hp.cfg.DialTimeout)
	defer cancel()
	rsvp, err := client.Reserve(ctx, hp.h, AddrInfo{ID: r.ID, Addrs: r.Addrs})
	if err != nil {
		if hp.ctx.Err() == nil {
			hp.log.Warn("relay reservation failed; will retry", "relay", r.ID.String(), "err", err)
		}
		return time.Time{}, false
	}
	relayAddrs := rsvp.Addrs
	if len(relayAddrs) == 0 {
		relayAddrs = hp.h.Peerstore().Addrs(r.ID)
	}
	circuit := make([]ma.Multiaddr, 0, len(relayAddrs))
	suffix, err := ma.NewMultiaddr("/p2p/" + r.ID.String() + "/p2p-circuit")
	if err != nil {
		return time.Time{}, false
	}
	for _, a := range relayAddrs {
		bare, last := ma.SplitLast(a)
		if last != nil && last.Protocol().Code == ma.P_P2P {
			a = bare
		}
		circuit = append(circuit, a.Encapsulate(suffix))
	}
	hp.setCircuitAddrs(r.ID, circuit)
	ttl := time.Until(rsvp.Expiration)
	return time.Now().Add(ttl * 3 / 4), true
}

func (hp *Host) setCircuitAddrs(relay ID, addrs []ma.Multiaddr) {
	hp.relayMu.Lock()
	defer hp.relayMu.Unlock()
	if len(addrs) == 0 {
		delete(hp.relayAddrs, relay)
		return
	}
	hp.relayAddrs[relay] = addrs
}

// circuitAddrs are the host's addresses at relays it holds a reservation with.
func (hp *Host) circuitAddrs() []ma.Multiaddr {
	hp.relayMu.Lock()
	defer hp.relayMu.Unlock()
	var out []ma.Multiaddr
	for _, addrs := range hp.relayAddrs {
		out = append(out, addrs...)
	}
	slices.SortFunc(out, func(a, b ma.Multiaddr) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// sleep waits d or until the host closes; it reports whether to go on.
func (hp *Host) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-hp.ctx.Done():
		return false
	}
}
