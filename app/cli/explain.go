package cli

import "medwallet/app"

// explain renders err for a person: the chain of what failed, then what to
// do, from the advice table the window reads too (app.AdviceFor).
func explain(err error) string {
	msg := err.Error()
	if a, ok := app.AdviceFor(err); ok {
		return msg + ". " + a.ForCommandLine()
	}
	return msg
}
