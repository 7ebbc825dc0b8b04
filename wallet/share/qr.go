package share

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // DecodeQRFile reads JPEG photos
	_ "image/png"  // and PNG screenshots
	"io"
	"os"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	zxdecoder "github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/skip2/go-qrcode"
)

// QR limits.
const (
	// MaxQRImagePixels is the largest image DecodeQR and DecodeQRFile accept
	// (24 megapixels: a 6000x4000 camera photo), checked from the header
	// before decoding.
	MaxQRImagePixels = 24_000_000
	// MaxQRImageMemory bounds what decoding an image may allocate: the
	// decoded pixels at the header's bytes per pixel, plus the greyscale
	// working copies DecodeQR makes. A 24-megapixel 8-bit photo fits; a
	// 16-bit RGBA image of the same size, which no camera writes, does not.
	MaxQRImageMemory = 200 << 20
	// qrWorkingBytesPerPixel is DecodeQR's own use: the greyscale copy, the
	// stretched copy, an inverted copy and the binarizers' luminance.
	qrWorkingBytesPerPixel = 4
	// MaxQRImageFile is the largest image file DecodeQRFile reads.
	MaxQRImageFile = 64 << 20
	// maxQRPixelsPerSide caps EncodeQR's output.
	maxQRPixelsPerSide = 4096
	// decodeWorkingSide is the side length large images are scaled down to
	// before the slower retries.
	decodeWorkingSide = 1200
)

// EncodeQR renders text as a PNG QR code at error correction level M, px
// pixels wide (enlarged if too small to give every module a pixel), and
// reports the QR version used. Text that needs more than version 40 is
// refused; see FitsVersion15 for the size the design aims for.
func EncodeQR(text string, px int) ([]byte, int, error) {
	if px <= 0 || px > maxQRPixelsPerSide {
		return nil, 0, fmt.Errorf("encode QR: size must be 1 to %d pixels, got %d", maxQRPixelsPerSide, px)
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, 0, fmt.Errorf("encode QR: %d bytes need more than version 40 at level M: %w", len(text), ErrTextTooLongForQR)
	}
	png, err := q.PNG(px)
	if err != nil {
		return nil, 0, fmt.Errorf("encode QR: %w", err)
	}
	return png, q.VersionNumber, nil
}

// QRVersion returns the smallest QR version (1–40) that holds text at
// level M, or an error wrapping ErrTextTooLongForQR.
func QRVersion(text string) (int, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return 0, fmt.Errorf("QR version: %w", ErrTextTooLongForQR)
	}
	return q.VersionNumber, nil
}

// FitsVersion15 reports whether text fits a QR code of version 15 or less at
// level M: the size phone cameras and desk scanners read reliably.
func FitsVersion15(text string) bool {
	v, err := QRVersion(text)
	return err == nil && v <= 15
}

// DecodeQR finds and decodes one QR code in img. It tries the image as
// given with both of gozxing's binarizers, then greyscale copies with the
// contrast stretched, scaled (down for large photos, up for tiny crops) and
// inverted (light-on-dark screens), so photographs of screens and printed
// codes read as well as clean renders.
func DecodeQR(img image.Image) (string, error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return "", fmt.Errorf("decode QR: empty image: %w", ErrNoQRCode)
	}
	if int64(b.Dx())*int64(b.Dy()) > MaxQRImagePixels {
		return "", fmt.Errorf("decode QR: image of %dx%d pixels is over the %d megapixel limit: %w", b.Dx(), b.Dy(), MaxQRImagePixels/1_000_000, ErrTooLarge)
	}
	gray := toGray(img)
	if s, ok := decodeLuminance(gray); ok {
		return s, nil
	}
	stretched := stretchContrast(gray)
	candidates := []*image.Gray{stretched}
	side := max(b.Dx(), b.Dy())
	switch {
	case side > decodeWorkingSide:
		f := (side + decodeWorkingSide - 1) / decodeWorkingSide
		small := downscale(stretched, f)
		candidates = append(candidates, small, downscale(stretched, 2*f))
	case side < 400:
		candidates = append(candidates, upscale(stretched, 2))
	default:
		candidates = append(candidates, downscale(stretched, 2))
	}
	for _, c := range candidates {
		if s, ok := decodeLuminance(c); ok {
			return s, nil
		}
	}
	for _, c := range candidates {
		if s, ok := decodeLuminance(invert(c)); ok {
			return s, nil
		}
	}
	// gozxing's finder-pattern search misses about one clean render in a
	// hundred and fifty (a code saved as an image, a screenshot of one):
	// read such an image as nothing but the code, from the bounding box
	// of its dark modules.
	if s, ok := decodePure(gray); ok {
		return s, nil
	}
	// gozxing's own reading of such an image can still misjudge the
	// code's size (about one clean render of version 14 or 15 in a
	// hundred): sample its modules from the finder pattern's width.
	if s, ok := decodeSampled(gray); ok {
		return s, nil
	}
	return "", fmt.Errorf("decode QR: %w", ErrNoQRCode)
}

