// Command medwallet is the Medwallet desktop application. With no command
// it opens the window (on --wallet DIR, unlocked directly with
// --passphrase-file); with a command it runs the command line.
package main

import (
	"fmt"
	"os"

	fyneapp "fyne.io/fyne/v2/app"

	"medwallet/app/cli"
	"medwallet/ui"
)

func main() {
	req, window, err := cli.WindowArgs(cli.Default(), os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "medwallet: %v\nRun medwallet help for the commands and flags.\n", err)
		os.Exit(2)
	}
	if !window {
		os.Exit(cli.Main(os.Args[1:]))
	}
	a := fyneapp.NewWithID(ui.AppID)
	ui.Run(a, ui.Start{Dir: req.Dir, Secret: req.Secret, Recovery: req.Recovery})
}
