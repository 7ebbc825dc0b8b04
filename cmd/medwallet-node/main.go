// Command medwallet-node is the clinic's headless peer: a witness for
// patients' logs and a host for encrypted shares, over libp2p and optionally
// HTTPS. See README.md beside this file; everything it does lives in
// medwallet/app/node.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"medwallet/app/node"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := node.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
