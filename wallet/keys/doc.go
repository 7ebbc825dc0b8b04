// Package keys holds the wallet's key hierarchy: the wallet.json header that
// wraps the master key under the passphrase and the recovery key, the keys
// derived from the master key, record sealing, and the chunked encryption of
// attachment streams. It never writes a key, a passphrase or plaintext to
// disk or to a log; the only file it writes is the header, which holds
// wrapped keys and no health data.
//
// # wallet.json (format 1)
//
// A JSON object:
//
//	{"format": 1,
//	 "kdf": {"name": "argon2id", "time": T, "memoryKiB": M, "threads": P, "salt": base64(16 bytes)},
//	 "passphraseWrap": base64(72 bytes), "recoveryWrap": base64(72 bytes),
//	 "created": RFC 3339 time}
//
// A wrap is Seal(kek, master, ad): a 24-byte random nonce, then the 32-byte
// master key encrypted with XChaCha20-Poly1305 and its 16-byte tag. For the
// passphrase wrap kek = Argon2id(passphrase, salt, T, M, P) and ad is
// "medwallet/v1/wrap/passphrase"; for the recovery wrap
// kek = HKDF-SHA256(recovery key, no salt, "medwallet/v1/wrap/recovery") and
// ad is "medwallet/v1/wrap/recovery". The recovery key has 256 random bits,
// so it needs no slow KDF and no salt, and a passphrase change leaves its
// wrap untouched.
//
// # Derived keys
//
// Master.Key(p) = HKDF-SHA256(master, no salt, "medwallet/v1/" + p), 32 bytes.
// Ed25519 keys use that output as their seed.
//
// # Attachment streams
//
// A stream is a 16-byte random nonce followed by chunks. The chunk key is
// HKDF-SHA256(key, nonce, "medwallet/v1/attachment-stream"). Every chunk but
// the last holds exactly 64 KiB of plaintext; the last holds 1 to 64 KiB, or
// 0 bytes only when the whole stream is empty. Each chunk is sealed with
// ChaCha20-Poly1305 under the 12-byte nonce counter (11 bytes, big-endian,
// from 0) || flag (1 for the last chunk, else 0), as in age's STREAM.
package keys
