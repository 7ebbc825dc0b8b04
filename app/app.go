// Package app is the running program without pixels: it opens and locks
// wallets, runs the use cases the desktop window and the command line share,
// and (through app/peer) talks to other peers. It never imports Fyne.
package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// DefaultDir is where the wallet lives unless MEDWALLET_HOME or --wallet
// says otherwise: the platform's per-user data directory.
func DefaultDir() string {
	if d := os.Getenv("MEDWALLET_HOME"); d != "" {
		return d
	}
	return DataDir("medwallet")
}

// DataDir is the directory name under the platform's per-user data
// directory: Application Support on macOS, LOCALAPPDATA on Windows,
// $XDG_DATA_HOME or ~/.local/share elsewhere.
func DataDir(name string) string {
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", name)
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, name)
		}
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, name)
	}
	return filepath.Join(home, ".local", "share", name)
}

// Session is an unlocked wallet with its idle timer. When the timer fires
// (or Lock is called) the wallet is closed, its keys zeroed, and every
// OnLock callback runs so that screens can drop decrypted data.
type Session struct {
	Wallet *wallet.Wallet

	mu sync.Mutex
	// peer is the wallet's running peer, once StartPeer has run. StartPeer
	// sets it on whatever goroutine starts the peer while screens read it,
	// so it is read and written only under mu (through Peer and setPeer).
	peer    *Peer
	idle    time.Duration
	timer   *time.Timer
	onLock  []func()
	closers []func()
	locked  bool
	busy    int
	// lockedC is closed when the session locks (made on first use).
	lockedC chan struct{}
}

// NewSession wraps an open wallet. Auto-lock follows the wallet's setting.
func NewSession(w *wallet.Wallet) *Session {
	s := &Session{Wallet: w}
	s.SetIdle(time.Duration(w.Settings().AutoLockMinutes) * time.Minute)
	// Unlocking a large wallet allocates far more than the index it keeps;
	// give the transient memory back once the first screen is up.
	time.AfterFunc(2*time.Second, freeUnlockMemory)
	return s
}

// ErrSessionLocked is returned by use cases run on a locked session.
var ErrSessionLocked = errors.New("the wallet is locked; unlock it to continue")

// SetIdle sets the auto-lock delay; 0 turns auto-lock off.
func (s *Session) SetIdle(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = d
	s.resetLocked()
}

func (s *Session) resetLocked() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.idle > 0 && !s.locked {
		s.timer = time.AfterFunc(s.idle, s.idleExpired)
	}
}

func (s *Session) idleExpired() {
	// Long work (an import, a backup) counts as activity; waiting on the
	// network does not (see untilLocked).
	if !s.lock(true) {
		s.Touch()
	}
}

// Touch records user activity and restarts the idle timer.
func (s *Session) Touch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// Busy marks long-running work; the returned function ends it. A busy
// session does not auto-lock.
func (s *Session) Busy() func() {
	done, _ := s.busyUnlessLocked()
	return done
}

// busyUnlessLocked marks long-running work, as Busy does, unless the session
// has already locked: checking and marking at once, so that auto-lock cannot
// slip in between.
func (s *Session) busyUnlessLocked() (func(), error) {
	s.mu.Lock()
	if s.locked {
		s.mu.Unlock()
		return func() {}, ErrSessionLocked
	}
	s.busy++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.busy--
		s.mu.Unlock()
		s.Touch()
	}, nil
}

// untilLocked returns a context that ends, with ErrSessionLocked as its
// cause, when the session locks: network waits run under it and are not
// marked Busy, so a peer that trickles bytes cannot keep the wallet open.
func (s *Session) untilLocked(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	s.mu.Lock()
	if s.lockedC == nil { // not locked yet: Lock closes what it finds
		s.lockedC = make(chan struct{})
	}
	lockedC := s.lockedC
	s.mu.Unlock()
	go func() {
		select {
		case <-lockedC:
			cancel(ErrSessionLocked)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// OnLock registers fn to run when the session locks.
func (s *Session) OnLock(fn func()) {
	s.mu.Lock()
	s.onLock = append(s.onLock, fn)
	s.mu.Unlock()
}

// OnClose registers fn to run before the wallet closes (peers, sockets).
func (s *Session) OnClose(fn func()) {
	s.mu.Lock()
	s.closers = append(s.closers, fn)
	s.mu.Unlock()
}

// Peer is the session's running peer, or nil before StartPeer has run.
func (s *Session) Peer() *Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer
}

// setPeer records the session's running peer (nil: none).
func (s *Session) setPeer(p *Peer) {
	s.mu.Lock()
	s.peer = p
	s.mu.Unlock()
}

// Locked reports whether the session has been locked.
func (s *Session) Locked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locked
}

// Lock closes the wallet, zeroing its keys, and runs the OnLock callbacks.
func (s *Session) Lock() { s.lock(false) }

// lock locks the session; unlessBusy leaves a busy session open. It
// reports whether the session is locked when it returns.
func (s *Session) lock(unlessBusy bool) bool {
	s.mu.Lock()
	if s.locked {
		s.mu.Unlock()
		return true
	}
	if unlessBusy && s.busy > 0 {
		s.mu.Unlock()
		return false
	}
	s.locked = true
	lockedC := s.lockedC
	if lockedC == nil {
		lockedC = make(chan struct{})
		s.lockedC = lockedC
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	closers, onLock := s.closers, s.onLock
	s.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	keepFront(s.Wallet)
	s.Wallet.Close()
	// Network waits end once the wallet is closed, so none outlives it.
	close(lockedC)
	for _, fn := range onLock {
		fn()
	}
	return true
}

// CheckSecret verifies a passphrase (or, with recovery, a recovery key's
// text) against the wallet's header without changing anything.
func (s *Session) CheckSecret(secret []byte, recovery bool) error {
	h := s.Wallet.Header()
	if recovery {
		rk, err := keys.ParseRecoveryKey(string(secret))
		if err != nil {
			return err
		}
		m, err := h.UnlockRecovery(rk)
		if err != nil {
			return err
		}
		m.Wipe()
		return nil
	}
	m, err := h.Unlock(secret)
	if err != nil {
		return err
	}
	m.Wipe()
	return nil
}

// OpenWithRecoveryText unlocks the wallet in dir with a recovery key typed
// by hand.
func OpenWithRecoveryText(dir, text string) (*wallet.Wallet, error) {
	return OpenWithRecoveryTextOptions(dir, text, wallet.OpenOptions{})
}

// OpenWithRecoveryTextOptions is OpenWithRecoveryText with options.
func OpenWithRecoveryTextOptions(dir, text string, o wallet.OpenOptions) (*wallet.Wallet, error) {
	rk, err := keys.ParseRecoveryKey(text)
	if err != nil {
		return nil, err
	}
	return wallet.OpenWithRecoveryKeyOptions(dir, rk, o)
}
