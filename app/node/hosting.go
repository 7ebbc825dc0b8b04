package node

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"medwallet/app/peer"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
)

// Who the node serves. Hosting and the circuit relay are for the logs the
// witness follows (enrolled and approved) and nobody else: an upload is
// signed by the log's key (share.HostingPolicy checks it), and a wallet
// that wants the relay signs a request naming its libp2p peer ID, which the
// node records as a grant in its store (so every node process sharing the
// store honours it) and the relay's ACL consults.

// relayGrantTTL is how long a relay grant lasts; wallets ask again before
// every reservation, so a removed log loses the relay within a day even if
// a grant outlived the removal (removal also deletes its grants).
const relayGrantTTL = 24 * time.Hour

var relayGrantPrefix = []byte("node/relay-grant/")

// relayGrant says which log's wallet may use the relay as a peer, and until
// when.
type relayGrant struct {
	Origin string    `json:"origin"`
	Until  time.Time `json:"until"`
}

func relayGrantKey(p peer.ID) []byte { return append(bytes.Clone(relayGrantPrefix), p.String()...) }

// logKeys gives the hosting key of a followed log.
func (n *Node) logKeys(origin string) (ed25519.PublicKey, error) {
	return n.Witness.HostingKey(origin)
}

// audience is the name signed requests must give this node, by the
// transport r came over: its peer ID over libp2p, its public https origin
// over HTTPS.
func (n *Node) audience(r *http.Request) string {
	if _, ok := peer.RemotePeer(r); ok {
		return "http://" + n.host.ID().String()
	}
	if n.httpsURL == "" {
		return ""
	}
	aud, err := share.Audience(n.httpsURL)
	if err != nil {
		return ""
	}
	return aud
}

// serveRelayGrant records that the libp2p peer asking may use the relay,
// when its request is signed by a followed log's key and names that peer.
func (n *Node) serveRelayGrant(w http.ResponseWriter, r *http.Request) {
	remote, ok := peer.RemotePeer(r)
	if !ok {
		jsonError(w, http.StatusForbidden, "relay service is asked for over libp2p, by the peer that will use it")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err != nil {
		jsonError(w, http.StatusRequestEntityTooLarge, "the request is over 4 KiB")
		return
	}
	var req share.RelayGrantRequest
	if json.Unmarshal(body, &req) != nil || req.Peer != remote.String() {
		jsonError(w, http.StatusBadRequest, `the body must be {"peer": "<your own peer ID>"}`)
		return
	}
	now := time.Now()
	origin, err := share.VerifyRelayRequest(r, body, n.logKeys, n.audience(r), req.Peer, now, share.DefaultSignWindow)
	switch {
	case errors.Is(err, share.ErrNotEnrolled):
		jsonError(w, http.StatusForbidden, err.Error())
		return
	case err != nil:
		jsonError(w, http.StatusUnauthorized, err.Error())
		return
	}
	g, _ := json.Marshal(relayGrant{Origin: origin, Until: now.Add(relayGrantTTL).UTC()})
	if err := n.db.Update(func(tx kv.Txn) error { return tx.Set(relayGrantKey(remote), g) }); err != nil {
		jsonError(w, http.StatusInternalServerError, "storing the grant failed; try again later")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// relayAllowed reports whether peer p holds a live grant for a log the
// witness still follows.
func (n *Node) relayAllowed(p peer.ID) bool {
	var g relayGrant
	err := n.db.View(func(tx kv.Txn) error {
		v, err := tx.Get(relayGrantKey(p))
		if err != nil {
			return err
		}
		return json.Unmarshal(v, &g)
	})
	if err != nil || time.Now().After(g.Until) {
		return false
	}
	_, err = n.Witness.HostingKey(g.Origin)
	return err == nil
}

// nodeRelayACL is the relay's ACL: enrolled wallets reserve, and only they
// can be reached through the relay.
type nodeRelayACL struct{ n *Node }

func (a nodeRelayACL) MayReserve(p peer.ID) bool  { return a.n.relayAllowed(p) }
func (a nodeRelayACL) MayReach(dest peer.ID) bool { return a.n.relayAllowed(dest) }

// RemoveLog is the operator's `enroll remove`: the witness forgets the log,
// the node deletes the shares it hosts for it and its relay grants. It
// returns how many shares were deleted.
func (n *Node) RemoveLog(origin string) (int, error) {
	return removeLog(n.db, n.Witness, n.Shares, origin)
}

func removeLog(db kv.DB, w *witness.Server, shares *share.Registry, origin string) (int, error) {
	if err := w.Remove(origin); err != nil {
		return 0, err
	}
	k, err := shares.DeleteOwner(origin)
	if err != nil {
		return 0, err
	}
	err = db.Update(func(tx kv.Txn) error {
		var drop [][]byte
		if err := tx.Iterate(relayGrantPrefix, func(key, v []byte) error {
			var g relayGrant
			if json.Unmarshal(v, &g) != nil || g.Origin == origin {
				drop = append(drop, bytes.Clone(key))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, key := range drop {
			if err := tx.Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return k, fmt.Errorf("remove the relay grants of %s: %w", origin, err)
	}
	return k, nil
}
