package upstream_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/upstream"
)

// recorder is an event handler that records the calls it gets and answers
// with reply (nil: 204).
type recorder struct {
	mu      sync.Mutex
	calls   []*http.Request
	bodies  []string
	allowed string // WebHook-Allowed-Origin of the handshake
	reply   func(w http.ResponseWriter, r *http.Request) bool
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.calls = append(rc.calls, r)
	rc.bodies = append(rc.bodies, string(b))
	reply := rc.reply
	rc.mu.Unlock()
	if r.Method == http.MethodOptions {
		w.Header().Set("WebHook-Allowed-Origin", rc.allowed)
		return
	}
	if reply == nil || !reply(w, r) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (rc *recorder) snapshot() ([]*http.Request, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*http.Request(nil), rc.calls...), append([]string(nil), rc.bodies...)
}

func newHandler(t *testing.T, rc *recorder, cfg upstream.Config) *upstream.Handler {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	cfg.URLTemplate = srv.URL + "/handler/{hub}/{event}"
	if cfg.AccessKey == nil {
		cfg.AccessKey = []byte("access-key")
	}
	h, err := upstream.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

var conn = &hub.ConnInfo{ID: "conn1", UserID: "alice", Hub: "chat", Protocol: hub.ProtocolJSONReliable}

func TestSignature(t *testing.T) {
	m := hmac.New(sha256.New, []byte("key"))
	m.Write([]byte("conn1"))
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := upstream.Signature([]byte("key"), "conn1"); got != want {
		t.Errorf("Signature: got %s, want %s", got, want)
	}
}

func TestUserEventHeadersAndReply(t *testing.T) {
	rc := &recorder{allowed: "*", reply: func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("pong"))
		return true
	}}
	h := newHandler(t, rc, upstream.Config{UserEvents: []string{"ping"}, Origin: "chatr.example"})
	reply, err := h.Event(context.Background(), conn, &hub.Event{Name: "ping", DataType: "json", Data: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if reply == nil || reply.DataType != "text" || string(reply.Data) != "pong" {
		t.Fatalf("reply: got %+v", reply)
	}
	calls, bodies := rc.snapshot()
	if len(calls) != 2 || calls[0].Method != http.MethodOptions || calls[0].URL.Path != "/handler/chat/validate" {
		t.Fatalf("want the OPTIONS handshake on {event}=validate, then the event; got %d calls", len(calls))
	}
	if got := calls[0].Header.Get("WebHook-Request-Origin"); got != "chatr.example" {
		t.Errorf("handshake origin: got %q", got)
	}
	ev := calls[1]
	for k, want := range map[string]string{
		"ce-specversion": "1.0", "ce-awpsversion": "1.0", "ce-type": "azure.webpubsub.user.ping",
		"ce-source": "/hubs/chat/client/conn1", "ce-userId": "alice", "ce-connectionId": "conn1", "ce-hub": "chat",
		"ce-eventName": "ping", "ce-signature": upstream.Signature([]byte("access-key"), "conn1"),
		"WebHook-Request-Origin": "chatr.example", "Content-Type": "application/json",
	} {
		if got := ev.Header.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if ev.Header.Get("ce-id") == "" || ev.Header.Get("ce-time") == "" {
		t.Error("ce-id and ce-time must be set")
	}
	if ev.URL.Path != "/handler/chat/ping" || bodies[1] != `{"n":1}` {
		t.Errorf("event: %s %q", ev.URL.Path, bodies[1])
	}

	// Not selected: no call, plain success.
	reply, err = h.Event(context.Background(), conn, &hub.Event{Name: "other", DataType: "text", Data: []byte("x")})
	if err != nil || reply != nil {
		t.Errorf("unselected event: got %v, %v", reply, err)
	}
	if calls, _ := rc.snapshot(); len(calls) != 2 {
		t.Errorf("unselected event was sent: %d calls", len(calls))
	}
}

func TestUserEventFailures(t *testing.T) {
	rc := &recorder{allowed: "*", reply: func(w http.ResponseWriter, r *http.Request) bool {
		switch r.Header.Get("ce-eventName") {
		case "bad":
			http.Error(w, "no such thing", http.StatusBadRequest)
		case "slow":
			time.Sleep(300 * time.Millisecond)
		default:
			return false
		}
		return true
	}}
	h := newHandler(t, rc, upstream.Config{UserEvents: []string{"*"}, Timeout: 100 * time.Millisecond})
	for _, tt := range []struct{ event, name, msg string }{
		{"bad", "InvocationFailed", "no such thing"},
		{"slow", "Timeout", ""},
	} {
		_, err := h.Event(context.Background(), conn, &hub.Event{Name: tt.event, DataType: "text", Data: []byte("x")})
		var ae *hub.AckError
		if !errors.As(err, &ae) || ae.Name != tt.name || !strings.Contains(ae.Message, tt.msg) {
			t.Errorf("%s: got %v, want ack error %s", tt.event, err, tt.name)
		}
	}
}

func TestHandshakeRefused(t *testing.T) {
	rc := &recorder{allowed: "someone-else.example"}
	h := newHandler(t, rc, upstream.Config{SystemEvents: []string{"connect"}})
	err := h.Connect(context.Background(), &hub.ConnectRequest{Conn: &hub.ConnInfo{ID: "c", Hub: "chat"}})
	if err == nil {
		t.Fatal("connect accepted although the handler does not allow our origin")
	}
	if calls, _ := rc.snapshot(); len(calls) != 1 {
		t.Errorf("want only the handshake, got %d calls", len(calls))
	}
}

func TestConnectAnswers(t *testing.T) {
	status := 0
	rc := &recorder{allowed: "*", reply: func(w http.ResponseWriter, r *http.Request) bool {
		switch status {
		case 200:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"userId":"bob","groups":["g1"],"roles":["webpubsub.sendToGroup"]}`))
		case 0:
			return false
		default:
			w.WriteHeader(status)
		}
		return true
	}}
	h := newHandler(t, rc, upstream.Config{SystemEvents: []string{"connect"}})
	newReq := func() *hub.ConnectRequest {
		return &hub.ConnectRequest{Conn: &hub.ConnInfo{ID: "c", Hub: "chat", UserID: "alice"}, Groups: []string{"g0"},
			Claims: hub.Claims{UserID: "alice"}, Subprotocols: []string{hub.ProtocolJSON}}
	}

	req := newReq()
	if err := h.Connect(context.Background(), req); err != nil || req.Conn.UserID != "alice" {
		t.Errorf("204: got %v, user %s", err, req.Conn.UserID)
	}
	_, bodies := rc.snapshot()
	if !strings.Contains(bodies[len(bodies)-1], `"sub":["alice"]`) || !strings.Contains(bodies[len(bodies)-1], `"subprotocols":["json.webpubsub.azure.v1"]`) {
		t.Errorf("connect body: %s", bodies[len(bodies)-1])
	}

	status = 200
	req = newReq()
	if err := h.Connect(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if req.Conn.UserID != "bob" || strings.Join(req.Groups, ",") != "g0,g1" || strings.Join(req.Conn.Roles, ",") != "webpubsub.sendToGroup" {
		t.Errorf("200 amend: user %s groups %v roles %v", req.Conn.UserID, req.Groups, req.Conn.Roles)
	}

	for _, tt := range []struct {
		status int
		name   string
	}{{401, "Unauthorized"}, {403, "Forbidden"}, {400, "Forbidden"}} {
		status = tt.status
		err := h.Connect(context.Background(), newReq())
		var ae *hub.AckError
		if !errors.As(err, &ae) || ae.Name != tt.name {
			t.Errorf("%d: got %v, want %s", tt.status, err, tt.name)
		}
	}
	status = 500
	if err := h.Connect(context.Background(), newReq()); err == nil {
		t.Error("500: connect accepted")
	}
}

func TestFireAndForgetRetriesInOrder(t *testing.T) {
	var mu sync.Mutex
	failures := 2
	rc := &recorder{allowed: "*", reply: func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("ce-eventName") == "connected" && failures > 0 {
			failures--
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}}
	h := newHandler(t, rc, upstream.Config{SystemEvents: []string{"connected", "disconnected"}})
	h.Connected(context.Background(), conn)
	h.Disconnected(context.Background(), conn, "bye")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	calls, bodies := rc.snapshot()
	var events []string
	for _, c := range calls[1:] {
		events = append(events, c.Header.Get("ce-eventName"))
	}
	if got := strings.Join(events, ","); got != "connected,connected,connected,disconnected" {
		t.Errorf("events: got %s", got)
	}
	if bodies[len(bodies)-1] != `{"reason":"bye"}` {
		t.Errorf("disconnected body: %s", bodies[len(bodies)-1])
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []upstream.Config{
		{},
		{URLTemplate: "ftp://host/{event}"},
		{URLTemplate: "http://host/{event}", SystemEvents: []string{"connecting"}},
	} {
		if _, err := upstream.New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}
