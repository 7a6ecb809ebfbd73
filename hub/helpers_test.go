package hub_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatr/chatr/hub"
)

var testKey = []byte("test-access-key-0123456789")

const (
	reliable = hub.ProtocolJSONReliable
	plain    = hub.ProtocolJSON
	// frameWait bounds every wait for a frame in tests: a failure, not a timing.
	frameWait = 5 * time.Second
)

// testApp is an Application whose hooks tests can set.
type testApp struct {
	connect      func(*hub.ConnectRequest) error
	join         func(*hub.ConnInfo, string) error
	publish      func(*hub.ConnInfo, *hub.GroupMessage) error
	event        func(*hub.ConnInfo, *hub.Event) (*hub.Payload, error)
	disconnect   func(*hub.ConnInfo, string) // runs first in Disconnected
	mu           sync.Mutex
	connected    []string
	disconnected map[string][]string // conn id -> reasons
	discCh       chan string
}

func newTestApp() *testApp {
	return &testApp{disconnected: map[string][]string{}, discCh: make(chan string, 100)}
}

func (a *testApp) Connect(_ context.Context, r *hub.ConnectRequest) error {
	if a.connect != nil {
		return a.connect(r)
	}
	return nil
}

func (a *testApp) Connected(_ context.Context, c *hub.ConnInfo) {
	a.mu.Lock()
	a.connected = append(a.connected, c.ID)
	a.mu.Unlock()
}

func (a *testApp) Disconnected(_ context.Context, c *hub.ConnInfo, reason string) {
	if a.disconnect != nil {
		a.disconnect(c, reason)
	}
	a.mu.Lock()
	a.disconnected[c.ID] = append(a.disconnected[c.ID], reason)
	a.mu.Unlock()
	a.discCh <- c.ID
}

func (a *testApp) Join(_ context.Context, c *hub.ConnInfo, g string) error {
	if a.join != nil {
		return a.join(c, g)
	}
	return nil
}

func (a *testApp) Publish(_ context.Context, c *hub.ConnInfo, m *hub.GroupMessage) error {
	if a.publish != nil {
		return a.publish(c, m)
	}
	return nil
}

func (a *testApp) Event(_ context.Context, c *hub.ConnInfo, e *hub.Event) (*hub.Payload, error) {
	if a.event != nil {
		return a.event(c, e)
	}
	return nil, nil
}

// waitDisconnected waits for the Disconnected hook of connection id and
// returns its reasons.
func (a *testApp) waitDisconnected(t *testing.T, id string) []string {
	t.Helper()
	deadline := time.After(frameWait)
	for {
		a.mu.Lock()
		r := a.disconnected[id]
		a.mu.Unlock()
		if len(r) > 0 {
			return r
		}
		select {
		case <-a.discCh:
		case <-deadline:
			t.Fatalf("no Disconnected for %s", id)
		}
	}
}

func (a *testApp) disconnects(id string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.disconnected[id]...)
}

// env is a hub behind a real HTTP server.
type env struct {
	t   *testing.T
	hub *hub.Hub
	srv *httptest.Server
	app *testApp
}

// newEnv starts a hub; setup may set the test application's hooks (before
// any connection exists, so without races).
func newEnv(t *testing.T, cfg hub.Config, setup ...func(*testApp)) *env {
	t.Helper()
	app := newTestApp()
	for _, f := range setup {
		f(app)
	}
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	if cfg.App == nil {
		cfg.App = app
	}
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), frameWait)
		defer cancel()
		h.Close(ctx)
		srv.Close()
	})
	return &env{t: t, hub: h, srv: srv, app: app}
}

func (e *env) hubURL() string { return e.srv.URL + "/client/hubs/chat" }

// token mints a token for user with roles, aud set to this server.
func (e *env) token(user string, roles ...string) string {
	e.t.Helper()
	tok, err := hub.MintToken(testKey, hub.Claims{UserID: user, Roles: roles, Audience: e.hubURL()})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) wsURL(token string) string {
	return "ws" + strings.TrimPrefix(e.hubURL(), "http") + "?access_token=" + url.QueryEscape(token)
}

// client is a raw WebSocket client speaking the Web PubSub JSON protocol.
type client struct {
	t        *testing.T
	nc       net.Conn
	r        io.Reader
	protocol string
	connID   string
	token    string // reconnection token
	userID   any
}

// frame is a server frame as the tests see it.
type frame struct {
	Type              string          `json:"type"`
	Event             string          `json:"event"`
	From              string          `json:"from"`
	Group             *string         `json:"group"`
	FromUserID        *string         `json:"fromUserId"`
	DataType          *string         `json:"dataType"`
	Data              json.RawMessage `json:"data"`
	SequenceID        *uint64         `json:"sequenceId"`
	AckID             *uint64         `json:"ackId"`
	Success           *bool           `json:"success"`
	Error             *struct{ Name, Message string }
	UserID            any    `json:"userId"`
	ConnectionID      string `json:"connectionId"`
	ReconnectionToken string `json:"reconnectionToken"`
	Message           string `json:"message"`
	raw               string
}

