package shc

// SpecExampleIssuer is the SMART Health Cards specification's example issuer.
// Its private keys are published with the specification, so anyone can sign
// a card with them: the wallet never ships it in its trust list, and a card
// from it is never evidence about a real person. Tests and demos add it
// themselves (AddKnownIssuer shows its cards as SignatureOnly).
const SpecExampleIssuer = "https://spec.smarthealth.cards/examples/issuer"

// SpecExampleIssuerName is the name the wallet shows for SpecExampleIssuer
// where a test or demo adds it.
const SpecExampleIssuerName = "SMART Health Cards specification example issuer (demo only)"

// DefaultTrustList returns a new trust list holding what the wallet ships:
// no issuer at all (see trust/README.md). A demo issuer in it would let
// anyone holding its published key make cards that read as verified. Real
// issuers are added by the user from the VCI Directory with LoadTrustList
// or AddIssuer.
func DefaultTrustList() (*TrustList, error) {
	return NewTrustList(), nil
}
