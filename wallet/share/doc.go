// Package share holds the HL7 SMART Health Links machinery shared by the
// patient's wallet and the clinic node: links, JWE file encryption, the
// manifest protocol (server and client), passcodes, access logs and QR codes.
// It never stores a share's decryption key on a host, never logs passcodes,
// keys or plaintext, and never trusts a size it was told instead of one it
// measured.
package share
