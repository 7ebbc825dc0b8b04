// Command medwallet is the Medwallet desktop application. With no arguments
// it opens the window; with a subcommand it runs the command line.
package main

import (
	"os"

	fyneapp "fyne.io/fyne/v2/app"

	"medwallet/app"
	"medwallet/app/cli"
	"medwallet/ui"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(cli.Main(os.Args[1:]))
	}
	a := fyneapp.NewWithID(ui.AppID)
	ui.Run(a, app.DefaultDir())
}
