// Package e2e_test holds Chatr's reliability and security tests: hostile
// input against every entry point, token forgery and cross-user access,
// SIGKILL crash rounds, a soak under connection churn and storage outages.
// Every test talks to a real node (server.Run on port 0, or the chatr
// binary) as a client would.
package e2e_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

const testSecret = "e2e-secret-0123456789abcdef"

// hubKey is the key the node derives from testSecret to sign hub tokens
// (server.derive), so that tests can mint tokens a real client could not.
func hubKey() []byte {
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte("hub access token"))
	return m.Sum(nil)
}

// node is a running server for one test.
type node struct {
	t    *testing.T
	srv  *server.Server
	base string
	db   string
}

// start runs server.New(cfg).Run on 127.0.0.1:0 until the test ends.
func start(t *testing.T, cfg server.Config) *node {
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
		cfg.OfflineGrace = 50 * time.Millisecond
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
	return &node{t: t, srv: srv, base: "http://" + srv.Addr(), db: cfg.DB}
}

// client is a signed-in browser: an HTTP client with its session cookie.
type client struct {
	t    testing.TB
	base string
	http *http.Client
	ID   string
	Name string
}

// anon is a client without a session.
func anon(t testing.TB, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// guest signs a new guest in on the server at base.
func guest(t testing.TB, base, name string) *client {
	t.Helper()
	c := anon(t, base)
	var me struct{ ClientPrincipal struct{ UserID string } }
	if st := c.do("POST", "/.auth/login/guest", map[string]string{"name": name}, &me); st != 200 {
		t.Fatalf("guest sign-in %q: status %d", name, st)
	}
	c.ID, c.Name = me.ClientPrincipal.UserID, name
	return c
}

func (n *node) guest(name string) *client { return guest(n.t, n.base, name) }

// do sends a request (body as JSON when not nil) and decodes a JSON answer
// into out; it returns the status.
func (c *client) do(method, path string, body, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: status %d, bad JSON %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// token returns an access URL for the client's own user.
func (c *client) token() (tokenURL, token string) {
	c.t.Helper()
	var tok struct{ Token, URL string }
	if st := c.do("GET", "/api/getToken", nil, &tok); st != 200 {
		c.t.Fatalf("getToken: status %d", st)
	}
	return tok.URL, tok.Token
}

// connect opens a socket and returns it after the connected frame and the
// userOnline for its own user.
func (c *client) connect(protocol string) *wsclient.Conn {
	c.t.Helper()
	u, _ := c.token()
	conn, err := wsclient.Dial(context.Background(), u, protocol, nil)
	if err != nil {
		c.t.Fatalf("dial: %v", err)
	}
	c.t.Cleanup(func() { conn.Drop() })
	f, err := conn.Next(5 * time.Second)
	if err != nil || f.Type != "system" || f.Event != "connected" || f.UserID != c.ID {
		c.t.Fatalf("first frame: got %+v (%v), want connected for %s", f, err, c.ID)
	}
	if _, err := conn.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		n, d, ok := f.ServerEvent()
		return ok && n == "userOnline" && strings.Contains(d, `"userId":"`+c.ID+`"`)
	}); err != nil {
		c.t.Fatalf("own userOnline: %v", err)
	}
	return conn
}

// mustAck sends an event and fails unless it is acked with success.
func mustAck(t testing.TB, c *wsclient.Conn, name string, data any) {
	t.Helper()
	f, err := c.Event(name, data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !f.Success {
		t.Fatalf("%s: ack error %+v", name, f.Error)
	}
}

// ackName sends a frame and returns the ack's error name ("" on success).
func ackName(t testing.TB, c *wsclient.Conn, frame map[string]any) string {
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

func event(name string, data any) map[string]any {
	dt := "json"
	if _, ok := data.(string); ok {
		dt = "text"
	}
	return map[string]any{"type": "event", "event": name, "dataType": dt, "data": data}
}

func send(group, text string) map[string]any {
	return map[string]any{"type": "sendToGroup", "group": group, "dataType": "json", "data": map[string]any{"message": text}}
}

type chatMsg struct {
	Message, FromUserID, FromUserName, Time string
	ID                                      int64
}

// say sends a chat message, waits for its ack and returns the stored id
// from the sender's echo.
func say(t testing.TB, c *wsclient.Conn, chatID, text string) int64 {
	t.Helper()
	f, err := c.Call(send(chatID, text))
	if err != nil || !f.Success {
		t.Fatalf("say %q: %+v %v", text, f.Error, err)
	}
	return waitChat(t, c, chatID, text).ID
}

// waitChat waits for a chat message with the given text in chatID.
func waitChat(t testing.TB, c *wsclient.Conn, chatID, text string) chatMsg {
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

// history reads a chat's whole history, oldest first.
func (c *client) history(chatID string) []chatMsg {
	c.t.Helper()
	var all []chatMsg
	before := ""
	for {
		var page struct {
			Messages []chatMsg
			HasMore  bool
		}
		if st := c.do("GET", "/api/chats/"+url.PathEscape(chatID)+"/messages?limit=200"+before, nil, &page); st != 200 {
			c.t.Fatalf("history of %s: status %d", chatID, st)
		}
		all = append(page.Messages, all...)
		if !page.HasMore || len(page.Messages) == 0 {
			return all
		}
		before = "&before=" + strconv.FormatInt(page.Messages[0].ID, 10)
	}
}

// Building and running the real binary.

var built struct {
	once sync.Once
	path string
	err  error
}

// chatrBinary builds cmd/chatr once per test process; with
// CHATR_E2E_RACE=1 with the race detector (its reports go to stderr).
func chatrBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "chatr-e2e-bin")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "chatr")
		args := []string{"build", "-o", built.path}
		if os.Getenv("CHATR_E2E_RACE") == "1" {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "../cmd/chatr")...).CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is the chatr binary running for a test.
type process struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

// startProcess runs the binary on db with extra flags and waits until
// /readyz answers 200.
func startProcess(t testing.TB, db string, port int, extra ...string) *process {
	t.Helper()
	args := append([]string{"--addr", "127.0.0.1:" + strconv.Itoa(port), "--db", db, "--log-level", "error",
		"--offline-grace", "100ms"}, extra...)
	cmd := exec.Command(chatrBinary(t), args...)
	cmd.Env = append(os.Environ(), "CHATR_SECRET="+testSecret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("chatr exited during start-up: %v", cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("chatr did not become ready")
	return nil
}

// PostgreSQL.

var pg struct {
	once sync.Once
	url  string
	pool *pgxpool.Pool
	err  error
}

// postgresAdmin returns the test server's URL and a pool on it; without a
// reachable server the test is skipped, or fails when CI=true.
func postgresAdmin(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	pg.once.Do(func() {
		pg.url = os.Getenv("CHATR_TEST_POSTGRES")
		if pg.url == "" {
			pg.url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pg.pool, pg.err = pgxpool.New(ctx, pg.url)
		if pg.err == nil {
			pg.err = pg.pool.Ping(ctx)
		}
	})
	if pg.err != nil {
		msg := "PostgreSQL at " + pg.url + " (CHATR_TEST_POSTGRES) is unreachable: " + pg.err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return pg.url, pg.pool
}

// postgresSchema creates an empty schema, dropped when the test ends, and
// returns a postgres:// URL whose search_path is that schema.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base, pool := postgresAdmin(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "chatr_e2e_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("CHATR_TEST_POSTGRES must be a postgres:// URL, got %q", base)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
