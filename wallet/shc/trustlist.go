package shc

import (
	"embed"
	"fmt"
	"path"
	"strings"
)

// SpecExampleIssuer is the SMART Health Cards specification's example issuer.
// Its private keys are published with the specification, so its cards are
// demonstrations only and never evidence about a real person.
const SpecExampleIssuer = "https://spec.smarthealth.cards/examples/issuer"

// SpecExampleIssuerName is the name the wallet shows for SpecExampleIssuer.
const SpecExampleIssuerName = "SMART Health Cards specification example issuer (demo only)"

//go:embed trust/spec-example-issuer.jwks.json trust/spec-example-issuer.crl.*.json
var bundled embed.FS

// DefaultTrustList returns a new trust list holding what the wallet ships:
// only the specification's example issuer and its revocation list (see
// trust/README.md). Real issuers are added by the user from the VCI
// Directory with LoadTrustList or AddIssuer.
func DefaultTrustList() (*TrustList, error) {
	t := NewTrustList()
	jwks, err := bundled.ReadFile("trust/spec-example-issuer.jwks.json")
	if err != nil {
		return nil, fmt.Errorf("load bundled trust list: %w", err)
	}
	if err := t.AddIssuer(SpecExampleIssuer, SpecExampleIssuerName, jwks); err != nil {
		return nil, fmt.Errorf("load bundled trust list: %w", err)
	}
	crls, err := bundled.ReadDir("trust")
	if err != nil {
		return nil, fmt.Errorf("load bundled trust list: %w", err)
	}
	for _, f := range crls {
		if !strings.HasPrefix(f.Name(), "spec-example-issuer.crl.") {
			continue
		}
		data, err := bundled.ReadFile(path.Join("trust", f.Name()))
		if err != nil {
			return nil, fmt.Errorf("load bundled trust list: %w", err)
		}
		if err := t.AddCRL(SpecExampleIssuer, data); err != nil {
			return nil, fmt.Errorf("load bundled trust list: %s: %w", f.Name(), err)
		}
	}
	return t, nil
}
