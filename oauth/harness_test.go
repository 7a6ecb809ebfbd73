package oauth_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/server"
)

// TestMain stops the OpenID Connect provider process after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if op.cmd != nil {
		op.stdin.Close()
		_ = op.cmd.Process.Kill()
		_ = op.cmd.Wait()
	}
	os.Exit(code)
}

// op is the real OpenID Connect provider (oidc-provider on Node, see
// testdata/op/op.mjs) shared by the tests: two issuers a and b with the same
// signing key.
var op struct {
	once  sync.Once
	err   error
	cmd   *exec.Cmd
	stdin io.WriteCloser
	A, B  string
}

// requireOP starts the provider process once. Without node or the npm
// packages the test skips, except under CI=true where it fails.
func requireOP(t *testing.T) (a, b string) {
	t.Helper()
	op.once.Do(func() { op.err = launchOP() })
	if op.err != nil {
		msg := fmt.Sprintf("OpenID Connect test provider unavailable: %v (needs node on PATH and `npm ci` in oauth/testdata/op, which `make test` does)", op.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return op.A, op.B
}

func launchOP() error {
	node, err := exec.LookPath("node")
	if err != nil {
		return err
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "op"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil {
		return errors.New("oidc-provider is not installed in testdata/op/node_modules")
	}
	cmd := exec.Command(node, "op.mjs")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		return err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		var issuers struct{ A, B string }
		if err := json.Unmarshal([]byte(s), &issuers); err != nil || issuers.A == "" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("provider did not start: %q, stderr: %s", s, stderr.String())
		}
		op.cmd, op.stdin, op.A, op.B = cmd, stdin, issuers.A, issuers.B
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("provider did not start within 30 s, stderr: %s", stderr.String())
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startNode runs a Chatr server on 127.0.0.1:0 without per-IP limits and
// returns its base URL.
func startNode(t *testing.T, cfg server.Config) string {
	t.Helper()
	cfg.RequestsPerSecond, cfg.SignInsPerMinute = -1, -1
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return testnode.Start(t, cfg).Base
}

// browser is a user agent with its own cookies that follows no redirect by
// itself, so that tests can look at (and tamper with) each step.
type browser struct {
	t    *testing.T
	base string // Chatr
	jar  *cookiejar.Jar
	http *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, jar: jar, http: &http.Client{
		Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	Status   int
	Location string // as sent
	Next     string // Location resolved against the request URL
	Body     []byte
	Header   http.Header
}

// get fetches an absolute URL or a path on Chatr.
func (b *browser) get(u string) response {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.base + u
	}
	resp, err := b.http.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: body, Header: resp.Header}
	if r.Location != "" {
		if l, err := resp.Request.URL.Parse(r.Location); err == nil {
			r.Next = l.String()
		}
	}
	return r
}

// startSignIn asks Chatr to sign in with provider and returns the URL of
// the provider's authorization request.
func (b *browser) startSignIn(provider, target string) *url.URL {
	b.t.Helper()
	path := "/.auth/login/" + provider
	if target != "" {
		path += "?post_login_redirect_uri=" + url.QueryEscape(target)
	}
	r := b.get(path)
	if r.Status != http.StatusFound {
		b.t.Fatalf("GET %s: status %d, want 302; body %s", path, r.Status, r.Body)
	}
	u, err := url.Parse(r.Location)
	if err != nil || u.Host == "" {
		b.t.Fatalf("GET %s: Location %q is not an absolute URL", path, r.Location)
	}
	return u
}

// authorize follows the provider's redirects from the authorization request
// until it sends the browser back to Chatr, and returns that callback URL
// without fetching it.
func (b *browser) authorize(authURL *url.URL) *url.URL {
	b.t.Helper()
	next := authURL.String()
	for i := 0; i < 10; i++ {
		if strings.HasPrefix(next, b.base+"/") {
			u, _ := url.Parse(next)
			return u
		}
		r := b.get(next)
		if r.Status < 300 || r.Status > 399 {
			b.t.Fatalf("provider at %s: status %d, body %s", next, r.Status, r.Body)
		}
		next = r.Next
	}
	b.t.Fatalf("provider redirected more than 10 times")
	return nil
}

// signIn runs a whole sign-in and returns where Chatr finally sent the browser.
func (b *browser) signIn(provider, target string) string {
	b.t.Helper()
	cb := b.authorize(b.startSignIn(provider, target))
	r := b.get(cb.String())
	if r.Status != http.StatusFound {
		b.t.Fatalf("callback: status %d, want 302; body %s", r.Status, r.Body)
	}
	return r.Location
}

type principal struct {
	IdentityProvider string   `json:"identityProvider"`
	UserID           string   `json:"userId"`
	UserDetails      string   `json:"userDetails"`
	UserRoles        []string `json:"userRoles"`
}

// me returns /.auth/me's principal, nil when signed out.
func (b *browser) me() *principal {
	b.t.Helper()
	r := b.get("/.auth/me")
	var out struct {
		ClientPrincipal *principal `json:"clientPrincipal"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &out) != nil {
		b.t.Fatalf("/.auth/me: status %d, body %s", r.Status, r.Body)
	}
	return out.ClientPrincipal
}

// cookie returns the browser's cookie name as sent to Chatr's path.
func (b *browser) cookie(path, name string) *http.Cookie {
	u, _ := url.Parse(b.base + path)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// apiError decodes a JSON error answer.
func apiError(t *testing.T, r response) (code, message string) {
	t.Helper()
	var e struct{ Error, Message string }
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("status %d, body %q is not a JSON error", r.Status, r.Body)
	}
	return e.Error, e.Message
}

// wantRefused checks that a callback was answered with a JSON error of the
// given status whose message contains want, and that nobody is signed in.
func (b *browser) wantRefused(r response, status int, want string) {
	b.t.Helper()
	if r.Status != status {
		b.t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if _, msg := apiError(b.t, r); !strings.Contains(msg, want) {
		b.t.Errorf("message %q, want it to contain %q", msg, want)
	}
	if p := b.me(); p != nil {
		b.t.Errorf("signed in as %+v after a refused sign-in", p)
	}
}
