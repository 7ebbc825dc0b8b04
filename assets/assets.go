// Package assets holds the files bundled into the binaries: the icon and
// the SMART Health Card issuer trust list's defaults live with their users.
package assets

import _ "embed"

// Icon is the application icon (512×512 PNG).
//
//go:embed icon.png
var Icon []byte
