// Package backup writes a whole wallet into one age-encrypted archive and
// restores such an archive into a new wallet directory. It streams, so a
// wallet of any size is backed up and restored in constant memory, and it
// never writes plaintext to disk nor anything at the target directory before
// the whole archive has been read and verified.
//
// # Encryption
//
// The archive is an age file (filippo.io/age, age-encryption.org/v1). By
// default it has one recipient stanza of type "medwallet-recovery" (argument
// "v1") whose body is the 72-byte recovery wrap copied from wallet.json
// followed by the age file key sealed with keys.Seal under the master key's
// "backup" purpose key (associated data "medwallet/v1/backup/file-key"). The
// printed recovery key unwraps the master key from the first part and so the
// file key from the second: a running wallet can back itself up to its
// recovery key without knowing that key, and the backup needs nothing but the
// recovery key to restore. The wallet passphrase (and its offline-guessable
// Argon2id wrap) is not in the age header.
//
// With a backup passphrase the archive instead has a single age scrypt
// stanza, so `age -d` opens it with that passphrase. The age format requires
// an scrypt stanza to be the only one in a file, so such a backup is not also
// encrypted to the recovery key; restoring it needs the backup passphrase
// and then the wallet's passphrase or recovery key for the wallet inside.
//
// # Archive (format version 1)
//
// The age plaintext is a POSIX tar stream of regular files, in this order:
//
//	backup.json        {"format":"medwallet-backup","version":1,"created":RFC 3339,"origin":log origin}
//	wallet.json        the wallet header, byte for byte
//	kv/NNNNNNNN        store segments (zero or more, any size up to the limits)
//	attachments/<id>   attachment files as stored: encrypted with the wallet's
//	                   attachment key, so they are copied, never decrypted
//	manifest.json      {"format":"medwallet-backup","version":1,"kvEntries":N,
//	                    "entries":[{"name":…,"size":…,"sha256":hex}, …]}
//
// A store segment is a sequence of entries, each uvarint(len(key)) || key ||
// uvarint(len(value)) || value, with the value as the store returns it
// (unsealed). Every key of the wallet's store is in exactly one segment.
// The manifest lists every file before it, in order, with its size and
// SHA-256. A reader refuses a backup.json or manifest version newer than the
// one it knows, any name or order other than the above, any size over the
// limits in this package, any hash or size that differs from the manifest,
// and anything after the manifest.
package backup
