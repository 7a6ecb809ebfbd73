package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/redis"
)

const (
	testSecret = "cluster-test-secret-0123456789"
	dropInKey  = "cluster-test-drop-in-access-key-0123" // drop-in Web PubSub mode
)

// unavailable skips the test, or fails it under CI=true.
func unavailable(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// services returns a PostgreSQL URL on a fresh schema and a Redis URL with
// a fresh key prefix, both removed when the test ends.
func services(t *testing.T) (pgURL, redisURL, prefix string) {
	t.Helper()
	pgURL, redisURL = os.Getenv("CHATR_TEST_POSTGRES"), os.Getenv("CHATR_TEST_REDIS")
	if pgURL == "" || redisURL == "" {
		unavailable(t, "the cluster test needs CHATR_TEST_POSTGRES and CHATR_TEST_REDIS (see .ci/run)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pg, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		unavailable(t, "PostgreSQL at "+pgURL+" (CHATR_TEST_POSTGRES) is unreachable: "+err.Error())
	}
	schema := "chatr_cluster_" + randomHex(6)
	if _, err := pg.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		pg.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pg.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		pg.Close(ctx)
	})
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatalf("CHATR_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	pgURL = u.String()

	rdb, err := redis.Connect(ctx, redisURL)
	if err != nil {
		unavailable(t, "Redis at "+redisURL+" (CHATR_TEST_REDIS) is unreachable: "+err.Error())
	}
	prefix = "chatr-cluster-" + randomHex(6) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return pgURL, redisURL, prefix
}

// buildChatr builds the real binary (once per test process).
func buildChatr(t *testing.T) string { return testnode.ChatrBinary(t) }

// node is one chatr process of the cluster.
type node struct {
	id   string
	addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	base string
}

var freePort = testnode.FreePort

// startNodes starts n processes on one database and Redis prefix and waits
// until each is ready.
func startNodes(t *testing.T, bin, pgURL, redisURL, prefix string, n int) []*node {
	t.Helper()
	nodes := make([]*node, n)
	for i := range nodes {
		nd := &node{id: fmt.Sprintf("n%d", i+1), addr: "127.0.0.1:" + strconv.Itoa(freePort(t))}
		nd.base = "http://" + nd.addr
		nd.cmd = exec.Command(bin, "--addr", nd.addr, "--db", pgURL, "--redis", redisURL, "--redis-prefix", prefix,
			"--node-id", nd.id, "--log-level", "warn", "--offline-grace", "300ms",
			"--messages-per-second", "100000", "--message-burst", "100000",
			"--requests-per-second", "-1", "--sign-ins-per-minute", "-1",
			"--webpubsub-access-key", dropInKey)
		nd.cmd.Env = append(os.Environ(), "CHATR_SECRET="+testSecret)
		nd.cmd.Stderr = &prefixWriter{prefix: nd.id + ": ", w: os.Stderr}
		if err := nd.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.cmd.Process.Kill(); nd.cmd.Wait() })
		nodes[i] = nd
	}
	for _, nd := range nodes {
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(nd.base + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s did not become ready", nd.id)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}

// prefixWriter labels a process's log lines.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			io.WriteString(p.w, p.prefix+line)
		}
	}
	return len(b), nil
}

// user is a browser: one cookie jar, used against whichever node it talks to
// (sessions live in the shared database; cookies on 127.0.0.1 ignore ports).
type user struct {
	t    *testing.T
	Name string
	ID   string
	http *http.Client
}

func signIn(t *testing.T, n *node, name string) *user {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &user{t: t, Name: name, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	var me struct{ ClientPrincipal struct{ UserID string } }
	if st := u.do(n, "POST", "/.auth/login/guest", map[string]string{"name": name}, &me); st != 200 {
		t.Fatalf("guest sign-in %q on %s: status %d", name, n.id, st)
	}
	u.ID = me.ClientPrincipal.UserID
	return u
}

func (u *user) do(n *node, method, path string, body, out any) int {
	u.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := u.http.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s on %s: %v", method, path, n.id, err)
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

// token gets an access URL for the user from node n.
func (u *user) token(n *node) string {
	u.t.Helper()
	var tok struct{ URL string }
	if st := u.do(n, "GET", "/api/getToken", nil, &tok); st != 200 {
		u.t.Fatalf("getToken on %s: status %d", n.id, st)
	}
	return tok.URL
}

// connect opens a reliable connection to node n and returns it with its
// connected frame, after the userOnline for the user's own id.
func (u *user) connect(n *node) (*wsclient.Conn, wsclient.Frame) {
	u.t.Helper()
	c, err := wsclient.Dial(context.Background(), u.token(n), wsclient.Reliable, nil)
	if err != nil {
		u.t.Fatalf("%s: dial %s: %v", u.Name, n.id, err)
	}
	u.t.Cleanup(func() { c.Drop() })
	hello, err := c.Next(5 * time.Second)
	if err != nil || hello.Type != "system" || hello.Event != "connected" {
		u.t.Fatalf("%s: first frame %+v (%v), want connected", u.Name, hello, err)
	}
	waitEvent(u.t, c, u.Name, "userOnline", func(d string) bool { return strings.Contains(d, `"userId":"`+u.ID+`"`) })
	return c, hello
}

// waitEvent waits for a server event whose data satisfies match.
func waitEvent(t *testing.T, c *wsclient.Conn, who, name string, match func(data string) bool) string {
	t.Helper()
	f, err := c.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
		n, d, ok := f.ServerEvent()
		return ok && n == name && (match == nil || match(d))
	})
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v", who, name, err)
	}
	_, d, _ := f.ServerEvent()
	return d
}

