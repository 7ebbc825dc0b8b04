package ui

import (
	"context"

	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// networkWork is a button that starts work waiting on the network (making
// a check-in, fetching a share) with its progress bar and its Cancel
// button, shown only while the work runs. Used on the UI goroutine only.
type networkWork struct {
	start     *widget.Button
	cancel    *widget.Button
	progress  *widget.ProgressBarInfinite
	stop      context.CancelFunc
	cancelled bool
}

func newNetworkWork(start *widget.Button) *networkWork {
	n := &networkWork{start: start}
	n.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), n.abort)
	n.cancel.Hide()
	n.progress = widget.NewProgressBarInfinite()
	n.progress.Hide()
	return n
}

// running reports whether work is under way.
func (n *networkWork) running() bool { return n.stop != nil }

// begin shows the work under way and returns its context, which Cancel
// (or abort) ends.
func (n *networkWork) begin() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	n.stop, n.cancelled = cancel, false
	n.start.Disable()
	n.cancel.Show()
	n.progress.Show()
	return ctx
}

// end shows the work over; it reports whether it was cancelled.
func (n *networkWork) end() (cancelled bool) {
	if n.stop != nil {
		n.stop()
		n.stop = nil
	}
	n.start.Enable()
	n.cancel.Hide()
	n.progress.Hide()
	return n.cancelled
}

// abort cancels the work under way, if any.
func (n *networkWork) abort() {
	if n.stop != nil {
		n.cancelled = true
		n.stop()
	}
}
