package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// person is a user as the people directory shows them.
type person struct {
	UserID, UserName, UserProvider, Handle string
	Online, Idle                           bool
	LastSeen                               time.Time
}

// eventually polls cond until it holds or five seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPeopleDirectory(t *testing.T) {
	n := testnode.Start(t, server.Config{})
	alice := n.Guest("Alice")
	for _, name := range []string{"Bob", "Carol", "Dave", "Erin"} {
		n.Guest(name)
	}
	bob := n.Guest("Bob") // a second Bob gets a handle of his own
	alice.Connect(wsclient.Reliable)

	// The original answer: online users only, in the original's shape, plus lastSeen.
	var online struct{ Users map[string]map[string]any }
	if st := alice.Do("GET", "/api/users", nil, &online); st != 200 || len(online.Users) != 1 {
		t.Fatalf("/api/users: status %d, %d users, want 200 and only alice online", st, len(online.Users))
	}
	for _, k := range []string{"userId", "userName", "userProvider", "idle"} {
		if _, ok := online.Users[alice.ID][k]; !ok {
			t.Errorf("/api/users lacks %q for alice: %v", k, online.Users[alice.ID])
		}
	}

	// Every user, by handle, two to a page.
	var handles []string
	after, pages := "", 0
	for {
		var page struct {
			Users map[string]person
			Next  string
		}
		if st := alice.Do("GET", "/api/users?all=1&limit=2&after="+after, nil, &page); st != 200 || len(page.Users) > 2 {
			t.Fatalf("page %d: status %d, %d users", pages, st, len(page.Users))
		}
		var got []string
		for id, p := range page.Users {
			if p.UserID != id || p.Handle == "" {
				t.Errorf("user %s shown as %+v", id, p)
			}
			if p.Online != (id == alice.ID) {
				t.Errorf("user %s online = %v", p.Handle, p.Online)
			}
			got = append(got, p.Handle)
		}
		slices.Sort(got)
		handles = append(handles, got...)
		pages++
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	want := []string{"alice", "bob", "bob2", "carol", "dave", "erin"}
	if !slices.Equal(handles, want) || pages != 3 {
		t.Errorf("handles %v in %d pages, want %v in 3", handles, pages, want)
	}

	// Search by name or handle.
	for q, want := range map[string][]string{"car": {"carol"}, "@BOB": {"bob", "bob2"}, "zz": nil} {
		var page struct{ Users map[string]person }
		if st := alice.Do("GET", "/api/users?q="+q, nil, &page); st != 200 {
			t.Fatalf("q=%s: status %d", q, st)
		}
		var got []string
		for _, p := range page.Users {
			got = append(got, p.Handle)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("q=%s: %v, want %v", q, got, want)
		}
	}
	for _, bad := range []string{"all=1&limit=0", "all=1&limit=201", "all=1&limit=x", "q=" + strings.Repeat("a", 65)} {
		if st := alice.Do("GET", "/api/users?"+bad, nil, nil); st != 400 {
			t.Errorf("?%s: status %d, want 400", bad, st)
		}
	}

	// One user; last seen once their last connection is gone.
	c := bob.Connect(wsclient.Reliable)
	var p person
	if st := alice.Do("GET", "/api/users/"+bob.ID, nil, &p); st != 200 || !p.Online || p.Handle != "bob2" {
		t.Fatalf("/api/users/bob: status %d, %+v, want bob2 online", st, p)
	}
	c.Close()
	eventually(t, "bob offline with a last-seen time", func() bool {
		p = person{}
		alice.Do("GET", "/api/users/"+bob.ID, nil, &p)
		return !p.Online && !p.LastSeen.IsZero()
	})
	if time.Since(p.LastSeen) > time.Minute {
		t.Errorf("bob last seen %v", p.LastSeen)
	}
	if st := alice.Do("GET", "/api/users/guest:nobody", nil, nil); st != 404 {
		t.Errorf("unknown user: status %d, want 404", st)
	}
	if st := testnode.Anon(t, n.Base).Do("GET", "/api/users?all=1", nil, nil); st != 401 {
		t.Errorf("directory without a session: status %d, want 401", st)
	}
}

