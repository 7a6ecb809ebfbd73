package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/server"
)

// node runs a server on the SQLite file until the test ends and returns a
// client signed in as a new guest, with the guest's id.
func node(t *testing.T, db string) (base string, stop func()) {
	t.Helper()
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", DB: db})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return "http://" + srv.Addr(), stop
}

func signInGuest(t *testing.T, base, name string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(base+"/.auth/login/guest", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct {
		ClientPrincipal struct{ UserID string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || me.ClientPrincipal.UserID == "" {
		t.Fatalf("guest sign-in: %d, %v", resp.StatusCode, err)
	}
	return c, me.ClientPrincipal.UserID
}

func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAdminAgainstRunningServer runs each admin command while a server
// serves the same database.
func TestAdminAgainstRunningServer(t *testing.T) {
	db := sqliteDB(t)
	base, stop := node(t, db)
	alice, aliceID := signInGuest(t, base, "Alice")
	bob, bobID := signInGuest(t, base, "Bob")
	if got := status(t, alice, base+"/api/chats"); got != http.StatusOK {
		t.Fatalf("signed in: %d", got)
	}
	admin := func(args ...string) string {
		t.Helper()
		out, err := runCommand(t, append([]string{"admin", "--db", db}, args...)...)
		if err != nil {
			t.Fatalf("admin %v: %v\n%s", args, err, out)
		}
		return out
	}

	out := admin("list")
	if !strings.Contains(out, aliceID) || !strings.Contains(out, bobID) {
		t.Errorf("list:\n%s", out)
	}

	admin("grant", aliceID)
	if ids, _ := readAdmins(db + ".admins"); len(ids) != 1 || ids[0] != aliceID {
		t.Errorf("admins file after grant: %v", ids)
	}
	if out := admin("list"); !strings.Contains(out, "true") {
		t.Errorf("list after grant:\n%s", out)
	}
	admin("revoke", aliceID)
	if ids, _ := readAdmins(db + ".admins"); len(ids) != 0 {
		t.Errorf("admins file after revoke: %v", ids)
	}
	if _, err := runCommand(t, "admin", "--db", db, "grant", "nobody"); err == nil {
		t.Error("grant to an unknown user succeeded")
	}

	admin("ban", bobID)
	if got := status(t, bob, base+"/api/chats"); got != http.StatusUnauthorized {
		t.Errorf("banned user's next request: %d, want 401", got)
	}
	st := open(t, db)
	if u, err := st.GetUser(context.Background(), bobID); err != nil || !u.Banned {
		t.Errorf("after ban: %+v, %v", u, err)
	}
	admin("unban", bobID)
	if u, err := st.GetUser(context.Background(), bobID); err != nil || u.Banned {
		t.Errorf("after unban: %+v, %v", u, err)
	}

	admin("delete", bobID, "--on-account-delete", "remove")
	if _, err := st.GetUser(context.Background(), bobID); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("after delete: %v", err)
	}

	// A new secret: sessions survive a restart with it.
	secretFile := db + ".secret"
	old, err := os.ReadFile(secretFile)
	if err != nil {
		t.Fatal(err)
	}
	oldToken := accessToken(t, alice, base)
	admin("rotate-secret")
	now, _ := os.ReadFile(secretFile)
	if len(now) < 32 || string(now) == string(old) {
		t.Fatalf("secret not rotated: %q", now)
	}
	stop()
	base2, _ := node(t, db)
	aliceAgain := &http.Client{Jar: alice.Jar}
	for _, c := range alice.Jar.Cookies(mustURL(t, base)) {
		aliceAgain.Jar.SetCookies(mustURL(t, base2), []*http.Cookie{c})
	}
	if got := status(t, aliceAgain, base2+"/api/chats"); got != http.StatusOK {
		t.Errorf("session after the secret's rotation: %d, want 200", got)
	}
	// An access token signed with the old secret is refused; a new one is
	// not.
	if got := wsStatus(t, base2, oldToken); got != http.StatusUnauthorized {
		t.Errorf("old access token after rotation: %d, want 401", got)
	}
	newToken := accessToken(t, aliceAgain, base2)
	if got := wsStatus(t, base2, newToken); got != http.StatusSwitchingProtocols {
		t.Errorf("new access token after rotation: %d", got)
	}
	if fi, err := os.Stat(filepath.Clean(secretFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: %v, %v", fi.Mode(), err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func accessToken(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "/api/getToken")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("getToken: %d, %v", resp.StatusCode, err)
	}
	return tok.Token
}

// wsStatus opens the hub's WebSocket with the access token and returns the
// handshake's status: 101 when the token is accepted.
func wsStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/client/hubs/chat?access_token="+url.QueryEscape(token), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", hub.ProtocolJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
