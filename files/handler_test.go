package files_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/files"
	"github.com/chatr/chatr/internal/memstore"
	"github.com/chatr/chatr/localfs"
)

type env struct {
	h     *files.Handler
	blobs chatr.Blobs
	store *memstore.Store
}

// newEnv serves files for chat "c1", of which only "alice" is a member.
// The signed-in user is the X-User header (the session's job in Chatr).
func newEnv(t testing.TB, cfg files.Config) *env {
	t.Helper()
	blobs, err := localfs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	ctx := context.Background()
	if err := store.CreateChat(ctx, chatr.Chat{ID: "c1", Name: "one", Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := store.AddMember(ctx, "c1", chatr.Member{UserID: "alice", UserName: "Alice"}); err != nil {
		t.Fatal(err)
	}
	cfg.Blobs, cfg.Files = blobs, store
	cfg.User = func(_ http.ResponseWriter, r *http.Request) (string, error) {
		if u := r.Header.Get("X-User"); u != "" {
			return u, nil
		}
		return "", chatr.Errorf(chatr.EUNAUTH, "sign in")
	}
	cfg.IsMember = store.IsMember
	return &env{h: files.NewHandler(cfg), blobs: blobs, store: store}
}

// form returns a multipart body with one file part.
func form(t testing.TB, name, partType string, data []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, strings.NewReplacer(`"`, `\"`, `\`, `\\`).Replace(name)))
	if partType != "" {
		hdr.Set("Content-Type", partType)
	}
	pw, err := mw.CreatePart(hdr)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(data)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func (e *env) do(t testing.TB, method, path, user string, body io.Reader, ct string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, body)
	if user != "" {
		r.Header.Set("X-User", user)
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *env) upload(t testing.TB, name, partType string, data []byte) *httptest.ResponseRecorder {
	t.Helper()
	body, ct := form(t, name, partType, data)
	return e.do(t, "POST", "/api/chats/c1/files", "alice", body, ct)
}

func uploaded(t *testing.T, w *httptest.ResponseRecorder) chatr.Attachment {
	t.Helper()
	if w.Code != http.StatusCreated {
		t.Fatalf("upload: status %d %s, want 201", w.Code, w.Body)
	}
	var u chatr.Attachment
	if err := json.Unmarshal(w.Body.Bytes(), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// refused checks a JSON error answer with the status, and that nothing of
// the upload is left in Blobs or the store.
func (e *env) refused(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d %s, want %d", w.Code, w.Body, status)
	}
	var msg struct{ Error, Message string }
	if err := json.Unmarshal(w.Body.Bytes(), &msg); err != nil || msg.Error == "" || msg.Message == "" {
		t.Errorf("body %q is not a JSON error with a message", w.Body)
	}
	e.empty(t)
}

func (e *env) empty(t *testing.T) {
	t.Helper()
	e.blobs.List(context.Background(), func(info chatr.BlobInfo) error {
		t.Errorf("blob %s (%d bytes) left behind", info.Key, info.Size)
		return nil
	})
	if fs, _ := e.store.ListChatFiles(context.Background(), "c1"); len(fs) != 0 {
		t.Errorf("file rows left behind: %+v", fs)
	}
}

// jpegWithGPS returns a JPEG with an EXIF APP1 segment that holds GPS tags.
func jpegWithGPS(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	payload := append([]byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"), []byte("GPSLatitude 48.8584 N GPSLongitude 2.2945 E")...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(payload)+2))
	app1 = append(app1, payload...)
	b := buf.Bytes()
	return append(append(append([]byte{}, b[:2]...), app1...), b[2:]...)
}

// jpegSegments returns the markers of a JPEG's header segments, up to the
// start of scan.
func jpegSegments(t *testing.T, b []byte) []byte {
	t.Helper()
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		t.Fatalf("not a JPEG: % x", b[:min(len(b), 8)])
	}
	var markers []byte
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			t.Fatalf("bad marker at %d", i)
		}
		m := b[i+1]
		markers = append(markers, m)
		if m == 0xDA {
			break
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	return markers
}

func TestJPEGUploadDownloadAndThumbnailWithoutEXIF(t *testing.T) {
	e := newEnv(t, files.Config{})
	data := jpegWithGPS(t, 640, 480)
	if !bytes.Contains(jpegSegments(t, data), []byte{0xE1}) {
		t.Fatal("test image has no APP1 segment")
	}
	u := uploaded(t, e.upload(t, "holiday.jpg", "image/jpeg", data))
	if u.Type != "image/jpeg" || u.Size != int64(len(data)) || u.Name != "holiday.jpg" || u.Width != 640 || u.Height != 480 || u.ThumbURL == "" {
		t.Errorf("uploaded = %+v", u)
	}

	w := e.do(t, "GET", u.URL, "alice", nil, "")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), data) {
		t.Fatalf("download: status %d, %d bytes; want 200 and the %d bytes uploaded", w.Code, w.Body.Len(), len(data))
	}
	for k, want := range map[string]string{
		"Content-Type":            "image/jpeg",
		"Content-Disposition":     `inline; filename=holiday.jpg`,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	w = e.do(t, "GET", u.ThumbURL, "alice", nil, "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumbnail: status %d type %q", w.Code, w.Header().Get("Content-Type"))
	}
	thumb := w.Body.Bytes()
	if m := jpegSegments(t, thumb); bytes.Contains(m, []byte{0xE1}) {
		t.Errorf("thumbnail keeps an APP1 (EXIF) segment: markers % x", m)
	}
	if bytes.Contains(thumb, []byte("GPS")) || bytes.Contains(thumb, []byte("Exif")) {
		t.Error("thumbnail holds the original's EXIF/GPS bytes")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb))
	if err != nil || cfg.Width != files.ThumbSide || cfg.Height != 240 {
		t.Errorf("thumbnail is %dx%d (%v), want %dx240", cfg.Width, cfg.Height, err, files.ThumbSide)
	}
}

func TestRangeDownload(t *testing.T) {
	e := newEnv(t, files.Config{})
	data := []byte(strings.Repeat("0123456789", 100))
	u := uploaded(t, e.upload(t, "digits.txt", "", data))
	w := e.do(t, "GET", u.URL, "alice", nil, "", "Range", "bytes=15-24")
	if w.Code != http.StatusPartialContent || w.Body.String() != "5678901234" {
		t.Errorf("range: status %d body %q, want 206 %q", w.Code, w.Body, "5678901234")
	}
	if got := w.Header().Get("Content-Disposition"); got != "attachment; filename=digits.txt" {
		t.Errorf("Content-Disposition = %q", got)
	}
	if got := w.Header().Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
}

// The bad-input catalogue: what a hostile or broken client sends.
func TestUploadNeverServesActiveContent(t *testing.T) {
	pngHead := []byte("\x89PNG\r\n\x1a\n")
	tests := []struct {
		name, file, partType string
		data                 []byte
		wantType             string // as sniffed and recorded
	}{
		{"spoofed content type", "page.png", "image/png", []byte("<html><script>alert(document.cookie)</script></html>"), "text/html; charset=utf-8"},
		{"HTML named .png", "cat.png", "", []byte("<!DOCTYPE html><html><body onload=alert(1)>"), "text/html; charset=utf-8"},
		{"SVG with script", "logo.svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "image/svg+xml"},
		{"SVG behind an XML prolog", "logo.png", "image/png", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "image/svg+xml"},
		{"HTML after blank lines", "notes.txt", "text/plain", []byte("\n\n\n   hello\n<script>alert(1)</script>"), "text/html; charset=utf-8"},
		{"PNG magic then HTML", "x.png", "image/png", append(append([]byte{}, pngHead...), "<html><script>alert(1)</script>"...), "application/octet-stream"},
		{"JavaScript", "a.js", "application/javascript", []byte("alert(document.domain)"), "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, files.Config{})
			u := uploaded(t, e.upload(t, tt.file, tt.partType, tt.data))
			if u.Type != tt.wantType {
				t.Errorf("type = %q, want %q", u.Type, tt.wantType)
			}
			if u.ThumbURL != "" {
				t.Errorf("thumbnail made for %s", tt.name)
			}
			w := e.do(t, "GET", u.URL, "alice", nil, "")
			ct := w.Header().Get("Content-Type")
			if ct != "application/octet-stream" && ct != "text/plain; charset=utf-8" {
				t.Errorf("served as %q", ct)
			}
			if cd := w.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
				t.Errorf("Content-Disposition = %q, want attachment", cd)
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("safety headers missing: %v", w.Header())
			}
		})
	}
}

func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := func(typ string, data []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		out = append(out, typ...)
		out = append(out, data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	return append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
}

func gifFrames(t testing.TB, n int) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White}
	g := &gif.GIF{}
	for range n {
		g.Image = append(g.Image, image.NewPaletted(image.Rect(0, 0, 1, 1), pal))
		g.Delay = append(g.Delay, 0)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipBomb claims entries that unpack to 4 GiB each, with a few bytes of
// data: the central directory is all a check may read.
func zipBomb(t testing.TB, entries int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range entries {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("%d.bin", i), Method: zip.Deflate,
			CompressedSize64: 5, UncompressedSize64: 4 << 30})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte{1, 0, 0, 0xff, 0xff})
	}
	zw.Close()
	return buf.Bytes()
}

func TestBombsAreRefused(t *testing.T) {
	tests := []struct {
		name, file string
		data       []byte
	}{
		{"PNG 100000x100000", "big.png", pngHeader(100_000, 100_000)},
		{"PNG 15000x15000 (too many pixels)", "big.png", pngHeader(15_000, 15_000)},
		{"GIF with 1001 frames", "anim.gif", gifFrames(t, 1001)},
		{"zip that unpacks to 4 GiB", "docs.zip", zipBomb(t, 1)},
		{"zip with 10001 entries", "many.zip", func() []byte {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for i := range 10_001 {
				zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprint(i), Method: zip.Store})
			}
			zw.Close()
			return buf.Bytes()
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, files.Config{})
			e.refused(t, e.upload(t, tt.file, "", tt.data), http.StatusRequestEntityTooLarge)
		})
	}
	t.Run("within the limits", func(t *testing.T) {
		e := newEnv(t, files.Config{})
		u := uploaded(t, e.upload(t, "anim.gif", "", gifFrames(t, 50)))
		if u.Type != "image/gif" || u.ThumbURL == "" {
			t.Errorf("50-frame GIF: %+v", u)
		}
		var small bytes.Buffer
		zw := zip.NewWriter(&small)
		fw, _ := zw.Create("readme.txt")
		fw.Write([]byte("hello"))
		zw.Close()
		if u := uploaded(t, e.upload(t, "ok.zip", "", small.Bytes())); u.Type != "application/zip" {
			t.Errorf("zip: %+v", u)
		}
	})
}

func TestTooLarge(t *testing.T) {
	data := make([]byte, 26<<20) // 26 MiB against the 25 MiB default
	t.Run("chunked", func(t *testing.T) {
		e := newEnv(t, files.Config{})
		body, ct := form(t, "big.bin", "", data)
		r := httptest.NewRequest("POST", "/api/chats/c1/files", io.MultiReader(body)) // no length known
		r.ContentLength = -1
		r.Header.Set("X-User", "alice")
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		e.refused(t, w, http.StatusRequestEntityTooLarge)
	})
	t.Run("declared length", func(t *testing.T) {
		e := newEnv(t, files.Config{})
		body, ct := form(t, "big.bin", "", data)
		e.refused(t, e.do(t, "POST", "/api/chats/c1/files", "alice", body, ct), http.StatusRequestEntityTooLarge)
	})
	t.Run("exactly the limit", func(t *testing.T) {
		e := newEnv(t, files.Config{MaxUploadBytes: 1000})
		uploaded(t, e.upload(t, "edge.bin", "", make([]byte, 1000)))
		e2 := newEnv(t, files.Config{MaxUploadBytes: 1000})
		e2.refused(t, e2.upload(t, "edge.bin", "", make([]byte, 1001)), http.StatusRequestEntityTooLarge)
	})
	t.Run("quota", func(t *testing.T) {
		e := newEnv(t, files.Config{QuotaBytes: 1500})
		uploaded(t, e.upload(t, "one.bin", "", make([]byte, 1000)))
		w := e.upload(t, "two.bin", "", make([]byte, 1000))
		if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "quota") {
			t.Errorf("over quota: %d %s", w.Code, w.Body)
		}
		if fs, _ := e.store.ListChatFiles(context.Background(), "c1"); len(fs) != 1 {
			t.Errorf("%d files stored, want 1", len(fs))
		}
	})
}

func TestTruncatedAndMalformedBodies(t *testing.T) {
	body, ct := form(t, "doc.pdf", "", bytes.Repeat([]byte("%PDF-1.7 lots of data "), 10_000))
	full, _ := io.ReadAll(body)
	tests := []struct {
		name string
		body []byte
		ct   string
	}{
		{"cut in the file", full[:len(full)/2], ct},
		{"closing boundary missing", full[:len(full)-10], ct},
		{"not multipart", []byte("just bytes"), "application/octet-stream"},
		{"no boundary", full, "multipart/form-data"},
		{"no file part", []byte("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--b--\r\n"), "multipart/form-data; boundary=b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, files.Config{})
			e.refused(t, e.do(t, "POST", "/api/chats/c1/files", "alice", bytes.NewReader(tt.body), tt.ct), http.StatusBadRequest)
		})
	}
}

func TestFileNamesAreMadeSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"../../etc/passwd", "passwd"},
		{`..\..\windows\win.ini`, "win.ini"},
		{"/abs/path/report.pdf", "report.pdf"},
		{"..", "file"},
		{"evil\u202Egnp.exe", "evilgnp.exe"},
		{"line\r\nbreak.txt", "linebreak.txt"},
		{"naïve résumé.pdf", "naïve résumé.pdf"},
		{"  .hidden. ", "hidden"},
		{"bad\xffutf8.txt", "badutf8.txt"},
		{strings.Repeat("é", 150), strings.Repeat("é", 100)},
	}
	for _, tt := range tests {
		if got := files.SafeName(tt.in); got != tt.want {
			t.Errorf("SafeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	e := newEnv(t, files.Config{})
	u := uploaded(t, e.upload(t, "../../../tmp/naïve \"quoted\".txt", "", []byte("hi")))
	w := e.do(t, "GET", u.URL, "alice", nil, "")
	if got, want := w.Header().Get("Content-Disposition"), `attachment; filename*=utf-8''na%C3%AFve%20%22quoted%22.txt`; got != want {
		t.Errorf("Content-Disposition = %q, want %q", got, want)
	}
	e.blobs.List(context.Background(), func(info chatr.BlobInfo) error {
		if !strings.HasPrefix(info.Key, "f/") || strings.Contains(info.Key, "tmp") {
			t.Errorf("blob key %q comes from the client's name", info.Key)
		}
		return nil
	})
}

func TestOnlyMembersSeeFiles(t *testing.T) {
	e := newEnv(t, files.Config{})
	u := uploaded(t, e.upload(t, "secret.txt", "", []byte("for members")))
	for _, path := range []string{u.URL, "/api/files/nosuchfile"} {
		if w := e.do(t, "GET", path, "mallory", nil, ""); w.Code != http.StatusNotFound {
			t.Errorf("GET %s by a non-member: %d, want 404", path, w.Code)
		}
	}
	if w := e.do(t, "GET", u.URL, "", nil, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("GET without a session: %d, want 401", w.Code)
	}
	body, ct := form(t, "x.txt", "", []byte("x"))
	if w := e.do(t, "POST", "/api/chats/c1/files", "mallory", body, ct); w.Code != http.StatusNotFound {
		t.Errorf("upload by a non-member: %d, want 404", w.Code)
	}
	body, ct = form(t, "x.txt", "", []byte("x"))
	if w := e.do(t, "POST", "/api/chats/nochat/files", "alice", body, ct); w.Code != http.StatusNotFound {
		t.Errorf("upload to a missing chat: %d, want 404", w.Code)
	}
	// The file goes with its chat.
	if err := e.store.DeleteChat(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if w := e.do(t, "GET", u.URL, "alice", nil, ""); w.Code != http.StatusNotFound {
		t.Errorf("GET after the chat was deleted: %d, want 404", w.Code)
	}
	n, err := chatr.SweepBlobs(context.Background(), e.blobs, time.Now().Add(time.Minute), e.store.BlobReferenced)
	if err != nil || n != 1 {
		t.Errorf("SweepBlobs = %d, %v; want the file's blob removed", n, err)
	}
}

func TestPNGWithTransparencyKeepsIt(t *testing.T) {
	e := newEnv(t, files.Config{})
	img := image.NewNRGBA(image.Rect(0, 0, 800, 400))
	img.Set(10, 10, color.NRGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	png.Encode(&buf, img)
	u := uploaded(t, e.upload(t, "sticker.png", "", buf.Bytes()))
	w := e.do(t, "GET", u.ThumbURL, "alice", nil, "")
	if w.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("thumbnail type %q, want image/png", w.Header().Get("Content-Type"))
	}
	cfg, err := png.DecodeConfig(w.Body)
	if err != nil || cfg.Width != 320 || cfg.Height != 160 {
		t.Errorf("thumbnail %dx%d (%v), want 320x160", cfg.Width, cfg.Height, err)
	}
}
