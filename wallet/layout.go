package wallet

// The key layout of a wallet's store (db/): every key the wallet, and the
// packages it hands its store to, writes. The store is Badger, encrypted at
// rest, and every value is additionally sealed by wallet/kv with
// XChaCha20-Poly1305 under the record key, with the value's own key as
// associated data, so no value can be moved to another key unnoticed.
// wallet/keys/doc.go documents wallet.json, the file outside the store.
//
//	prefix / key              written by        value                                   since
//	rec/h/<id>                wallet            a record's head: binary (head.go),       v1
//	                                            format byte 1, for the index; format 2   v4
//	                                            adds the person and more summary
//	rec/v/<id>/<version>      wallet            one record version: JSON Record,         v1
//	                                            version as 8 decimal digits
//	meta/origin               wallet            the log's origin, text; key-bound        v1
//	                                            (ledger.OriginForKey) for wallets made
//	                                            since origins were bound to keys
//	meta/settings             wallet            Settings, JSON                           v1
//	meta/logstate             wallet            0x01 once logstate.json (beside          v3
//	                                            wallet.json) was written (logstate.go)
//	meta/seeds                wallet            the stable key seeds (log, identity,     v3
//	                                            index), JSON, after a master-key rotation
//	meta/people               wallet            0x01 once every record was attributed    v4
//	                                            to a person (peoplemigrate.go)
//	meta/apart                wallet            0x01 once every received record's head   v7
//	                                            says so (keepReceivedApart, received.go)
//	people/<person id>        wallet            Person: one person whose records the     v4
//	                                            wallet holds (people.go), JSON
//	log/tree, log/node/…      wallet/ledger     the Merkle tree (ledger/tree.go)         v1
//	log/checkpoint/latest     wallet/ledger     the latest signed checkpoint, JSON       v1
//	log/checkpoint/witnessed  wallet/ledger     the latest cosigned checkpoint, JSON     v1
//	log/witness/<name>        wallet/ledger     a configured witness, JSON               v1
//	log/quorum                wallet/ledger     k of the k-of-n policy, decimal text     v1
//	                                            (Quorum / SetQuorum)
//	log/fork/<t>/<name>       wallet/ledger     fork alarm evidence, JSON                v1
//	shl/s/<sha256(id)>        wallet/share      a share the wallet's peer serves, JSON   v1
//	shl/f/<sha256(id)>/<n>    wallet/share      its encrypted files (compact JWE)        v1
//	shl/l/<sha256(id)>/<seq>  wallet/share      its access log, JSON                     v1
//	myshares/<sha256(id)>     wallet            ShareNote: the patient's note on one of  v1
//	                                            their shares (link, records, host), JSON;
//	                                            with shl/ it makes a MyShare
//	received/s/<receipt id>   wallet            Received: one redeemed share and the     v1
//	                                            verdict on every record in it, JSON
//	received/r/<record id>    wallet            ReceivedRecord: the verdict a received   v1
//	                                            record's badge shows, JSON
//	received/o/<origin>       wallet            the 32-byte Ed25519 key a sender's log   v2
//	                                            origin is bound to (BindOrigin)
//	shc/trust                 wallet            the SMART Health Card issuers the user   v1
//	                                            added, shc trust-list JSON
//	peer/book/<peer id>       wallet            Contact: a known peer (AddressBook),     v1
//	                                            JSON
//	import/<hash>             wallet            InterruptedImport: a file being written  v6
//	                                            in several transactions (entries.go,
//	                                            importmark.go), JSON; gone once its last
//	                                            commits. <hash>: SHA-256 of its scope
//	                                            and name, 16 bytes, hex
//	index/meta                wallet            the index snapshot's header: binary      v5
//	                                            (indexsnap.go): its ID, the commit
//	                                            number and log size it was written at,
//	                                            its chunk counts, the damaged heads
//	index/c/<n>               wallet            chunk n (8 decimal digits) of the index  v5
//	                                            snapshot: up to 8,192 records' list
//	                                            entries, binary (indexsnap.go); format
//	                                            2 packs IDs and UUIDs as bytes           v5
//	index/front               wallet            what the window shows first after an     v8
//	                                            unlock (front.go): format byte 1, the
//	                                            snapshot ID and chunk counts and the
//	                                            people's digest it is bound to, then
//	                                            the window's bytes (a summary.Front,
//	                                            JSON)
//
// v8 added index/front and changed no other key. It is written at lock with
// the index snapshot, bound to it and to the people, and only when it was
// made from the records and people as they are; any other write of the
// snapshot removes it. A wallet without it opens as before (the window then
// shows the main screen once the index is loaded). Older releases ignore
// it; a change they make to records rewrites the snapshot's chunks, and one
// to people changes their digest, so it is no longer shown.
//
// v7 added meta/apart and changed no other key. Every record kept from a
// received share is now of source "share" and belongs to no person, so that
// it never shows among the wallet's own records: before, a verified SMART
// Health Card inside a share was kept with its issuer as a "provider"
// source. On the first unlock of a wallet that holds received records,
// their heads are made so (the issuer stays in the record's card verdict;
// versions are not touched), then meta/apart is set.
//
// v6 added import/: a file of more records than one transaction holds is
// written in several, and this note says so until the last commits. A
// wallet without it has no import under way; older releases ignore it.
//
// v5 added index/: what the record list needs, so that opening a large
// wallet reads a few values instead of every head. It is derived from the
// heads, used only while current, checked against them after each open (an
// eighth of them at a time) and rewritten at lock; a wallet without it (or
// with a stale or damaged one) opens from the heads as before, and older
// releases ignore it. Chunks are written in format 2 (IDs and UUIDs packed
// as bytes); format 1 still reads, and a release that reads only format 1
// opens such a wallet from its heads and writes format 1 again at lock.
//
// v4 added people/ and meta/people, and heads of format 2 (the person a
// record belongs to, and the summary's reference range, visit and
// organisation). A wallet made before it opens unchanged: on its first
// unlock every record is attributed to the person of the Patient it refers
// to, people are made from its Patient records (the first imported becomes
// the owner), and every head is summarised again and written in format 2,
// in batches; meta/people is set last, so an unlock that was interrupted
// does it again, with the same outcome.
//
// v3 added meta/logstate and meta/seeds and changed no other key: a wallet
// without them derives those keys from its master key as before, and gets
// meta/logstate at its first unlock.
//
// v1 is the layout of the first release; v2 added received/o/ and changed
// no other key, so wallets made before it open unchanged. Records received
// since v2 are scoped by the key that signed them (SenderScope) rather
// than by the origin a share claimed: a share redeemed again after the
// upgrade makes new records beside those it made before.
const (
	prefixHead           = "rec/h/"
	prefixVersion        = "rec/v/"
	keyOrigin            = "meta/origin"
	keySettings          = "meta/settings"
	keyLogState          = "meta/logstate"
	keySeeds             = "meta/seeds"
	prefixMyShare        = "myshares/"
	prefixReceivedShare  = "received/s/"
	prefixReceivedRecord = "received/r/"
	prefixOriginKey      = "received/o/"
	keyTrustList         = "shc/trust"
	prefixAddressBook    = "peer/book/"
	prefixPerson         = "people/"
	keyPeople            = "meta/people"
	keyReceivedApart     = "meta/apart"
	prefixImport         = "import/"
	// keyIndexMeta and prefixIndexChunk are in indexsnap.go, keyIndexFront
	// in front.go.
)
