package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/server"
)

// TestEveryAnswerIsJSONWithSecurityHeaders sends, over raw TCP, requests
// that net/http refuses before any handler runs, and requests no route
// knows: every answer is a JSON error with the security headers.
func TestEveryAnswerIsJSONWithSecurityHeaders(t *testing.T) {
	n := testnode.Start(t, server.Config{})
	addr := strings.TrimPrefix(n.Base, "http://")
	for _, tc := range []struct {
		name    string
		request string
		status  int
	}{
		{"malformed request line", "GARBAGE\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"bad header name", "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400},
		{"unsupported HTTP version", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505},
		{"headers too large", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", 431},
		{"unknown transfer coding", "POST /api/chats HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"unknown expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n", 417},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"unknown static path", "GET /no/such/page HTTP/1.1\r\nHost: a\r\n\r\n", 404},
		{"unknown app module", "GET /app/nosuch.js HTTP/1.1\r\nHost: a\r\n\r\n", 404},
		{"unknown API path", "GET /api/nosuch HTTP/1.1\r\nHost: a\r\n\r\n", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawRequest(t, addr, tc.request)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			checkSecurityHeaders(t, resp.Header)
			body, _ := io.ReadAll(resp.Body)
			var e struct{ Error, Message string }
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" || e.Message == "" {
				t.Errorf("body %q, want a JSON error with a code and a message", body)
			}
		})
	}
}

// rawRequest writes request on a fresh connection and reads the answer.
func rawRequest(t *testing.T, addr, request string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// The server may answer and close before it has read everything.
	go io.WriteString(c, request)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy":    httpapi.ContentSecurityPolicy,
		"X-Content-Type-Options":     "nosniff",
		"X-Frame-Options":            "DENY",
		"Referrer-Policy":            "same-origin",
		"Cross-Origin-Opener-Policy": "same-origin",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// TestGuestNameRefused: a name that is blank to the eye, carries bidi or
// control characters or stacks combining marks gets a 400 JSON error that
// says why.
func TestGuestNameRefused(t *testing.T) {
	n := testnode.Start(t, server.Config{})
	for name, want := range map[string]string{
		"\u3164":                    "name must not contain invisible characters",
		"\u2800":                    "name must not contain invisible characters",
		"\u202Eecila":               "name must not contain control, zero-width or text-direction characters",
		"Z\u0351\u0352\u0353\u0354": "name must not stack more than 3 combining marks",
	} {
		c := testnode.Anon(t, n.Base)
		var e struct{ Error, Message string }
		if st := c.Do("POST", "/.auth/login/guest", map[string]string{"name": name}, &e); st != 400 || e.Error != "invalid" || e.Message != want {
			t.Errorf("guest sign-in as %+q: %d %+v, want 400 invalid %q", name, st, e, want)
		}
	}
}
