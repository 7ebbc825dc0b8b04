// Command medwallet is the Medwallet desktop application. With no arguments
// it opens the window; with a subcommand it runs the command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	fyneapp "fyne.io/fyne/v2/app"

	"medwallet/app"
	"medwallet/app/cli"
	"medwallet/ui"
)

func main() {
	if len(os.Args) > 1 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, cli.Default(), os.Args[1:])
		stop()
		os.Exit(code)
	}
	a := fyneapp.NewWithID(ui.AppID)
	ui.Run(a, app.DefaultDir())
}
