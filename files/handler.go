package files

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatr/chatr"
)

// DefaultMaxUploadBytes is the largest upload accepted when Config leaves
// MaxUploadBytes zero: 25 MiB.
const DefaultMaxUploadBytes = 25 << 20

// formOverhead is what a multipart body may carry beyond the file itself:
// boundaries, part headers and small form fields.
const formOverhead = 64 << 10

// maxParts bounds the parts of one upload form; each non-file part is
// read and dropped, up to maxFieldBytes.
const (
	maxParts      = 8
	maxFieldBytes = 8 << 10
)

// fileCSP is the policy on every file response: a file opened as a page
// runs nothing, loads nothing and gets an opaque origin.
const fileCSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"

// Config is what the file handler needs. Blobs, Files, User and IsMember
// are required; zero values of the others mean their defaults.
type Config struct {
	Blobs chatr.Blobs
	Files chatr.FileStore
	// User returns the ID of the signed-in user of r from its session, or
	// an error (EUNAUTH) when there is none.
	User func(w http.ResponseWriter, r *http.Request) (string, error)
	// IsMember reports whether the user may see the chat's files.
	IsMember func(ctx context.Context, chatID, userID string) (bool, error)

	MaxUploadBytes int64 // DefaultMaxUploadBytes
	// QuotaBytes bounds the total size of one user's files; 0 means none.
	QuotaBytes int64
	// UploadsPerMinute bounds the uploads of one user, and of one client
	// address, each with a burst of as many (DefaultUploadsPerMinute;
	// negative: no limit). Refused uploads count too.
	UploadsPerMinute float64
	// ClientAddress is the key the per-address limit counts by; nil
	// counts by the peer's IP.
	ClientAddress func(r *http.Request) string
	Limits        Limits
	// Thumbnails is how many thumbnails may be decoded at once (1).
	Thumbnails int
	Log        *slog.Logger
}

// Handler serves file uploads and downloads:
//
//	POST /api/chats/{id}/files   multipart form, one part named "file";
//	                             answers the file as a chatr.Attachment
//	GET  /api/files/{id}         the bytes, under their name
//	GET  /api/files/{id}/thumb   the server-made thumbnail of an image
//
// Only members of the file's chat see it; anyone else gets 404.
type Handler struct {
	cfg    Config
	mux    *http.ServeMux
	thumbs thumbSlots
	rates  uploadRates
}

// NewHandler returns the handler for cfg.
func NewHandler(cfg Config) *Handler {
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.Thumbnails <= 0 {
		cfg.Thumbnails = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), thumbs: make(thumbSlots, cfg.Thumbnails), rates: newUploadRates(cfg)}
	h.mux.HandleFunc("POST /api/chats/{id}/files", h.upload)
	h.mux.HandleFunc("GET /api/files/{id}", h.download)
	h.mux.HandleFunc("GET /api/files/{id}/thumb", h.serveThumb)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns 128 random bits in lowercase base32: unguessable, and a
// valid blob key segment.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// transferTimeout bounds one upload or download, past the server's
// deadlines for ordinary requests: 25 MB at 50 KB/s.
const transferTimeout = 10 * time.Minute

// allowTransfer gives the request's connection transferTimeout to read the
// body and write the answer.
func allowTransfer(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(transferTimeout)
	_ = rc.SetReadDeadline(deadline) // not every writer can (tests' recorders)
	_ = rc.SetWriteDeadline(deadline)
}