// decodeSampled reads g as a clean image of one QR code on a light
// background: the dark pixels' bounding box is the code, the top-left
// finder pattern's first row (7 modules) gives the module size, the code's
// side the nearest size a QR code has (17 + 4×version modules), and each
// module is read at its centre.
func decodeSampled(g *image.Gray) (string, bool) {
	b := g.Bounds()
	dark := func(x, y int) bool { return g.GrayAt(x, y).Y < 128 }
	x0, y0, x1, y1 := b.Max.X, b.Max.Y, b.Min.X-1, b.Min.Y-1
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if dark(x, y) {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	if x1 < x0 || y1 < y0 {
		return "", false
	}
	run := 0
	for x := x0; x <= x1 && dark(x, y0); x++ {
		run++
	}
	side := float64(x1 - x0 + 1)
	module := float64(run) / 7
	if module < 1 || side/module > 177+2 {
		return "", false
	}
	version := int((side/module-17)/4 + 0.5)
	if version < 1 || version > 40 {
		return "", false
	}
	dim := 17 + 4*version
	mx, my := side/float64(dim), float64(y1-y0+1)/float64(dim)
	bits, err := gozxing.NewBitMatrix(dim, dim)
	if err != nil {
		return "", false
	}
	for r := range dim {
		for c := range dim {
			if dark(x0+int((float64(c)+0.5)*mx), y0+int((float64(r)+0.5)*my)) {
				bits.Set(c, r)
			}
		}
	}
	res, err := zxdecoder.NewDecoder().Decode(bits, pureHints)
	if err != nil || res.GetText() == "" {
		return "", false
	}
	return res.GetText(), true
}

var pureHints = map[gozxing.DecodeHintType]any{
	gozxing.DecodeHintType_PURE_BARCODE:  true,
	gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
}

// decodePure reads g as an image of a QR code and its quiet zone alone.
func decodePure(g *image.Gray) (string, bool) {
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(gozxing.NewLuminanceSourceFromImage(g)))
	if err != nil {
		return "", false
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, pureHints)
	if err != nil || res.GetText() == "" {
		return "", false
	}
	return res.GetText(), true
}

var qrHints = map[gozxing.DecodeHintType]any{
	gozxing.DecodeHintType_TRY_HARDER:    true,
	gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
}

func decodeLuminance(g *image.Gray) (string, bool) {
	src := gozxing.NewLuminanceSourceFromImage(g)
	binarizers := []gozxing.Binarizer{gozxing.NewHybridBinarizer(src), gozxing.NewGlobalHistgramBinarizer(src)}
	for _, bin := range binarizers {
		bmp, err := gozxing.NewBinaryBitmap(bin)
		if err != nil {
			continue
		}
		res, err := zxqr.NewQRCodeReader().Decode(bmp, qrHints)
		if err == nil && res.GetText() != "" {
			return res.GetText(), true
		}
	}
	return "", false
}

// DecodeQRFile decodes the QR code in a PNG or JPEG file, refusing files
// over MaxQRImageFile bytes and images over MaxQRImagePixels before decoding
// their pixels.
func DecodeQRFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("decode QR file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxQRImageFile+1))
	if err != nil {
		return "", fmt.Errorf("decode QR file %s: %w", path, err)
	}
	if len(data) > MaxQRImageFile {
		return "", fmt.Errorf("decode QR file %s: over %d MiB: %w", path, MaxQRImageFile>>20, ErrTooLarge)
	}
	s, err := DecodeQRBytes(data)
	if err != nil {
		return "", fmt.Errorf("decode QR file %s: %w", path, err)
	}
	return s, nil
}

