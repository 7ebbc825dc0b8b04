package share

import (
	"errors"
	"fmt"
)

// Sentinel errors callers (the CLI, the UI, the peer layer) switch on.
var (
	// ErrNotALink means the text is not a SMART Health Link in any accepted form.
	ErrNotALink = errors.New("not a SMART Health Link (expected shlink:/…, medwallet:/… or a viewer URL ending in #shlink:/…)")
	// ErrInvalidLink means the text looks like a link but its payload breaks the SHL rules.
	ErrInvalidLink = errors.New("invalid SMART Health Link payload")
	// ErrTruncatedLink means the link text stops before its payload ends: it
	// was cut when copied, split over lines or shortened by a messaging app.
	// It comes wrapped together with ErrInvalidLink.
	ErrTruncatedLink = errors.New("the link is cut short: its end is missing")
	// ErrLinkTooLong means the link text exceeds MaxLinkText bytes.
	ErrLinkTooLong = errors.New("link text is too long")

	// ErrNotFound means the share is unknown, expired, revoked or disabled.
	// A server answers all of these alike (HTTP 404) so a guesser learns nothing.
	ErrNotFound = errors.New("share not found: it may have expired, been revoked or never existed")
	// ErrExpired means the share's expiry time has passed.
	ErrExpired = errors.New("share has expired")
	// ErrRevoked means the patient revoked the share.
	ErrRevoked = errors.New("share was revoked by the patient")
	// ErrLocked means too many wrong passcodes were tried and the share is disabled.
	ErrLocked = errors.New("share is disabled after too many wrong passcodes")
	// ErrPasscodeRequired means the link has the P flag and no passcode was given.
	ErrPasscodeRequired = errors.New("this share needs a passcode")

	// ErrDecrypt means a JWE failed authentication: wrong key or tampered data.
	ErrDecrypt = errors.New("cannot decrypt shared file: wrong key or the file was altered")
	// ErrMalformedJWE means a JWE is not a compact dir/A256GCM JWE this package accepts.
	ErrMalformedJWE = errors.New("malformed encrypted file (JWE)")
	// ErrTooLarge means some input or response exceeded its size limit.
	ErrTooLarge = errors.New("too large")
	// ErrMalformedManifest means a manifest request or response breaks the SHL rules.
	ErrMalformedManifest = errors.New("malformed SMART Health Links manifest")
	// ErrUnknownContent means a fetched file is none of the SHL content types.
	ErrUnknownContent = errors.New("shared file has an unknown content type")
	// ErrRateLimited means the server answered 429 Too Many Requests.
	ErrRateLimited = errors.New("the share's server is rate limiting requests; wait and try again")
	// ErrUnauthorized means a host management request presented a wrong secret
	// or the host refused to store shares for this client.
	ErrUnauthorized = errors.New("not authorised to manage this hosted share")

	// ErrNoQRCode means no QR code was found in the image.
	ErrNoQRCode = errors.New("no readable QR code found in the image")
	// ErrTextTooLongForQR means the text does not fit a version-40 QR code at level M.
	ErrTextTooLongForQR = errors.New("text is too long for a QR code")
)

// ErrPasscode is returned for a wrong passcode (HTTP 401). Remaining is the
// number of further wrong attempts the server will accept before it disables
// the share; 0 means the share is now disabled.
type ErrPasscode struct {
	Remaining int
}

func (e *ErrPasscode) Error() string {
	if e.Remaining <= 0 {
		return "wrong passcode: no attempts left, the share is now disabled"
	}
	return fmt.Sprintf("wrong passcode: %d attempt(s) left before the share is disabled", e.Remaining)
}