func (h *Handler) upload(w http.ResponseWriter, r *http.Request) {
	allowTransfer(w)
	userID, err := h.cfg.User(w, r)
	if err != nil {
		h.error(w, r, err)
		return
	}
	if !h.rates.allow(r, userID) {
		w.Header().Set("Retry-After", "10")
		h.error(w, r, errTooMany)
		return
	}
	chatID := r.PathValue("id")
	if ok, err := h.cfg.IsMember(r.Context(), chatID, userID); err != nil || !ok {
		h.error(w, r, orNotFound(err))
		return
	}
	limit := h.cfg.MaxUploadBytes
	// A declared length over the limit is refused before reading a byte.
	if r.ContentLength > limit+formOverhead {
		h.error(w, r, tooLarge(limit))
		return
	}
	if h.cfg.QuotaBytes > 0 {
		used, err := h.cfg.Files.UserFileBytes(r.Context(), userID)
		if err != nil {
			h.error(w, r, err)
			return
		}
		if used >= h.cfg.QuotaBytes {
			h.error(w, r, chatr.Errorf(chatr.ELIMIT, "your files take all of your %d bytes of storage", h.cfg.QuotaBytes))
			return
		}
		limit = min(limit, h.cfg.QuotaBytes-used)
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxUploadBytes+formOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		h.error(w, r, chatr.Errorf(chatr.EINVALID, "send the file as multipart/form-data"))
		return
	}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if err != nil || parts >= maxParts {
			h.error(w, r, bodyError(err, "the form has no part named \"file\" with a file name"))
			return
		}
		if part.FormName() != "file" || part.FileName() == "" {
			if n, err := io.CopyN(io.Discard, part, maxFieldBytes+1); n > maxFieldBytes || (err != nil && err != io.EOF) {
				h.error(w, r, bodyError(err, "form fields are limited to 8 KiB"))
				return
			}
			continue
		}
		f, err := h.store(r.Context(), chatID, userID, part, mr, limit)
		if err != nil {
			if chatr.ErrorCode(err) == chatr.ELIMIT && limit < h.cfg.MaxUploadBytes && !isBomb(err) {
				err = chatr.Errorf(chatr.ELIMIT, "the file does not fit in your storage quota")
			}
			h.error(w, r, err)
			return
		}
		// The answer is the file as messages will carry it.
		writeJSON(w, http.StatusCreated, f.Attachment())
		return
	}
}

// store streams one file part into Blobs, checks what it holds, makes its
// thumbnail and writes its row. On any error it removes what it stored, so
// a refused or broken upload leaves nothing behind.
func (h *Handler) store(ctx context.Context, chatID, userID string, part *multipart.Part, mr *multipart.Reader, limit int64) (chatr.File, error) {
	id := newID()
	f := chatr.File{ID: id, ChatID: chatID, UserID: userID, Name: SafeName(part.FileName()), Key: "f/" + id[:2] + "/" + id}
	br := bufio.NewReaderSize(part, sniffLen)
	head, _ := br.Peek(sniffLen) // a shorter file gives a shorter head
	f.Type = Sniff(head)

	n, err := h.cfg.Blobs.Put(ctx, f.Key, br, limit)
	if err != nil {
		if chatr.ErrorCode(err) == chatr.ELIMIT {
			return f, tooLarge(limit)
		}
		return f, bodyError(err, "")
	}
	f.Size = n
	committed := false
	defer func() {
		if !committed {
			h.removeBlobs(f)
		}
	}()
	// The form must end properly after the file: a body cut short means
	// the upload did not finish, whatever the file part read.
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return f, bodyError(err, "")
		}
		if n, err := io.CopyN(io.Discard, p, maxFieldBytes+1); n > maxFieldBytes || (err != nil && err != io.EOF) {
			return f, bodyError(err, "form fields are limited to 8 KiB")
		}
	}

	if err := h.inspect(ctx, &f); err != nil {
		return f, err
	}
	if err := h.cfg.Files.CreateFile(ctx, f); err != nil {
		return f, err
	}
	committed = true
	return f, nil
}

// inspect reads the stored file's header: it refuses bombs, settles
// whether an image really is one, and makes the thumbnail.
func (h *Handler) inspect(ctx context.Context, f *chatr.File) error {
	switch {
	case inlineImages[f.Type]:
		info, err := h.readBlob(ctx, f.Key, func(r io.ReadSeeker, _ int64) (ImageInfo, error) {
			return InspectImage(r, f.Type, h.cfg.Limits)
		})
		if errors.Is(err, ErrNotImage) {
			f.Type = "application/octet-stream" // a header that lies is served as an opaque download
			return nil
		}
		if err != nil {
			return err
		}
		f.Width, f.Height = info.Width, info.Height
		return h.thumbnail(ctx, f)
	case f.Type == "application/zip":
		_, err := h.readBlob(ctx, f.Key, func(r io.ReadSeeker, size int64) (ImageInfo, error) {
			return ImageInfo{}, InspectArchive(readerAt(r), size, h.cfg.Limits)
		})
		return err
	case f.Type == "application/x-gzip":
		_, err := h.readBlob(ctx, f.Key, func(r io.ReadSeeker, size int64) (ImageInfo, error) {
			return ImageInfo{}, InspectGzip(readerAt(r), size, h.cfg.Limits)
		})
		return err
	}
	return nil
}