// DecodeQRBytes decodes the QR code in PNG or JPEG bytes (a pasted or
// dropped image), with the same limits as DecodeQRFile.
func DecodeQRBytes(data []byte) (string, error) {
	if len(data) > MaxQRImageFile {
		return "", fmt.Errorf("image over %d MiB: %w", MaxQRImageFile>>20, ErrTooLarge)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("not a PNG or JPEG image: %w", err)
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", fmt.Errorf("%s image of %dx%d pixels is empty: %w", format, cfg.Width, cfg.Height, ErrNoQRCode)
	}
	if pixels > MaxQRImagePixels {
		return "", fmt.Errorf("%s image of %dx%d pixels is over the %d megapixel limit: crop it to the code, or take the photo at a lower resolution: %w",
			format, cfg.Width, cfg.Height, MaxQRImagePixels/1_000_000, ErrTooLarge)
	}
	if need := pixels * (bytesPerPixel(cfg.ColorModel) + qrWorkingBytesPerPixel); need > MaxQRImageMemory {
		return "", fmt.Errorf("%s image of %dx%d pixels would need %d MiB to decode, over the %d MiB limit: save it as an 8-bit image or crop it to the code: %w",
			format, cfg.Width, cfg.Height, need>>20, MaxQRImageMemory>>20, ErrTooLarge)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%s image is damaged: %w", format, err)
	}
	return DecodeQR(img)
}

// bytesPerPixel is how much the standard decoders allocate per pixel for an
// image of model m; unknown models count as the largest (16-bit RGBA).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel, color.NYCbCrAModel:
		return 4 // 4:4:4 with alpha at worst
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

func toGray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok && g.Rect.Min == (image.Point{}) && g.Stride == g.Rect.Dx() {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, gg, bb, a := img.At(x, y).RGBA()
			// Luma over a white background (transparent pixels are paper).
			l := (299*r + 587*gg + 114*bb) / 1000
			l = (l*a + 0xffff*(0xffff-a)) / 0xffff
			g.Pix[i] = uint8(l >> 8)
			i++
		}
	}
	return g
}

// stretchContrast maps the 1st..99th percentile of brightness onto 0..255,
// which rescues washed-out photos of screens and grey prints.
func stretchContrast(g *image.Gray) *image.Gray {
	var hist [256]int
	for _, p := range g.Pix {
		hist[p]++
	}
	n := len(g.Pix)
	lo, hi := 0, 255
	for acc := 0; lo < 255; lo++ {
		if acc += hist[lo]; acc > n/100 {
			break
		}
	}
	for acc := 0; hi > 0; hi-- {
		if acc += hist[hi]; acc > n/100 {
			break
		}
	}
	out := image.NewGray(g.Rect)
	if hi <= lo {
		copy(out.Pix, g.Pix)
		return out
	}
	var lut [256]uint8
	for v := range 256 {
		switch {
		case v <= lo:
			lut[v] = 0
		case v >= hi:
			lut[v] = 255
		default:
			lut[v] = uint8((v - lo) * 255 / (hi - lo))
		}
	}
	for i, p := range g.Pix {
		out.Pix[i] = lut[p]
	}
	return out
}

// downscale averages f×f blocks (a box filter, which also smooths noise).
func downscale(g *image.Gray, f int) *image.Gray {
	if f <= 1 {
		return g
	}
	w, h := g.Rect.Dx()/f, g.Rect.Dy()/f
	if w < 21 || h < 21 {
		return g
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			sum := 0
			for dy := range f {
				row := g.Pix[(y*f+dy)*g.Stride+x*f:]
				for dx := range f {
					sum += int(row[dx])
				}
			}
			out.Pix[y*out.Stride+x] = uint8(sum / (f * f))
		}
	}
	return out
}

func upscale(g *image.Gray, f int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w*f, h*f))
	for y := range h * f {
		for x := range w * f {
			out.Pix[y*out.Stride+x] = g.Pix[(y/f)*g.Stride+x/f]
		}
	}
	return out
}

func invert(g *image.Gray) *image.Gray {
	out := image.NewGray(g.Rect)
	for i, p := range g.Pix {
		out.Pix[i] = 255 - p
	}
	return out
}