// me is GET /api/me's answer.
type me struct {
	UserID, UserName, Handle, UserProvider string
	Admin                                  bool
}

// patchMe sends PATCH /api/me with a raw body and an Origin header.
func patchMe(t *testing.T, c *testnode.Client, body, origin string) int {
	t.Helper()
	req, _ := http.NewRequest("PATCH", c.Base+"/api/me", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestProfileAndRename(t *testing.T) {
	n := testnode.Start(t, server.Config{Admins: "@boss"})
	boss, alice, bob, carol := n.Guest("Boss"), n.Guest("Alice"), n.Guest("Bob"), n.Guest("Carol")
	for c, want := range map[*testnode.Client]me{
		boss:  {UserID: boss.ID, UserName: "Boss", Handle: "boss", UserProvider: "guest", Admin: true},
		alice: {UserID: alice.ID, UserName: "Alice", Handle: "alice", UserProvider: "guest"},
	} {
		var got me
		if st := c.Do("GET", "/api/me", nil, &got); st != 200 || got != want {
			t.Errorf("/api/me of %s: status %d, %+v, want %+v", c.Name, st, got, want)
		}
	}

	// Alice and Bob share "general"; Bob and Carol share "other".
	ca, cb, cc := alice.Connect(wsclient.Reliable), bob.Connect(wsclient.Reliable), carol.Connect(wsclient.Reliable)
	testnode.MustAck(t, ca, "createChat", map[string]string{"name": "General", "id": "general"})
	testnode.MustAck(t, ca, "joinChat", "general")
	testnode.MustAck(t, cb, "joinChat", "general")
	testnode.MustAck(t, cb, "createChat", map[string]string{"name": "Other", "id": "other"})
	testnode.MustAck(t, cb, "joinChat", "other")
	testnode.MustAck(t, cc, "joinChat", "other")

	// The display-name rule, and the caller's own origin only.
	for _, body := range []string{`{"userName":""}`, `{"userName":"   "}`, `{"userName":"` + strings.Repeat("a", 33) + `"}`,
		`{"userName":"a\u200bb"}`, `{"userName":"\u0301x"}`, `{}`, `not json`, `{"userName":7}`} {
		if st := patchMe(t, alice, body, ""); st != 400 {
			t.Errorf("PATCH /api/me %s: status %d, want 400", body, st)
		}
	}
	if st := patchMe(t, alice, `{"userName":"Mallory"}`, "https://evil.example"); st != 403 {
		t.Errorf("cross-origin PATCH /api/me: status %d, want 403", st)
	}
	// Only oneself: there is no way to name another user.
	if st := alice.Do("PATCH", "/api/users/"+bob.ID, map[string]string{"userName": "Mallory"}, nil); st != 404 && st != 405 {
		t.Errorf("PATCH /api/users/bob: status %d, want 404 or 405", st)
	}

	var got me
	if st := alice.Do("PATCH", "/api/me", map[string]string{"userName": "  Alicia  "}, &got); st != 200 || got.UserName != "Alicia" || got.Handle != "alice" {
		t.Fatalf("rename: status %d, %+v, want Alicia keeping @alice", st, got)
	}
	renamed := func(d string) bool {
		return strings.Contains(d, `"userId":"`+alice.ID+`"`) && strings.Contains(d, `"userName":"Alicia"`)
	}
	testnode.WaitEvent(t, cb, "userRenamed", renamed) // a member of a shared chat
	testnode.WaitEvent(t, ca, "userRenamed", renamed) // her own connection

	// Carol shares no chat with Alice: Bob's later message in "other"
	// reaches her after anything sent before it, and no rename came first.
	testnode.Say(t, cb, "other", "after the rename")
	for {
		f, err := cc.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("carol: %v", err)
		}
		if name, _, ok := f.ServerEvent(); ok && name == "userRenamed" {
			t.Fatal("carol, who shares no chat with alice, got userRenamed")
		}
		if f.Group == "other" && strings.Contains(string(f.Data), "after the rename") {
			break
		}
	}

	// Her messages carry the new name, and so does her membership.
	testnode.Say(t, ca, "general", "hi as Alicia")
	if m := testnode.WaitChat(t, cb, "general", "hi as Alicia"); m.FromUserName != "Alicia" {
		t.Errorf("message stamped %q, want Alicia", m.FromUserName)
	}
	var p person
	if bob.Do("GET", "/api/users/"+bob.ID, nil, &p); p.UserName != "Bob" {
		t.Errorf("bob is now %q", p.UserName)
	}
}

// The admin endpoints answer 401 without a session, 403 to a user who is
// not an admin, and work for an admin.
func TestAdminPermissions(t *testing.T) {
	n := testnode.Start(t, server.Config{Admins: "@boss"})
	boss, alice, bob := n.Guest("Boss"), n.Guest("Alice"), n.Guest("Bob")
	anon := testnode.Anon(t, n.Base)
	endpoints := []struct{ method, path string }{
		{"POST", "/api/admin/users/" + bob.ID + "/ban"},
		{"DELETE", "/api/admin/users/" + bob.ID + "/ban"},
		{"GET", "/api/admin/modlog"},
		{"GET", "/api/admin/anything"},
	}
	for _, e := range endpoints {
		if st := anon.Do(e.method, e.path, nil, nil); st != 401 {
			t.Errorf("%s %s without a session: status %d, want 401", e.method, e.path, st)
		}
		var out struct{ Error string }
		if st := alice.Do(e.method, e.path, nil, &out); st != 403 || out.Error != "forbidden" {
			t.Errorf("%s %s as a user: status %d, error %q, want 403 forbidden", e.method, e.path, st, out.Error)
		}
	}
	var p person
	if bob.Do("GET", "/api/users/"+bob.ID, nil, &p); p.UserID != bob.ID {
		t.Fatalf("bob's session ended after refused bans: %+v", p)
	}

	for _, e := range endpoints[:2] {
		if st := boss.Do(e.method, e.path, nil, nil); st != 204 {
			t.Errorf("%s %s as admin: status %d, want 204", e.method, e.path, st)
		}
	}
	if st := boss.Do("POST", "/api/admin/users/guest:nobody/ban", nil, nil); st != 404 {
		t.Errorf("ban of an unknown user: status %d, want 404", st)
	}
	if st := boss.Do("POST", "/api/admin/users/"+boss.ID+"/ban", nil, nil); st != 400 {
		t.Errorf("an admin banning an admin: status %d, want 400", st)
	}
	req, _ := http.NewRequest("POST", n.Base+"/api/admin/users/"+alice.ID+"/ban", nil)
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := boss.HTTP.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("cross-origin ban: %v %v, want 403", resp.StatusCode, err)
	}

	var log struct {
		Events []struct {
			ID                        int64
			Actor, Action, TargetUser string
			At                        time.Time
		}
	}
	if st := boss.Do("GET", "/api/admin/modlog?limit=10", nil, &log); st != 200 || len(log.Events) != 2 {
		t.Fatalf("modlog: status %d, %+v, want 2 events", st, log.Events)
	}
	if e := log.Events[0]; e.Action != "unban" || e.Actor != boss.ID || e.TargetUser != bob.ID || e.At.IsZero() {
		t.Errorf("newest event %+v, want boss unbanning bob", e)
	}
	if e := log.Events[1]; e.Action != "ban" || e.Actor != boss.ID || e.TargetUser != bob.ID {
		t.Errorf("oldest event %+v, want boss banning bob", e)
	}
	if st := boss.Do("GET", "/api/admin/modlog?before="+itoa(log.Events[0].ID), nil, &log); st != 200 || len(log.Events) != 1 || log.Events[0].Action != "ban" {
		t.Errorf("modlog before the newest: status %d, %+v", st, log.Events)
	}
	for _, bad := range []string{"limit=0", "limit=201", "before=-1", "before=x"} {
		if st := boss.Do("GET", "/api/admin/modlog?"+bad, nil, nil); st != 400 {
			t.Errorf("modlog?%s: status %d, want 400", bad, st)
		}
	}
}