func mustEvent(t *testing.T, c *wsclient.Conn, name string, data any) {
	t.Helper()
	f, err := c.Event(name, data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !f.Success {
		t.Fatalf("%s: ack error %+v", name, f.Error)
	}
}

// chatMsg is a chat message as members receive it and history lists it.
type chatMsg struct {
	Message      string `json:"message"`
	FromUserID   string `json:"fromUserId"`
	FromUserName string `json:"fromUserName"`
	ID           int64  `json:"id"`
}

// waitChat waits for a chat message with the given text in chatID.
func waitChat(t *testing.T, c *wsclient.Conn, who, chatID, text string) chatMsg {
	t.Helper()
	var m chatMsg
	_, err := c.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
		m = chatMsg{}
		return f.Type == "message" && f.From == "group" && f.Group == chatID &&
			json.Unmarshal(f.Data, &m) == nil && m.Message == text
	})
	if err != nil {
		t.Fatalf("%s: waiting for %q in %s: %v", who, text, chatID, err)
	}
	return m
}

// history reads a chat's whole history, page by page.
func (u *user) history(n *node, chatID string) []chatMsg {
	u.t.Helper()
	var all []chatMsg
	before := ""
	for {
		var page struct {
			Messages []chatMsg
			HasMore  bool
		}
		if st := u.do(n, "GET", "/api/chats/"+chatID+"/messages?limit=200"+before, nil, &page); st != 200 {
			u.t.Fatalf("history of %s on %s: status %d", chatID, n.id, st)
		}
		all = append(page.Messages, all...)
		if !page.HasMore || len(page.Messages) == 0 {
			return all
		}
		before = "&before=" + strconv.FormatInt(page.Messages[0].ID, 10)
	}
}

// online lists the ids /api/users shows as online on node n.
func (u *user) online(n *node) map[string]bool {
	u.t.Helper()
	var out struct {
		Users map[string]struct {
			UserID string `json:"userId"`
		} `json:"users"`
	}
	if st := u.do(n, "GET", "/api/users", nil, &out); st != 200 {
		u.t.Fatalf("/api/users on %s: status %d", n.id, st)
	}
	ids := map[string]bool{}
	for id := range out.Users {
		ids[id] = true
	}
	return ids
}

// stamped is a frame and when it arrived.
type stamped struct {
	wsclient.Frame
	at time.Time
}

// recorder reads every frame of a connection on a goroutine of its own
// until stopped or the connection ends.
type recorder struct {
	mu     sync.Mutex
	frames []stamped
	stop   chan struct{}
	done   chan struct{}
}

func record(c *wsclient.Conn) *recorder {
	r := &recorder{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		unacked := 0
		for {
			select {
			case <-r.stop:
				return
			default:
			}
			f, err := c.Next(100 * time.Millisecond)
			if err != nil {
				if c.Err() != nil {
					return
				}
				continue
			}
			r.mu.Lock()
			r.frames = append(r.frames, stamped{f, time.Now()})
			r.mu.Unlock()
			// Acknowledge sequence ids as the SDK does, so that the
			// server's unacked buffer stays small.
			if f.SequenceID > 0 {
				if unacked++; unacked >= 50 {
					c.Send(map[string]any{"type": "sequenceAck", "sequenceId": f.SequenceID})
					unacked = 0
				}
			}
		}
	}()
	return r
}

// snapshot returns the frames so far.
func (r *recorder) snapshot() []stamped {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stamped(nil), r.frames...)
}

// finish stops the recorder and returns every frame it read.
func (r *recorder) finish() []stamped {
	close(r.stop)
	<-r.done
	return r.snapshot()
}
