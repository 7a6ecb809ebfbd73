// Package files handles uploaded files over HTTP: it streams uploads into
// chatr.Blobs with a size limit, decides their type from their bytes (never
// from the client), refuses decompression bombs by reading headers before
// decoding anything, makes thumbnails without metadata, and serves
// downloads with headers that keep a browser from running what a user
// uploaded.
//
// It knows the Blobs and FileStore contracts of package chatr, and who may
// see a chat only through the Members function it is given: nothing of
// sessions, stores or the hub.
package files

import (
	"bytes"
	"net/http"
	"strings"
)

// sniffLen is how much of a file Sniff needs: what
// http.DetectContentType reads.
const sniffLen = 512

// Image types that browsers render as pixels only, with no script and no
// external references: the only types ever served inline.
var inlineImages = map[string]bool{
	"image/png":  true,
	"image/jpeg": true,
	"image/gif":  true,
	"image/webp": true,
}

// servedTypes are the sniffed types a download keeps (always as an
// attachment unless inline); any other type is served as
// application/octet-stream, so nothing reaches a browser as HTML, SVG, XML
// or script.
var servedTypes = map[string]bool{
	"application/pdf":              true,
	"application/zip":              true,
	"application/x-gzip":           true,
	"application/vnd.rar":          true,
	"application/x-rar-compressed": true,
	"application/ogg":              true,
	"audio/mpeg":                   true,
	"audio/wave":                   true,
	"audio/aiff":                   true,
	"audio/basic":                  true,
	"audio/midi":                   true,
	"video/mp4":                    true,
	"video/webm":                   true,
	"video/avi":                    true,
	"image/bmp":                    true,
	"image/x-icon":                 true,
	"font/woff":                    true,
	"font/woff2":                   true,
	"font/ttf":                     true,
	"font/otf":                     true,
	"text/plain; charset=utf-8":    true,
}

// Sniff returns the content type of a file whose first bytes are head: what
// http.DetectContentType says, corrected where it is too trusting for
// uploads. Text with SVG or HTML markup anywhere in its head is reported
// as image/svg+xml or text/html (DetectContentType only looks at the start, so a
// leading comment or blank hides markup), and a type with no more specific
// name is application/octet-stream.
func Sniff(head []byte) string {
	if len(head) > sniffLen {
		head = head[:sniffLen]
	}
	ct := http.DetectContentType(head)
	mt, _, _ := strings.Cut(ct, ";")
	switch {
	case mt == "text/plain" || mt == "text/xml":
		if bytes.Contains(bytes.ToLower(head), []byte("<svg")) {
			return "image/svg+xml"
		}
		if markup(head) {
			return "text/html; charset=utf-8"
		}
		if mt == "text/xml" {
			return "text/xml; charset=utf-8"
		}
		return "text/plain; charset=utf-8"
	case strings.HasPrefix(ct, "text/plain"):
		return ct // UTF-16 text keeps its charset
	}
	return ct
}

// markupTags are the openings that make a browser, or an XML parser asked
// to render, treat text as a document that can run script.
var markupTags = [][]byte{
	[]byte("<svg"), []byte("<html"), []byte("<script"), []byte("<!doctype"), []byte("<?xml"),
	[]byte("<iframe"), []byte("<body"), []byte("<head"), []byte("<object"), []byte("<embed"),
	[]byte("<xsl"), []byte("<math"), []byte("<img"), []byte("<a "), []byte("<meta"), []byte("<style"),
}

func markup(head []byte) bool {
	lower := bytes.ToLower(head)
	for _, tag := range markupTags {
		if bytes.Contains(lower, tag) {
			return true
		}
	}
	return false
}

// Inline reports whether a file of the sniffed type may be shown in the
// page rather than downloaded: safe raster images only, and only once
// their header has been checked (see Inspect).
func Inline(sniffed string) bool { return inlineImages[sniffed] }

// ServedType returns the Content-Type a download of a file with the
// sniffed type is served with.
func ServedType(sniffed string) string {
	if inlineImages[sniffed] || servedTypes[sniffed] {
		return sniffed
	}
	return "application/octet-stream"
}