// A ban ends the user's sessions, closes their open sockets with 1008
// "banned", and refuses a token they still hold.
func TestBanClosesEverything(t *testing.T) {
	n := testnode.Start(t, server.Config{Admins: "@boss"})
	boss, bob := n.Guest("Boss"), n.Guest("Bob")
	second := testnode.Anon(t, n.Base) // Bob's second browser: a second session
	second.Do("POST", "/.auth/login/guest", map[string]string{"name": "Bob"}, nil)
	live := []*wsclient.Conn{bob.Connect(wsclient.Reliable), bob.Connect(wsclient.JSON)}
	_, held := bob.Token()

	if st := boss.Do("POST", "/api/admin/users/"+bob.ID+"/ban", nil, nil); st != 204 {
		t.Fatalf("ban: status %d", st)
	}
	for i, c := range live {
		code, reason := closed(t, c)
		if code != ws.StatusPolicyViolation || reason != "banned" {
			t.Errorf("socket %d closed with %d %q, want 1008 banned", i, code, reason)
		}
	}
	if st := bob.Do("GET", "/api/getToken", nil, nil); st != 401 {
		t.Errorf("getToken after the ban: status %d, want 401", st)
	}
	var principal struct{ ClientPrincipal any }
	if bob.Do("GET", "/.auth/me", nil, &principal); principal.ClientPrincipal != nil {
		t.Errorf("/.auth/me after the ban: %v", principal.ClientPrincipal)
	}
	hub := "ws" + strings.TrimPrefix(n.Base, "http") + "/client/hubs/chat?access_token=" + held
	if _, err := wsclient.Dial(t.Context(), hub, wsclient.Reliable, nil); !isStatus(err, 401) {
		t.Errorf("connect with a token held from before the ban: %v, want 401", err)
	}
}

