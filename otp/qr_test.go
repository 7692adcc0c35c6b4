package otp

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("binary bitmap: %v", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		// Fall back to the detector, which a phone camera would use.
		res, err = qrcode.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("decoding QR: %v", err)
		}
	}
	return res.GetText()
}

func TestQRPNG(t *testing.T) {
	contents := []string{
		URL("Gatehouse", "alice@example.com", NewKey(), TOTP{}),
		URL("ACME: Co", "zoë o'brien@example.com", NewKey(), TOTP{Digits: 8, Algorithm: SHA512}),
		"x",
		strings.Repeat("otpauth://", 40),
	}
	for _, content := range contents {
		for _, size := range []int{256, 300, 512} {
			data, err := QRPNG(content, size)
			if err != nil {
				t.Fatalf("QRPNG(%d): %v", size, err)
			}
			if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
				t.Fatal("not a PNG signature")
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("png.Decode: %v", err)
			}
			if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
				t.Errorf("size %d: image is %v", size, b)
			}
			if got := decodeQR(t, img); got != content {
				t.Errorf("size %d: QR decodes to %q, want %q", size, got, content)
			}
		}
	}
}

func TestQRPNGErrors(t *testing.T) {
	content := URL("Gatehouse", "alice@example.com", NewKey(), TOTP{})
	for _, size := range []int{0, -5, MaxQRSize + 1, 20} {
		if _, err := QRPNG(content, size); err == nil {
			t.Errorf("QRPNG size %d: no error", size)
		}
	}
	if _, err := QRPNG(strings.Repeat("x", 5000), 1024); err == nil {
		t.Error("QRPNG accepted content too long for a QR code")
	}
}
