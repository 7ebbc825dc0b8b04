package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"

	"medwallet/app"
	"medwallet/app/cli"
	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// shell is the bridge between the window and the work: it decides which
// screen shows, holds the unlocked session, and runs long work off the UI
// goroutine. Screens call it; it calls app and wallet.
type shell struct {
	app fyne.App
	win fyne.Window
	dir string
	// kdf derives keys for new wallets and new passphrases. Tests use cheap
	// parameters; the window uses keys.DefaultKDF.
	kdf keys.KDF
	// noPeer keeps tests off the network.
	noPeer bool
	// auditDelay is how long after the first screen has its content the
	// integrity audit waits (tests: 0): the window paints first, and the
	// person's first look around stays quick, as the wallet's own index
	// check waits too (wallet.indexCheckDelay).
	auditDelay time.Duration
	// frontFrom is the size of wallet from which an unlock shows the front
	// it kept (frontRecords; tests lower it).
	frontFrom int
	// peerOptions say how the wallet's peer runs (tests listen on loopback).
	peerOptions app.PeerOptions

	// startSecret unlocks the wallet without the unlock screen's field
	// (--passphrase-file); cleared once tried.
	startSecret   []byte
	startRecovery bool

	// Touched only on the UI goroutine.
	// theme is the theme choice in use, once themed (applyTheme).
	theme   string
	themed  bool
	session *app.Session
	pending *wallet.Wallet // created, its recovery key not yet confirmed
	name    string
	main    *mainScreen
	// The screens of the locked states, while they show (tests type into
	// them).
	createScreen   *createScreen
	recoveryScreen *recoveryScreen
	unlockScreen   *unlockScreen
	front          *frontScreen // the kept front, while it shows during an unlock
	restoring      *restoreForm // the restore form last opened
	menu           *menus
	lastTouch      time.Time
	// copied are the share links and recovery keys this window put on the
	// clipboard; locking clears the clipboard if it still holds one.
	copied []string

	// work counts background goroutines so tests can wait for them;
	// running counts them too, for tests that poll instead of waiting.
	work    sync.WaitGroup
	running atomic.Int64
	// asking counts background work waiting for the person's answer to a
	// question (ask): tests answer it instead of waiting for the work.
	asking atomic.Int64
	// post, when set, replaces fyne.Do. Fyne's test driver runs fyne.Do on
	// the calling goroutine; tests post to a queue they run on their own
	// goroutine instead, as the real UI goroutine would.
	post func(func())
}

func newShell(a fyne.App, w fyne.Window, dir string, kdf keys.KDF) *shell {
	return &shell{app: a, win: w, dir: dir, kdf: kdf, name: filepath.Base(dir), peerOptions: app.PeerOptions{},
		auditDelay: 3 * time.Second, frontFrom: frontRecords}
}

// start shows the first screen: creating a wallet, or unlocking one.
func (s *shell) start() {
	s.applyTheme(themeSystem)
	s.wire()
	s.win.SetCloseIntercept(s.quit)
	if wallet.Exists(s.dir) {
		s.showUnlock()
		if secret := s.startSecret; secret != nil {
			s.startSecret = nil
			s.unlockScreen.open(secret, s.startRecovery)
		}
	} else {
		s.showFirstRun()
	}
}

// background runs work on its own goroutine. work updates widgets only
// through fyne.Do.
func (s *shell) background(work func()) {
	s.work.Add(1)
	s.running.Add(1)
	go func() {
		defer s.work.Done()
		defer s.running.Add(-1)
		work()
	}()
}

// ask puts a question to the person from background work: show runs on
// the UI goroutine and calls answer once; ask returns that answer, or
// fallback once ctx ends (the work was cancelled, the wallet locked).
func ask[T any](s *shell, ctx context.Context, fallback T, show func(answer func(T))) T {
	answers := make(chan T, 1)
	// The question counts as waiting from the moment it is posted until it
	// is answered or dropped; the answer stops the count at once, so that a
	// test settling right after answering waits for the work that follows.
	var once sync.Once
	done := func() { once.Do(func() { s.asking.Add(-1) }) }
	defer done()
	s.do(func() {
		show(func(v T) {
			done()
			select {
			case answers <- v:
			default: // answered already
			}
		})
	})
	s.asking.Add(1)
	select {
	case v := <-answers:
		return v
	case <-ctx.Done():
		return fallback
	}
}

