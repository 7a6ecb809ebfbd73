// Package testnode starts Chatr for end-to-end tests and talks to it as a
// browser would: a node in this process or the real binary, guests signed
// in over HTTP, sockets through internal/wsclient, chat helpers, and a fresh
// PostgreSQL schema per test. Only tests import it.
package testnode

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

// Secret is the signing secret of every node the tests start.
const Secret = "test-secret-0123456789abcdef"

// HubKey is the key the node derives from Secret to sign hub tokens
// (server.derive), so that tests can mint tokens a real client could not.
func HubKey() []byte {
	m := hmac.New(sha256.New, []byte(Secret))
	m.Write([]byte("hub access token"))
	return m.Sum(nil)
}

// Node is a server running in this process for one test.
type Node struct {
	T    testing.TB
	Srv  *server.Server
	Base string // http://127.0.0.1:<port>
	DB   string

	stop     func()
	stopOnce sync.Once
}

// Start runs server.New(cfg).Run on 127.0.0.1:0 (by default on a fresh
// SQLite file, with Secret and a 50 ms offline grace) until the test ends.
func Start(t testing.TB, cfg server.Config) *Node {
	t.Helper()
	if cfg.DB == "" {
		cfg.DB = filepath.Join(t.TempDir(), "chatr.db")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Secret == "" {
		cfg.Secret = Secret
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
	n := &Node{T: t, Srv: srv, Base: "http://" + srv.Addr(), DB: cfg.DB}
	n.stop = func() {
		n.stopOnce.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(n.stop)
	return n
}

// Stop shuts the node down and waits until it has (a restart is Stop, then
// Start on the same DB).
func (n *Node) Stop() { n.stop() }

// Client is a browser: an HTTP client with its session cookie (none for
// Anon), which does not follow redirects.
type Client struct {
	T    testing.TB
	Base string
	HTTP *http.Client
	ID   string
	Name string
}

// Anon is a client without a session.
func Anon(t testing.TB, base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: t, Base: base, HTTP: &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Guest signs a new guest in on the server at base.
func Guest(t testing.TB, base, name string) *Client {
	t.Helper()
	c := Anon(t, base)
	var me struct{ ClientPrincipal struct{ UserID string } }
	if st := c.Do("POST", "/.auth/login/guest", map[string]string{"name": name}, &me); st != 200 {
		t.Fatalf("guest sign-in %q: status %d", name, st)
	}
	c.ID, c.Name = me.ClientPrincipal.UserID, name
	return c
}

// Guest signs a new guest in on the node.
func (n *Node) Guest(name string) *Client { return Guest(n.T, n.Base, name) }

// Do sends a request (body as JSON when not nil) and decodes a JSON answer
// into out; it returns the status.
func (c *Client) Do(method, path string, body, out any) int {
	c.T.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.Base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.T.Fatalf("%s %s: status %d, bad JSON %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// Token returns an access URL for the client's own user.
func (c *Client) Token() (tokenURL, token string) {
	c.T.Helper()
	var tok struct{ Token, URL string }
	if st := c.Do("GET", "/api/getToken", nil, &tok); st != 200 {
		c.T.Fatalf("getToken: status %d", st)
	}
	return tok.URL, tok.Token
}

// Connect opens a socket and returns it after the connected frame and the
// userOnline for its own user.
func (c *Client) Connect(protocol string) *wsclient.Conn {
	c.T.Helper()
	u, _ := c.Token()
	conn, err := wsclient.Dial(context.Background(), u, protocol, nil)
	if err != nil {
		c.T.Fatalf("dial: %v", err)
	}
	c.T.Cleanup(func() { conn.Drop() })
	f, err := conn.Next(5 * time.Second)
	if err != nil || f.Type != "system" || f.Event != "connected" || f.UserID != c.ID {
		c.T.Fatalf("first frame: got %+v (%v), want connected for %s", f, err, c.ID)
	}
	if _, err := conn.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		n, d, ok := f.ServerEvent()
		return ok && n == "userOnline" && strings.Contains(d, `"userId":"`+c.ID+`"`)
	}); err != nil {
		c.T.Fatalf("own userOnline: %v", err)
	}
	return conn
}

// MustAck sends an event and fails unless it is acked with success.
func MustAck(t testing.TB, c *wsclient.Conn, name string, data any) {
	t.Helper()
	f, err := c.Event(name, data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !f.Success {
		t.Fatalf("%s: ack error %+v", name, f.Error)
	}
}

// AckName sends a frame and returns the ack's error name ("" on success).
func AckName(t testing.TB, c *wsclient.Conn, frame map[string]any) string {
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

// Event is an event frame, with dataType text for a string.
func Event(name string, data any) map[string]any {
	dt := "json"
	if _, ok := data.(string); ok {
		dt = "text"
	}
	return map[string]any{"type": "event", "event": name, "dataType": dt, "data": data}
}

// Send is a sendToGroup frame carrying a chat message.
func Send(group, text string) map[string]any {
	return map[string]any{"type": "sendToGroup", "group": group, "dataType": "json", "data": map[string]any{"message": text}}
}

// ChatMsg is a chat message as members receive it and history lists it.
type ChatMsg struct {
	Message, FromUserID, FromUserName, Time string
	ID                                      int64
}

// Say sends a chat message, waits for its ack and returns the stored id
// from the sender's echo.
func Say(t testing.TB, c *wsclient.Conn, chatID, text string) int64 {
	t.Helper()
	f, err := c.Call(Send(chatID, text))
	if err != nil || !f.Success {
		t.Fatalf("say %q: %+v %v", text, f.Error, err)
	}
	return WaitChat(t, c, chatID, text).ID
}

// WaitChat waits for a chat message with the given text in chatID.
func WaitChat(t testing.TB, c *wsclient.Conn, chatID, text string) ChatMsg {
	t.Helper()
	var m ChatMsg
	_, err := c.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		if f.Type != "message" || f.From != "group" || f.Group != chatID {
			return false
		}
		m = ChatMsg{}
		return json.Unmarshal(f.Data, &m) == nil && m.Message == text
	})
	if err != nil {
		t.Fatalf("waiting for %q in %s: %v", text, chatID, err)
	}
	return m
}

// History reads a chat's whole history, oldest first.
func (c *Client) History(chatID string) []ChatMsg {
	c.T.Helper()
	var all []ChatMsg
	before := ""
	for {
		var page struct {
			Messages []ChatMsg
			HasMore  bool
		}
		if st := c.Do("GET", "/api/chats/"+url.PathEscape(chatID)+"/messages?limit=200"+before, nil, &page); st != 200 {
			c.T.Fatalf("history of %s: status %d", chatID, st)
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

// ChatrBinary builds cmd/chatr once per test process; with
// CHATR_E2E_RACE=1 with the race detector (its reports go to stderr).
func ChatrBinary(t testing.TB) string {
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
		out, err := exec.Command("go", append(args, "github.com/chatr/chatr/cmd/chatr")...).CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Process is the chatr binary running for a test.
type Process struct {
	Cmd  *exec.Cmd
	Base string
	Done chan struct{} // closed when the process has exited
}

// StartProcess runs the binary on db with extra flags and waits until
// /readyz answers 200.
func StartProcess(t testing.TB, db string, port int, extra ...string) *Process {
	t.Helper()
	args := append([]string{"--addr", "127.0.0.1:" + strconv.Itoa(port), "--db", db, "--log-level", "error",
		"--offline-grace", "100ms"}, extra...)
	cmd := exec.Command(ChatrBinary(t), args...)
	cmd.Env = append(os.Environ(), "CHATR_SECRET="+Secret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: cmd, Base: fmt.Sprintf("http://127.0.0.1:%d", port), Done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.Done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.Done })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.Done:
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

// PostgresAdmin returns the test server's URL and a pool on it; without a
// reachable server the test is skipped, or fails when CI=true.
func PostgresAdmin(t testing.TB) (string, *pgxpool.Pool) {
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

// PostgresSchema creates an empty schema, dropped when the test ends, and
// returns a postgres:// URL whose search_path is that schema.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base, pool := PostgresAdmin(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "chatr_test_" + hex.EncodeToString(b[:])
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

// WaitEvent waits for the server event name whose data satisfies match
// (any, when match is nil) and returns its data.
func WaitEvent(t testing.TB, c *wsclient.Conn, name string, match func(data string) bool) string {
	t.Helper()
	f, err := c.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		n, d, ok := f.ServerEvent()
		return ok && n == name && (match == nil || match(d))
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", name, err)
	}
	_, d, _ := f.ServerEvent()
	return d
}