// dialRaw opens a socket to rawURL offering protocols; it returns the
// negotiated protocol, or the HTTP status when the upgrade was refused.
func dialRaw(t *testing.T, rawURL string, hdr http.Header, protocols ...string) (*client, int, error) {
	t.Helper()
	d := ws.Dialer{Protocols: protocols, Timeout: frameWait}
	if hdr != nil {
		d.Header = ws.HandshakeHeaderHTTP(hdr)
	}
	nc, br, hs, err := d.Dial(context.Background(), rawURL)
	var se ws.StatusError
	if errors.As(err, &se) {
		return nil, int(se), err
	}
	if err != nil {
		return nil, 0, err
	}
	c := &client{t: t, nc: nc, r: nc, protocol: hs.Protocol}
	if br != nil {
		c.r = io.MultiReader(br, nc)
	}
	t.Cleanup(func() { nc.Close() })
	return c, 101, nil
}

// dial connects and reads the connected frame.
func (e *env) dial(protocol, user string, roles ...string) *client {
	e.t.Helper()
	c, status, err := dialRaw(e.t, e.wsURL(e.token(user, roles...)), nil, protocol)
	if err != nil {
		e.t.Fatalf("dial: status %d: %v", status, err)
	}
	f := c.next()
	if f.Type != "system" || f.Event != "connected" {
		e.t.Fatalf("first frame = %s, want connected", f.raw)
	}
	c.connID, c.token, c.userID = f.ConnectionID, f.ReconnectionToken, f.UserID
	return c
}

// send writes a masked text frame.
func (c *client) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(frameWait))
	if err := wsutil.WriteClientText(c.nc, []byte(s)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(string(b))
}

// readFrame reads one frame, answering nothing; it returns op and payload.
func (c *client) readFrame(wait time.Duration) (ws.OpCode, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(wait))
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return 0, nil, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.r, p); err != nil {
		return 0, nil, err
	}
	if h.Masked {
		c.t.Errorf("server frame is masked")
	}
	if !h.Fin {
		c.t.Errorf("server frame is fragmented")
	}
	return h.OpCode, p, nil
}

// next returns the next text frame, skipping WebSocket pings.
func (c *client) next() frame {
	c.t.Helper()
	for {
		op, p, err := c.readFrame(frameWait)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		switch op {
		case ws.OpPing, ws.OpPong:
			continue
		case ws.OpText:
			var f frame
			if err := json.Unmarshal(p, &f); err != nil {
				c.t.Fatalf("server sent invalid JSON %q: %v", p, err)
			}
			f.raw = string(p)
			return f
		case ws.OpClose:
			code, reason := closeOf(p)
			c.t.Fatalf("unexpected close %d %q", code, reason)
		default:
			c.t.Fatalf("unexpected opcode %v", op)
		}
	}
}

func closeOf(p []byte) (int, string) {
	if len(p) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(p)), string(p[2:])
}

// expectClose reads until a close frame and returns its code; text frames
// before it are returned too.
func (c *client) expectClose() (int, []frame) {
	c.t.Helper()
	var seen []frame
	for {
		op, p, err := c.readFrame(frameWait)
		if err != nil {
			c.t.Fatalf("read while expecting close: %v (frames before: %v)", err, seen)
		}
		switch op {
		case ws.OpClose:
			code, _ := closeOf(p)
			// Answer as a WebSocket client does, completing the close.
			c.nc.SetWriteDeadline(time.Now().Add(frameWait))
			ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(p)))
			return code, seen
		case ws.OpText:
			var f frame
			json.Unmarshal(p, &f)
			f.raw = string(p)
			seen = append(seen, f)
		}
	}
}

// expectNothing checks that no text frame arrives within a short while
// (a ping is sent through to make the check deterministic: the pong must
// come first).
func (c *client) expectNothing() {
	c.t.Helper()
	c.send(`{"type":"ping"}`)
	f := c.next()
	if f.Type != "pong" {
		c.t.Fatalf("got %s, want nothing before pong", f.raw)
	}
}

// ack waits for the ack of id and returns its error name ("" on success).
func (c *client) ack(id uint64) string {
	c.t.Helper()
	f := c.next()
	if f.Type != "ack" || f.AckID == nil || *f.AckID != id {
		c.t.Fatalf("got %s, want ack %d", f.raw, id)
	}
	if f.Success == nil {
		c.t.Fatalf("ack without success: %s", f.raw)
	}
	if *f.Success {
		if f.Error != nil {
			c.t.Fatalf("successful ack with error: %s", f.raw)
		}
		return ""
	}
	if f.Error == nil || f.Error.Name == "" {
		c.t.Fatalf("failed ack without error name: %s", f.raw)
	}
	return f.Error.Name
}

func (c *client) join(group string, ackID uint64) string {
	c.t.Helper()
	c.sendJSON(map[string]any{"type": "joinGroup", "group": group, "ackId": ackID})
	return c.ack(ackID)
}

// closeTCP drops the socket without a close frame.
func (c *client) closeTCP() { c.nc.Close() }

// closeWS sends a close frame with code.
func (c *client) closeWS(code ws.StatusCode) {
	c.nc.SetWriteDeadline(time.Now().Add(frameWait))
	ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, ""))))
}

func signHS256(s string) string {
	m := hmac.New(sha256.New, testKey)
	m.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