func (h *Handler) readBlob(ctx context.Context, key string, fn func(io.ReadSeeker, int64) (ImageInfo, error)) (ImageInfo, error) {
	r, info, err := h.cfg.Blobs.Get(ctx, key)
	if err != nil {
		return ImageInfo{}, err
	}
	defer r.Close()
	return fn(r, info.Size)
}

// thumbnail makes and stores f's thumbnail. An image that fails to decode
// past its header is kept as a download without one.
func (h *Handler) thumbnail(ctx context.Context, f *chatr.File) error {
	if err := h.thumbs.acquire(ctx); err != nil {
		return err
	}
	defer h.thumbs.release()
	var thumb []byte
	_, err := h.readBlob(ctx, f.Key, func(r io.ReadSeeker, _ int64) (ImageInfo, error) {
		var err error
		thumb, _, err = Thumbnail(r)
		return ImageInfo{}, err
	})
	if errors.Is(err, ErrNotImage) {
		f.Type = "application/octet-stream"
		f.Width, f.Height = 0, 0
		return nil
	}
	if err != nil {
		return err
	}
	key := "t/" + f.ID[:2] + "/" + f.ID
	if _, err := h.cfg.Blobs.Put(ctx, key, bytes.NewReader(thumb), int64(len(thumb))); err != nil {
		return err
	}
	f.ThumbKey = key
	return nil
}

func (h *Handler) removeBlobs(f chatr.File) {
	// A background context: the request's may be what failed, and the
	// sweep removes whatever this misses.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, key := range []string{f.Key, f.ThumbKey} {
		if key == "" {
			continue
		}
		if err := h.cfg.Blobs.Delete(ctx, key); err != nil {
			h.cfg.Log.Warn("files: removing a refused upload failed; the sweep will", "key", key, "err", err)
		}
	}
}

// file returns the file id names if the signed-in user may see it.
func (h *Handler) file(w http.ResponseWriter, r *http.Request) (chatr.File, bool) {
	userID, err := h.cfg.User(w, r)
	if err != nil {
		h.error(w, r, err)
		return chatr.File{}, false
	}
	f, err := h.cfg.Files.GetFile(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return f, false
	}
	if ok, err := h.cfg.IsMember(r.Context(), f.ChatID, userID); err != nil || !ok {
		h.error(w, r, orNotFound(err))
		return f, false
	}
	return f, true
}

// safetyHeaders go on every file response.
func safetyHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", fileCSP)
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Referrer-Policy", "no-referrer")
	// Members may change: a browser keeps a copy briefly, shared caches never.
	hd.Set("Cache-Control", "private, max-age=300")
}

// Disposition returns the Content-Disposition of a file: inline only for
// safe raster images, attachment for everything else, with the name
// encoded so that any character survives and none can break the header.
func Disposition(sniffed, name string) string {
	kind := "attachment"
	if Inline(sniffed) {
		kind = "inline"
	}
	if v := mime.FormatMediaType(kind, map[string]string{"filename": name}); v != "" {
		return v
	}
	return kind
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	allowTransfer(w)
	f, ok := h.file(w, r)
	if !ok {
		return
	}
	body, _, err := h.cfg.Blobs.Get(r.Context(), f.Key)
	if err != nil {
		h.error(w, r, err)
		return
	}
	defer body.Close()
	safetyHeaders(w)
	w.Header().Set("Content-Type", ServedType(f.Type))
	w.Header().Set("Content-Disposition", Disposition(f.Type, f.Name))
	// ServeContent answers Range and conditional requests, reading only
	// the bytes it sends.
	http.ServeContent(w, r, "", f.Created, body)
}

