package files

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"image"
	_ "image/gif" // registers the decoders image.DecodeConfig uses
	_ "image/jpeg"
	_ "image/png"
	"io"
	"sync"

	_ "golang.org/x/image/webp"

	"github.com/chatr/chatr"
)

// Limits bound what an uploaded file may unpack into. Zero values mean the
// defaults in the comments.
type Limits struct {
	MaxSide   int   // widest or tallest image accepted, pixels (16384)
	MaxPixels int64 // width × height of an accepted image (50 million)
	MaxFrames int   // frames of an animated GIF (1000)
	// MaxFramePixels bounds the pixels of all a GIF's frames together, which
	// is what a player has to decode (500 million).
	MaxFramePixels int64
	MaxUnpacked    int64 // total uncompressed size of an archive's entries (1 GiB)
	MaxEntries     int   // entries in an archive (10000)
	MaxRatio       int64 // uncompressed / compressed for an archive over 100 MB unpacked (100)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxSide <= 0 {
		l.MaxSide = 16384
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = 1000
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 10000
	}
	def(&l.MaxPixels, 50_000_000)
	def(&l.MaxFramePixels, 500_000_000)
	def(&l.MaxUnpacked, 1<<30)
	def(&l.MaxRatio, 100)
	return l
}

// ErrNotImage means the bytes do not hold the image their first bytes
// announced; such a file is kept as an opaque download.
var ErrNotImage = errors.New("files: not a decodable image")

// ImageInfo is what an image's header says.
type ImageInfo struct {
	Width, Height int
	Frames        int // 1 for still images
}

// InspectImage reads the header of an image of the sniffed type (and, for
// GIF, walks its blocks without decoding them) and refuses, with an ELIMIT
// error, one that would unpack into more than lim allows. ErrNotImage if the
// header does not parse.
func InspectImage(r io.Reader, sniffed string, lim Limits) (ImageInfo, error) {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(r, 4096)
	cfg, format, err := image.DecodeConfig(br)
	if err != nil || "image/"+format != sniffed {
		return ImageInfo{}, ErrNotImage
	}
	info := ImageInfo{Width: cfg.Width, Height: cfg.Height, Frames: 1}
	if err := lim.checkSize(info.Width, info.Height); err != nil {
		return info, err
	}
	if format == "gif" {
		// DecodeConfig stopped after the screen descriptor: the blocks follow.
		frames, err := gifFrames(br, lim)
		if err != nil {
			return info, err
		}
		info.Frames = frames
	}
	return info, nil
}

func (l Limits) checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return ErrNotImage
	}
	if w > l.MaxSide || h > l.MaxSide || int64(w)*int64(h) > l.MaxPixels {
		return chatr.Errorf(chatr.ELIMIT, "image is %d×%d pixels; the limit is %d pixels a side and %d in all", w, h, l.MaxSide, l.MaxPixels)
	}
	return nil
}

// gifFrames counts the frames of a GIF whose header and logical screen
// descriptor (with its global color table) have been read, skipping every
// block by its length. It holds no frame in memory.
func gifFrames(r *bufio.Reader, lim Limits) (int, error) {
	frames := 0
	var pixels int64
	for {
		b, err := r.ReadByte()
		if err != nil {
			return frames, ErrNotImage
		}
		switch b {
		case 0x21: // extension: label, then data sub-blocks
			if _, err := r.ReadByte(); err != nil {
				return frames, ErrNotImage
			}
			if err := skipSubBlocks(r); err != nil {
				return frames, err
			}
		case 0x2C: // image descriptor
			var d [9]byte
			if _, err := io.ReadFull(r, d[:]); err != nil {
				return frames, ErrNotImage
			}
			w, h := int(binary.LittleEndian.Uint16(d[4:])), int(binary.LittleEndian.Uint16(d[6:]))
			if err := lim.checkSize(max(w, 1), max(h, 1)); err != nil {
				return frames, err
			}
			frames++
			pixels += int64(w) * int64(h)
			if frames > lim.MaxFrames {
				return frames, chatr.Errorf(chatr.ELIMIT, "animation has more than %d frames", lim.MaxFrames)
			}
			if pixels > lim.MaxFramePixels {
				return frames, chatr.Errorf(chatr.ELIMIT, "animation has more than %d pixels in all its frames", lim.MaxFramePixels)
			}
			if d[8]&0x80 != 0 { // local color table
				if _, err := r.Discard(3 << ((d[8] & 7) + 1)); err != nil {
					return frames, ErrNotImage
				}
			}
			if _, err := r.ReadByte(); err != nil { // LZW minimum code size
				return frames, ErrNotImage
			}
			if err := skipSubBlocks(r); err != nil {
				return frames, err
			}
		case 0x3B: // trailer
			if frames == 0 {
				return 0, ErrNotImage
			}
			return frames, nil
		default:
			if frames > 0 {
				return frames, nil // trailing garbage after frames: browsers show what came before
			}
			return frames, ErrNotImage
		}
	}
}

func skipSubBlocks(r *bufio.Reader) error {
	for {
		n, err := r.ReadByte()
		if err != nil {
			return ErrNotImage
		}
		if n == 0 {
			return nil
		}
		if _, err := r.Discard(int(n)); err != nil {
			return ErrNotImage
		}
	}
}

// InspectArchive reads the central directory of a zip archive (also
// docx, xlsx, odt, jar, ...) without unpacking anything and refuses, with
// an ELIMIT error, one that claims to unpack into more than lim allows: a
// zip bomb. Unpacking is the downloader's business, but Chatr will not
// carry a file built to knock over whoever opens it. A file that is not a
// readable zip is not refused: it is served as an opaque download.
func InspectArchive(r io.ReaderAt, size int64, lim Limits) error {
	lim = lim.withDefaults()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil
	}
	if len(zr.File) > lim.MaxEntries {
		return chatr.Errorf(chatr.ELIMIT, "archive has more than %d entries", lim.MaxEntries)
	}
	var unpacked uint64
	for _, f := range zr.File {
		unpacked += f.UncompressedSize64
		if unpacked > uint64(lim.MaxUnpacked) {
			return chatr.Errorf(chatr.ELIMIT, "archive unpacks into more than %d bytes", lim.MaxUnpacked)
		}
	}
	if unpacked > 100<<20 && unpacked/uint64(max(size, 1)) > uint64(lim.MaxRatio) {
		return chatr.Errorf(chatr.ELIMIT, "archive unpacks into %d times its size", unpacked/uint64(size))
	}
	return nil
}

// InspectGzip refuses a gzip stream whose trailer says it unpacks into
// more than lim allows. The trailer keeps the size modulo 4 GiB, so this
// catches the common bomb, not every one.
func InspectGzip(r io.ReaderAt, size int64, lim Limits) error {
	lim = lim.withDefaults()
	if size < 18 {
		return nil
	}
	var tail [4]byte
	if _, err := r.ReadAt(tail[:], size-4); err != nil {
		return nil
	}
	unpacked := int64(binary.LittleEndian.Uint32(tail[:]))
	if unpacked > lim.MaxUnpacked || (unpacked > 100<<20 && unpacked/size > lim.MaxRatio) {
		return chatr.Errorf(chatr.ELIMIT, "compressed file unpacks into %d bytes", unpacked)
	}
	return nil
}

// readerAt gives ReadAt to a blob reader that only seeks.
func readerAt(r io.ReadSeeker) io.ReaderAt {
	if ra, ok := r.(io.ReaderAt); ok {
		return ra
	}
	return &seekReaderAt{r: r}
}

type seekReaderAt struct {
	mu sync.Mutex
	r  io.ReadSeeker
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(s.r, p)
}
