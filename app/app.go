// Package app is the running program without pixels: it opens and locks
// wallets, runs the use cases the desktop window and the command line share,
// and (through app/peer) talks to other peers. It never imports Fyne.
package app

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
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
	// Peer is the wallet's running peer, once StartPeer has run.
	Peer *Peer

	mu      sync.Mutex
	idle    time.Duration
	timer   *time.Timer
	onLock  []func()
	closers []func()
	locked  bool
	busy    int
}

// NewSession wraps an open wallet. Auto-lock follows the wallet's setting.
func NewSession(w *wallet.Wallet) *Session {
	s := &Session{Wallet: w}
	s.SetIdle(time.Duration(w.Settings().AutoLockMinutes) * time.Minute)
	// Unlocking a large wallet allocates far more than the index it keeps;
	// give the transient memory back once the first screen is up.
	time.AfterFunc(2*time.Second, debug.FreeOSMemory)
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
	s.mu.Lock()
	busy := s.busy > 0
	s.mu.Unlock()
	if busy {
		// Long work (an import, a backup) counts as activity.
		s.Touch()
		return
	}
	s.Lock()
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
	s.mu.Lock()
	s.busy++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.busy--
		s.mu.Unlock()
		s.Touch()
	}
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

// Locked reports whether the session has been locked.
func (s *Session) Locked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locked
}

// Lock closes the wallet, zeroing its keys, and runs the OnLock callbacks.
func (s *Session) Lock() {
	s.mu.Lock()
	if s.locked {
		s.mu.Unlock()
		return
	}
	s.locked = true
	if s.timer != nil {
		s.timer.Stop()
	}
	closers, onLock := s.closers, s.onLock
	s.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	s.Wallet.Close()
	for _, fn := range onLock {
		fn()
	}
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