// maxThumbBytes bounds how much of a stored thumbnail is read.
const maxThumbBytes = 1 << 20

func (h *Handler) serveThumb(w http.ResponseWriter, r *http.Request) {
	f, ok := h.file(w, r)
	if !ok {
		return
	}
	if f.ThumbKey == "" {
		h.error(w, r, chatr.Errorf(chatr.ENOTFOUND, "this file has no thumbnail"))
		return
	}
	body, _, err := h.cfg.Blobs.Get(r.Context(), f.ThumbKey)
	if err != nil {
		h.error(w, r, err)
		return
	}
	defer body.Close()
	thumb, err := io.ReadAll(io.LimitReader(body, maxThumbBytes))
	if err != nil {
		h.error(w, r, err)
		return
	}
	ct := Sniff(thumb)
	if !Inline(ct) {
		h.error(w, r, chatr.Errorf(chatr.ENOTFOUND, "this file has no thumbnail"))
		return
	}
	safetyHeaders(w)
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", "inline")
	http.ServeContent(w, r, "", f.Created, bytes.NewReader(thumb))
}

// SafeName returns a client's file name fit to store and to send back in
// Content-Disposition: the last path segment only, valid UTF-8, without
// control or bidirectional-override characters (which disguise
// "evil\u202Egnp.exe" as "evilexe.png"), without leading or trailing dots
// and spaces, at most 200 bytes; "file" when nothing is left.
func SafeName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		return "file"
	}
	return name
}

// --- errors

// tooLarge is the error of an upload over the size limit.
func tooLarge(limit int64) error {
	return chatr.Errorf(chatr.ELIMIT, "the file is larger than the limit of %d bytes", limit)
}

// isBomb reports whether err refused what a file unpacks into rather
// than its size.
func isBomb(err error) bool {
	msg := chatr.ErrorMessage(err)
	return !strings.HasPrefix(msg, "the file is larger")
}

// bodyError turns a failure to read the request body into an application
// error: too large (MaxBytesReader's), cut short, or malformed.
func bodyError(err error, otherwise string) error {
	var maxErr *http.MaxBytesError
	switch {
	case err == nil || err == io.EOF:
		if otherwise == "" {
			otherwise = "the form is malformed"
		}
		return chatr.Errorf(chatr.EINVALID, "%s", otherwise)
	case errors.As(err, &maxErr):
		return tooLarge(maxErr.Limit - formOverhead)
	case chatr.ErrorCode(err) != chatr.EINTERNAL:
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "multipart"):
		return chatr.Errorf(chatr.EINVALID, "the upload was cut off or malformed")
	}
	return err
}

func orNotFound(err error) error {
	if err != nil {
		return err
	}
	return chatr.Errorf(chatr.ENOTFOUND, "no such chat or file")
}

var statusOf = map[string]int{
	chatr.ECONFLICT:  http.StatusConflict,
	chatr.EFORBIDDEN: http.StatusForbidden,
	chatr.EINVALID:   http.StatusBadRequest,
	chatr.ELIMIT:     http.StatusRequestEntityTooLarge, // every limit here is one of size
	chatr.ENOTFOUND:  http.StatusNotFound,
	chatr.EUNAUTH:    http.StatusUnauthorized,
}

// error writes err as {"error": code, "message": text}; unexpected errors
// are logged and shown as "internal error".
func (h *Handler) error(w http.ResponseWriter, r *http.Request, err error) {
	code := chatr.ErrorCode(err)
	status, ok := statusOf[code]
	if err == errTooMany {
		status = http.StatusTooManyRequests
	}
	if !ok {
		status = http.StatusInternalServerError
		h.cfg.Log.Error("files: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusRequestEntityTooLarge || status == http.StatusBadRequest {
		// The rest of an over-long or broken body is not worth reading.
		w.Header().Set("Connection", "close")
	}
	writeJSON(w, status, map[string]string{"error": code, "message": chatr.ErrorMessage(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
