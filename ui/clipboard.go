package ui

// copySecret puts a share link or the recovery key on the clipboard and
// remembers it, so that locking (or quitting) clears the clipboard if it
// still holds what Medwallet put there, and leaves it alone otherwise.
func (s *shell) copySecret(text string) {
	s.app.Clipboard().SetContent(text)
	s.copied = append(s.copied, text)
}

// clearCopiedSecrets empties the clipboard if it holds a secret this
// window copied, and forgets them all.
func (s *shell) clearCopiedSecrets() {
	if len(s.copied) == 0 {
		return
	}
	cb := s.app.Clipboard()
	cur := cb.Content()
	for _, t := range s.copied {
		if cur == t {
			cb.SetContent("")
			break
		}
	}
	s.copied = nil
}
