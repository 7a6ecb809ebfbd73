package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

const testSecret = "test-secret-0123456789abcdef"

// node is a running server for one test.
type node struct {
	t    *testing.T
	srv  *server.Server
	base string
}

func startNode(t *testing.T, cfg server.Config) *node {
	t.Helper()
	if cfg.DB == "" {
		cfg.DB = filepath.Join(t.TempDir(), "chatr.db")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	if cfg.OfflineGrace == 0 {
		cfg.OfflineGrace = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &node{t: t, srv: srv, base: "http://" + srv.Addr()}
}

// user is a signed-in browser: an HTTP client with its session cookie.
type user struct {
	t    *testing.T
	n    *node
	http *http.Client
	ID   string
	Name string
}

func (n *node) guest(name string) *user {
	n.t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &user{t: n.t, n: n, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}, Name: name}
	var me struct {
		ClientPrincipal struct {
			UserID, UserDetails, IdentityProvider string
		}
	}
	status := u.do("POST", "/.auth/login/guest", map[string]string{"name": name}, &me)
	if status != 200 {
		n.t.Fatalf("guest sign-in %q: status %d", name, status)
	}
	u.ID = me.ClientPrincipal.UserID
	return u
}

// do sends a request (body as JSON when not nil) and decodes a JSON answer
// into out; it returns the status.
func (u *user) do(method, path string, body, out any) int {
	u.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u.n.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := u.http.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			u.t.Fatalf("%s %s: status %d, bad JSON %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// connect gets a token and opens a socket, returning it after the connected
// frame and the userOnline for its own user.
func (u *user) connect(protocol string) *wsclient.Conn {
	u.t.Helper()
	var tok struct{ Token, BaseURL, URL string }
	if st := u.do("GET", "/api/getToken", nil, &tok); st != 200 {
		u.t.Fatalf("getToken: status %d", st)
	}
	c, err := wsclient.Dial(context.Background(), tok.URL, protocol, nil)
	if err != nil {
		u.t.Fatalf("dial: %v", err)
	}
	u.t.Cleanup(func() { c.Drop() })
	f, err := c.Next(5 * time.Second)
	if err != nil || f.Type != "system" || f.Event != "connected" {
		u.t.Fatalf("first frame: got %+v (%v), want connected", f, err)
	}
	if f.UserID != u.ID {
		u.t.Fatalf("connected userId = %q, want %q", f.UserID, u.ID)
	}
	u.waitEvent(c, "userOnline", func(d string) bool { return strings.Contains(d, `"userId":"`+u.ID+`"`) })
	return c
}

// waitEvent waits for a server event whose data satisfies match.
func (u *user) waitEvent(c *wsclient.Conn, name string, match func(data string) bool) string {
	u.t.Helper()
	f, err := c.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		n, d, ok := f.ServerEvent()
		return ok && n == name && (match == nil || match(d))
	})
	if err != nil {
		u.t.Fatalf("%s: waiting for %s: %v", u.Name, name, err)
	}
	_, d, _ := f.ServerEvent()
	return d
}

// mustAck sends an event and fails unless it is acked with success.
func mustAck(t *testing.T, c *wsclient.Conn, name string, data any) {
	t.Helper()
	f, err := c.Event(name, data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !f.Success {
		t.Fatalf("%s: ack error %+v", name, f.Error)
	}
}

// ackError sends a frame and returns the ack's error name ("" on success).
func ackError(t *testing.T, c *wsclient.Conn, frame map[string]any) string {
	t.Helper()
	f, err := c.Call(frame)
	if err != nil {
		t.Fatalf("%v: %v", frame, err)
	}
	if f.Success {
		return ""
	}
	if f.Error == nil {
		t.Fatalf("failed ack without error: %s", f.Raw)
	}
	return f.Error.Name
}

// say sends a chat message and returns the stored message's id from the echo.
func say(t *testing.T, c *wsclient.Conn, chatID, text string) int64 {
	t.Helper()
	f, err := c.Call(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json", "data": map[string]any{"message": text}})
	if err != nil || !f.Success {
		t.Fatalf("say %q: %+v %v", text, f.Error, err)
	}
	m := waitChat(t, c, chatID, text)
	return m.ID
}

type chatMsg struct {
	Message, FromUserID, FromUserName, Time string
	ID                                      int64
}

// waitChat waits for a chat message with the given text in chatID.
func waitChat(t *testing.T, c *wsclient.Conn, chatID, text string) chatMsg {
	t.Helper()
	var m chatMsg
	_, err := c.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		if f.Type != "message" || f.From != "group" || f.Group != chatID {
			return false
		}
		m = chatMsg{}
		return json.Unmarshal(f.Data, &m) == nil && m.Message == text
	})
	if err != nil {
		t.Fatalf("waiting for %q in %s: %v", text, chatID, err)
	}
	return m
}