// every runs fn on the UI goroutine every d until stop is called. The
// ticking goroutine is not background work: tests wait for what fn starts,
// not for the ticker.
func (s *shell) every(d time.Duration, fn func()) (stop func()) {
	t := time.NewTicker(d)
	done := make(chan struct{})
	go func() {
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.do(func() {
					select {
					case <-done:
					default:
						fn()
					}
				})
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// do runs fn on the UI goroutine, where widgets may change.
func (s *shell) do(fn func()) {
	if s.post != nil {
		s.post(fn)
		return
	}
	fyne.Do(fn)
}

func (s *shell) setTitle() {
	state := "locked"
	if s.session != nil {
		state = "unlocked"
	}
	s.win.SetTitle(fmt.Sprintf("Medwallet — %s (%s)", s.name, state))
}

// show replaces the window's content with a screen of the locked state.
func (s *shell) show(content fyne.CanvasObject) {
	s.win.SetContent(content)
	s.setTitle()
	s.menu.update()
}

// opened makes w the window's wallet: a session with auto-lock, the
// command-line socket, the wallet's theme, and the records screen.
func (s *shell) opened(w *wallet.Wallet) {
	sess := app.NewSession(w)
	s.session = sess
	sess.OnLock(func() { s.do(func() { s.locked(sess) }) })
	if err := cli.ServeControl(context.Background(), sess); err != nil {
		// The window works without it; command-line tools then say the
		// wallet is in use. The error names a path, never health data.
		fmt.Fprintf(os.Stderr, "medwallet: command-line forwarding is off: %v\n", err)
	}
	settings := w.Settings()
	if settings.Name != "" {
		s.name = settings.Name
	}
	s.applyTheme(settings.Theme)
	s.startPeer(sess)
	// The summary shown while the wallet opened (s.front) is the main
	// screen's until one made afresh replaces it, if it needs replacing.
	s.main = newMainScreen(s, sess)
	s.front = nil
	s.win.SetContent(s.main.content)
	s.setTitle()
	s.menu.update()
	s.main.alerts.start()
}

// lock closes the wallet. The session's OnLock callback then drops every
// decrypted thing the screens hold and shows the unlock screen.
func (s *shell) lock() {
	if s.session != nil {
		s.session.Lock()
	}
}

// locked runs on the UI goroutine once sess has locked, by hand or after
// idle time.
func (s *shell) locked(sess *app.Session) {
	if s.session != sess {
		return
	}
	s.session = nil
	s.clearCopiedSecrets()
	if s.main != nil {
		s.main.clear()
		s.main = nil
	}
	s.showUnlock()
}

// quit locks the wallet and ends the program.
func (s *shell) quit() {
	if s.pending != nil {
		s.pending.Close()
		s.pending = nil
	}
	s.lock()
	s.clearCopiedSecrets()
	s.app.Quit()
}

// touch tells the session that the person is active. It is called from
// input callbacks, so it restarts the idle timer at most once a second.
func (s *shell) touch() {
	if s.session == nil {
		return
	}
	now := time.Now()
	if now.Sub(s.lastTouch) < time.Second {
		return
	}
	s.lastTouch = now
	s.session.Touch()
}

// startPeer runs the wallet's peer while the window has it open, so that
// its shares can be fetched, then anchors the log in the background when
// witnesses are configured. The peer stops when the session locks.
func (s *shell) startPeer(sess *app.Session) {
	if s.noPeer {
		return
	}
	opts := app.WindowPeerOptions(sess, s.peerOptions)
	s.background(func() {
		if _, err := app.StartPeer(sess, opts); err != nil {
			// Shares then need a clinic node; creating one says so.
			fmt.Fprintf(os.Stderr, "medwallet: the wallet's peer did not start: %v\n", err)
			return
		}
		s.do(func() {
			if s.session == sess && s.main != nil {
				s.main.anchoring.auto()
			}
		})
	})
}
