package otp

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxQRSize is the largest image QRPNG draws, to bound memory use.
const MaxQRSize = 4096

// QRPNG returns a PNG image, size×size pixels, of a QR code holding content
// (typically the result of URL), with error correction level M and the
// four-module quiet zone scanners need. Modules are drawn as whole pixel
// squares, centred, so the code stays sharp at any size; if size is smaller
// than the code's module count (including the quiet zone) an error is
// returned instead of a blurred image. An error is also returned for a size
// outside 1…MaxQRSize and for content too long for a QR code.
func QRPNG(content string, size int) ([]byte, error) {
	if size < 1 || size > MaxQRSize {
		return nil, fmt.Errorf("otp: QR image size %d outside 1…%d", size, MaxQRSize)
	}
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("otp: QR code: %w", err)
	}
	bits := q.Bitmap() // includes the quiet zone
	n := len(bits)
	if size < n {
		return nil, fmt.Errorf("otp: QR image size %d is too small for this content; need at least %d", size, n)
	}
	scale := size / n
	off := (size - scale*n) / 2

	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	// Index 0 (white) is the zero value, so only dark modules are drawn.
	for y, row := range bits {
		for x, dark := range row {
			if !dark {
				continue
			}
			for py := off + y*scale; py < off+(y+1)*scale; py++ {
				i := img.PixOffset(off+x*scale, py)
				for px := 0; px < scale; px++ {
					img.Pix[i+px] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("otp: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}
