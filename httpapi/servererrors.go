package httpapi

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/chatr/chatr"
)

// Listener wraps ln so that the answers net/http writes on its own, before
// any handler runs (400 for a malformed request, 431 for headers too large,
// 501 for an unknown transfer coding, 417 for an unknown expectation), are
// JSON errors with the same security headers as every other answer.
//
// net/http writes those straight to the connection (server.go, conn.serve)
// in one Write each, with no hook to change them; the connection wrapper
// recognizes them by their fixed shape and writes Chatr's answer instead.
// A socket the hub hijacks gets the connection underneath (see rawConn).
func Listener(ln net.Listener) net.Listener { return &errorListener{ln} }

type errorListener struct{ net.Listener }

func (l *errorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &errorConn{Conn: c}, nil
}

// errorConn rewrites the answers net/http writes by itself.
type errorConn struct{ net.Conn }

func (c *errorConn) Write(p []byte) (int, error) {
	status, text, ok := serverError(p)
	if !ok {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(errorAnswer(status, text)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite lets net/http half-close the connection after a 431, as it
// does on a bare TCP connection.
func (c *errorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// rawConn is the connection under nc: the hub writes to a *net.TCPConn's
// descriptor directly, and a hijacked socket carries no more HTTP answers.
func rawConn(nc net.Conn) net.Conn {
	if c, ok := nc.(*errorConn); ok {
		return c.Conn
	}
	return nc
}

// plainErrorHeaders follow the status line of every answer net/http writes
// before a handler runs (net/http's errorHeaders). A handler's answers here
// always carry the security headers first, so never match.
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// serverError recognizes an answer net/http wrote by itself: its status and
// the reason net/http gave (a fixed text that never echoes the request).
func serverError(p []byte) (status int, text string, ok bool) {
	if len(p) < 13 || !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) || p[12] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(p[9:12]))
	if err != nil || status < 400 {
		return 0, "", false
	}
	if status == http.StatusExpectationFailed && bytes.HasPrefix(p, []byte("HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\n")) {
		return status, "unsupported Expect header", true
	}
	end := bytes.Index(p, []byte("\r\n"))
	if end < 0 || !bytes.HasPrefix(p[end:], []byte(plainErrorHeaders)) {
		return 0, "", false
	}
	text = http.StatusText(status)
	if reason, found := bytes.CutPrefix(p[13:end], []byte(text+": ")); found {
		text += ": " + string(reason) // "Bad Request: missing required Host header"
	}
	return status, text, true
}

// errorAnswer is the whole HTTP answer for a request net/http refused.
func errorAnswer(status int, text string) []byte {
	code := chatr.EINVALID
	if status == http.StatusRequestHeaderFieldsTooLarge {
		code = chatr.ELIMIT
	}
	body, _ := json.Marshal(map[string]string{"error": code, "message": text})
	body = append(body, '\n')
	h := http.Header{}
	setSecurityHeaders(h)
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	h.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// setSecurityHeaders sets the headers every answer carries (HSTS aside,
// which needs to know the request came over TLS).
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// staticWriter turns the browser app's error answers (an unknown path)
// into Chatr's JSON errors; everything else passes through.
type staticWriter struct {
	http.ResponseWriter
	h       *Handler
	r       *http.Request
	refused bool // the app's answer was replaced: drop its body
}

func (w *staticWriter) WriteHeader(status int) {
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.refused = true
	err := chatr.Errorf(chatr.EINVALID, "%s", http.StatusText(status))
	if status == http.StatusNotFound {
		err = chatr.Errorf(chatr.ENOTFOUND, "no such page")
	}
	w.Header().Del("Content-Length")
	w.h.Error(w.ResponseWriter, w.r, err)
}

func (w *staticWriter) Write(p []byte) (int, error) {
	if w.refused {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *staticWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
