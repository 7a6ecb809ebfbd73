package files

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
)

// ThumbSide is the largest side of a thumbnail, in pixels.
const ThumbSide = 320

// Thumbnail decodes the first frame of an image (whose header InspectImage
// has accepted) and returns it scaled to fit ThumbSide×ThumbSide, encoded
// anew: JPEG, or PNG when it has transparency. Go's encoders write pixels
// only, so no EXIF, GPS or other metadata of the original survives. It
// returns the encoded bytes and their content type. Decoding holds the
// whole frame in memory (about 4 bytes a pixel), which is why callers
// bound the pixels first and make one thumbnail at a time (see thumbSlots).
func Thumbnail(r io.Reader) ([]byte, string, error) {
	src, _, err := image.Decode(r)
	if err != nil {
		return nil, "", ErrNotImage
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, "", ErrNotImage
	}
	if w > ThumbSide || h > ThumbSide {
		if w >= h {
			w, h = ThumbSide, max(1, h*ThumbSide/w)
		} else {
			w, h = max(1, w*ThumbSide/h), ThumbSide
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)

	var out bytes.Buffer
	if opaque(dst) {
		rgb := image.NewRGBA(dst.Bounds())
		draw.Draw(rgb, rgb.Bounds(), &image.Uniform{C: color.White}, image.Point{}, draw.Src)
		draw.Draw(rgb, rgb.Bounds(), dst, image.Point{}, draw.Over)
		if err := jpeg.Encode(&out, rgb, &jpeg.Options{Quality: 85}); err != nil {
			return nil, "", err
		}
		return out.Bytes(), "image/jpeg", nil
	}
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, dst); err != nil {
		return nil, "", err
	}
	return out.Bytes(), "image/png", nil
}

func opaque(m *image.NRGBA) bool {
	for i := 3; i < len(m.Pix); i += 4 {
		if m.Pix[i] != 0xff {
			return false
		}
	}
	return true
}

// thumbSlots bounds how many thumbnails are decoded at once: each holds a
// whole decoded frame (up to Limits.MaxPixels × 4 bytes).
type thumbSlots chan struct{}

func (s thumbSlots) acquire(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s thumbSlots) release() { <-s }
