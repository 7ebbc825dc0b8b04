package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Theme choices as wallet.Settings.Theme stores them.
const (
	themeSystem = ""
	themeLight  = "light"
	themeDark   = "dark"
)

// medwalletTheme is Fyne's default theme with the colours that text is
// drawn in made readable in both variants: Fyne's light palette draws
// warnings, successes, errors and links below the 4.5:1 contrast that
// WCAG 2 asks of body text (orange on white is 2.2:1), and both palettes
// draw low-importance labels ("No allergies recorded", hints) in the
// colour of disabled controls, at 1.3:1 (light) and 1.6:1 (dark).
// TestThemeTextContrast checks every pair the window draws.
type medwalletTheme struct {
	fyne.Theme
	// variant holds the theme to one variant; follow uses the one the
	// desktop prefers instead.
	variant fyne.ThemeVariant
	follow  bool
}

// newTheme is the window's theme for a wallet's choice (themeSystem,
// themeLight or themeDark).
func newTheme(choice string) medwalletTheme {
	t := medwalletTheme{Theme: theme.DefaultTheme()}
	switch choice {
	case themeLight:
		t.variant = theme.VariantLight
	case themeDark:
		t.variant = theme.VariantDark
	default:
		t.follow = true
	}
	return t
}

// Text colours and the fills that text is drawn on, by variant; every
// other colour is Fyne's. Disabled is readable because labels of low
// importance use it; disabled controls still read as such, lighter than
// the foreground (light) or darker (dark) and without hover or press.
var (
	lightColours = map[fyne.ThemeColorName]color.Color{
		theme.ColorNameForeground:          color.NRGBA{R: 0x26, G: 0x26, B: 0x26, A: 0xff},
		theme.ColorNamePrimary:             color.NRGBA{R: 0x1c, G: 0x5b, B: 0xd6, A: 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{R: 0x1c, G: 0x5b, B: 0xd6, A: 0xff},
		theme.ColorNameForegroundOnPrimary: color.White,
		theme.ColorNameError:               color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff},
		theme.ColorNameForegroundOnError:   color.White,
		theme.ColorNameWarning:             color.NRGBA{R: 0x9c, G: 0x4a, B: 0x00, A: 0xff},
		theme.ColorNameForegroundOnWarning: color.White,
		theme.ColorNameSuccess:             color.NRGBA{R: 0x1e, G: 0x7b, B: 0x34, A: 0xff},
		theme.ColorNameForegroundOnSuccess: color.White,
		theme.ColorNameDisabled:            color.NRGBA{R: 0x66, G: 0x66, B: 0x66, A: 0xff},
		theme.ColorNamePlaceHolder:         color.NRGBA{R: 0x66, G: 0x66, B: 0x66, A: 0xff},
	}
	darkColours = map[fyne.ThemeColorName]color.Color{
		theme.ColorNamePrimary:             color.NRGBA{R: 0x7a, G: 0xa7, B: 0xff, A: 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{R: 0x7a, G: 0xa7, B: 0xff, A: 0xff},
		theme.ColorNameForegroundOnPrimary: color.NRGBA{R: 0x17, G: 0x17, B: 0x18, A: 0xff},
		theme.ColorNameError:               color.NRGBA{R: 0xff, G: 0x7b, B: 0x72, A: 0xff},
		theme.ColorNameWarning:             color.NRGBA{R: 0xff, G: 0xa7, B: 0x26, A: 0xff},
		theme.ColorNameSuccess:             color.NRGBA{R: 0x5f, G: 0xd0, B: 0x68, A: 0xff},
		theme.ColorNameDisabled:            color.NRGBA{R: 0x9a, G: 0x9a, B: 0x9a, A: 0xff},
		theme.ColorNamePlaceHolder:         color.NRGBA{R: 0xa8, G: 0xa8, B: 0xa8, A: 0xff},
	}
)

func (t medwalletTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if !t.follow {
		v = t.variant
	}
	colours := darkColours
	if v == theme.VariantLight {
		colours = lightColours
	}
	if c, ok := colours[n]; ok {
		return c
	}
	return t.Theme.Color(n, v)
}

// applyTheme sets the app's theme from a wallet setting, unless it is the
// theme in use already: setting a theme redraws every widget of the
// window, which the first frame after unlocking need not wait for.
func (s *shell) applyTheme(choice string) {
	if s.themed && s.theme == choice {
		return
	}
	s.app.Settings().SetTheme(newTheme(choice))
	s.theme, s.themed = choice, true
}
