package ui

import (
	"fmt"
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// minTextContrast is WCAG 2's AA contrast for body text.
const minTextContrast = 4.5

// textOn are the colours the window draws text in, each with the fills it
// draws that text on: labels of every importance (Disabled is the colour
// of low-importance labels), links, placeholders, and the text of buttons
// of every importance on their fill.
var textOn = []struct {
	text   fyne.ThemeColorName
	fills  []fyne.ThemeColorName
	reason string
}{
	{theme.ColorNameForeground, []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameHeaderBackground,
		theme.ColorNameOverlayBackground, theme.ColorNameMenuBackground, theme.ColorNameInputBackground, theme.ColorNameButton},
		"labels, entries, menus, buttons"},
	{theme.ColorNamePrimary, []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameOverlayBackground}, "high-importance labels"},
	{theme.ColorNameHyperlink, []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameOverlayBackground}, "the summary's lines"},
	{theme.ColorNameError, []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameOverlayBackground}, "danger labels"},
	{theme.ColorNameWarning, []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameOverlayBackground}, "warning labels"},
	{theme.ColorNameSuccess, []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameOverlayBackground}, "success labels"},
	{theme.ColorNameDisabled, []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameOverlayBackground}, "low-importance labels"},
	{theme.ColorNamePlaceHolder, []fyne.ThemeColorName{theme.ColorNameInputBackground}, "placeholders"},
	{theme.ColorNameForegroundOnPrimary, []fyne.ThemeColorName{theme.ColorNamePrimary}, "high-importance buttons"},
	{theme.ColorNameForegroundOnError, []fyne.ThemeColorName{theme.ColorNameError}, "danger buttons"},
	{theme.ColorNameForegroundOnWarning, []fyne.ThemeColorName{theme.ColorNameWarning}, "warning buttons"},
	{theme.ColorNameForegroundOnSuccess, []fyne.ThemeColorName{theme.ColorNameSuccess}, "success buttons"},
}

// TestThemeTextContrast checks that every colour the window draws text in
// stands out from what it is drawn on, by WCAG 2's measure, in the light
// and dark variants and whichever way the variant is chosen.
func TestThemeTextContrast(t *testing.T) {
	test.NewTempApp(t)
	for _, choice := range []string{themeSystem, themeLight, themeDark} {
		th := newTheme(choice)
		for _, v := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
			for _, pair := range textOn {
				for _, fill := range pair.fills {
					fg, bg := th.Color(pair.text, v), th.Color(fill, v)
					if c := contrast(fg, bg); c < minTextContrast {
						t.Errorf("theme %q, variant %d: %s on %s (%s) has contrast %.2f:1, under %.1f:1",
							choice, v, pair.text, fill, pair.reason, c, minTextContrast)
					}
				}
			}
		}
	}
}

// TestThemeChoiceHoldsItsVariant checks that a light or dark choice draws
// in that variant whatever the desktop prefers, and that following the
// system follows it.
func TestThemeChoiceHoldsItsVariant(t *testing.T) {
	test.NewTempApp(t)
	bg := func(choice string, desktop fyne.ThemeVariant) color.Color {
		return newTheme(choice).Color(theme.ColorNameBackground, desktop)
	}
	same := func(a, b color.Color) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
	light, dark := bg(themeSystem, theme.VariantLight), bg(themeSystem, theme.VariantDark)
	if same(light, dark) {
		t.Fatalf("the system choice draws the same background in both variants: %v", light)
	}
	for _, desktop := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
		if !same(bg(themeLight, desktop), light) || !same(bg(themeDark, desktop), dark) {
			t.Errorf("with the desktop in variant %d, light draws %v and dark %v", desktop, bg(themeLight, desktop), bg(themeDark, desktop))
		}
	}
}

// TestContrastMeasure pins the measure itself to WCAG's published values.
func TestContrastMeasure(t *testing.T) {
	for _, c := range []struct {
		a, b color.Color
		want float64
	}{
		{color.Black, color.White, 21},
		{color.White, color.White, 1},
		{color.NRGBA{R: 0x76, G: 0x76, B: 0x76, A: 0xff}, color.White, 4.54},
		{color.NRGBA{R: 0xff, G: 0x98, B: 0x00, A: 0xff}, color.White, 2.16}, // Fyne's light warning
	} {
		if got := contrast(c.a, c.b); math.Abs(got-c.want) > 0.01 {
			t.Errorf("contrast(%v, %v) = %.3f, want %.2f", c.a, c.b, got, c.want)
		}
	}
}

// contrast is WCAG 2's contrast ratio of two colours, a translucent fg
// blended over bg first.
func contrast(fg, bg color.Color) float64 {
	br, bgG, bb, _ := bg.RGBA()
	fr, fgG, fb, fa := fg.RGBA() // premultiplied
	blend := func(f, b uint32) float64 { return (float64(f) + float64(b)*(1-float64(fa)/0xffff)) / 0xffff }
	l1 := luminance(blend(fr, br), blend(fgG, bgG), blend(fb, bb))
	l2 := luminance(float64(br)/0xffff, float64(bgG)/0xffff, float64(bb)/0xffff)
	return (max(l1, l2) + 0.05) / (min(l1, l2) + 0.05)
}

// luminance is the relative luminance of an sRGB colour (components 0–1).
func luminance(r, g, b float64) float64 {
	lin := func(c float64) float64 {
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// TestWindowDrawsInTheWalletsTheme checks that the window uses the
// readable theme from the unlock screen on, and the wallet's choice of
// variant once unlocked and after it changes.
func TestWindowDrawsInTheWalletsTheme(t *testing.T) {
	s := unlocked(t)
	bg := func() string {
		return fmt.Sprint(s.app.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantLight))
	}
	if _, ok := s.app.Settings().Theme().(medwalletTheme); !ok {
		t.Fatalf("the window draws in %T, not the readable theme", s.app.Settings().Theme())
	}
	s.main.settings.theme.SetSelected("Dark")
	if want := fmt.Sprint(newTheme(themeDark).Color(theme.ColorNameBackground, theme.VariantDark)); bg() != want {
		t.Errorf("after choosing Dark the background is %s, want %s", bg(), want)
	}
	s.lock()
	settle(s)
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	if want := fmt.Sprint(newTheme(themeDark).Color(theme.ColorNameBackground, theme.VariantDark)); bg() != want {
		t.Errorf("unlocked again, the wallet's Dark gives background %s, want %s", bg(), want)
	}
}