// closed waits for the server to close c and returns the code and reason.
func closed(t *testing.T, c *wsclient.Conn) (ws.StatusCode, string) {
	t.Helper()
	code, err := c.WaitClosed(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ce wsutil.ClosedError
	errors.As(c.Err(), &ce)
	return code, ce.Reason
}

func isStatus(err error, status int) bool {
	var se ws.StatusError
	return errors.As(err, &se) && int(se) == status
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Guest sign-in: auto is on without an external provider and off with one;
// on and off say so explicitly.
func TestGuestsMode(t *testing.T) {
	github := server.Config{}
	github.OAuth.GitHub.ClientID, github.OAuth.GitHub.ClientSecret = "id", "secret"
	for _, tc := range []struct {
		name      string
		providers bool
		mode      string
		want      bool
	}{
		{"auto without providers", false, "", true},
		{"auto with a provider", true, server.GuestsAuto, false},
		{"on with a provider", true, server.GuestsOn, true},
		{"off without providers", false, server.GuestsOff, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := server.Config{}
			if tc.providers {
				cfg = github
			}
			cfg.Guests = tc.mode
			n := testnode.Start(t, cfg)
			c := testnode.Anon(t, n.Base)
			var list struct{ Guest bool }
			c.Do("GET", "/.auth/providers", nil, &list)
			st := c.Do("POST", "/.auth/login/guest", map[string]string{"name": "Alice"}, nil)
			if list.Guest != tc.want || (st == 200) != tc.want {
				t.Errorf("providers say guest %v, sign-in status %d; want guests %v", list.Guest, st, tc.want)
			}
		})
	}
	if _, err := server.New(server.Config{Guests: "maybe", Addr: "127.0.0.1:0", DB: t.TempDir() + "/x.db", Secret: testnode.Secret}); err == nil {
		t.Error("--guests maybe was accepted")
	}
}

// Renames count against the user's event budget: each is announced in
// every chat of the user.
func TestRenameBudget(t *testing.T) {
	n := testnode.Start(t, server.Config{})
	alice := n.Guest("Alice")
	for i := 0; ; i++ {
		st := alice.Do("PATCH", "/api/me", map[string]string{"userName": "Alice " + itoa(int64(i))}, nil)
		if st == http.StatusTooManyRequests {
			break
		}
		if st != 200 || i > 100 {
			t.Fatalf("rename %d: status %d, want 200 until a 429 within the burst", i, st)
		}
	}
}
