package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// jwt signs header and claims with HMAC-SHA256 under key ("" signature
// when key is nil).
func jwt(header, claims map[string]any, key []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	if key == nil {
		return signing + "."
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

// TestTokenForgery presents forged and stale access tokens to the real
// WebSocket endpoint: each is refused with 401 before the upgrade, and a
// genuine token still works.
func TestTokenForgery(t *testing.T) {
	n := start(t, server.Config{})
	alice := n.Guest("Alice")
	genuineURL, genuine := alice.Token()
	aud := strings.Replace(strings.SplitN(genuineURL, "?", 2)[0], "ws://", "http://", 1)
	now := time.Now().Unix()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"sub": alice.ID, "aud": aud, "iat": now, "exp": now + 3600,
			"role": []string{"webpubsub.sendToGroup", "webpubsub.joinLeaveGroup"}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	// A public key, as an RS256/ES256 server would publish it: algorithm
	// confusion signs HS256 with it as the HMAC secret.
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	parts := strings.Split(genuine, ".")
	key := hubKey()

	cases := []struct{ name, token string }{
		{"alg none", jwt(map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), nil)},
		{"alg None", jwt(map[string]any{"alg": "None"}, claims(nil), nil)},
		{"alg none with a signature", jwt(map[string]any{"alg": "none"}, claims(nil), key)},
		{"wrong key", jwt(hs256, claims(nil), []byte("not-the-server-key-0123456789"))},
		{"the secret itself as key", jwt(hs256, claims(nil), []byte(testSecret))},
		{"RS256 header, HMAC signature", jwt(map[string]any{"alg": "RS256"}, claims(nil), key)},
		{"HS256 signed with a public key", jwt(hs256, claims(nil), publicPEM)},
		{"HS512 header", jwt(map[string]any{"alg": "HS512"}, claims(nil), key)},
		{"lower-case alg", jwt(map[string]any{"alg": "hs256"}, claims(nil), key)},
		{"expired", jwt(hs256, claims(func(c map[string]any) { c["iat"], c["exp"] = now-7200, now-3600 }), key)},
		{"no exp", jwt(hs256, claims(func(c map[string]any) { delete(c, "exp") }), key)},
		{"not yet valid", jwt(hs256, claims(func(c map[string]any) { c["nbf"] = now + 3600 }), key)},
		{"wrong audience", jwt(hs256, claims(func(c map[string]any) { c["aud"] = "http://127.0.0.1/client/hubs/other" }), key)},
		{"no audience", jwt(hs256, claims(func(c map[string]any) { delete(c, "aud") }), key)},
		{"unknown user", jwt(hs256, claims(func(c map[string]any) { c["sub"] = "github:1" }), key)},
		{"anonymous", jwt(hs256, claims(func(c map[string]any) { delete(c, "sub") }), key)},
		{"claims of another user on a genuine signature", parts[0] + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"guest:other","aud":"`+aud+`","exp":9999999999}`)) + "." + parts[2]},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"two dots more", genuine + ".."},
		{"garbage", "not-a-token"},
	}
	base := strings.SplitN(genuineURL, "?", 2)[0]
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wsclient.Dial(context.Background(), base+"?access_token="+url.QueryEscape(tc.token), wsclient.JSON, nil)
			var se ws.StatusError
			if !errors.As(err, &se) || int(se) != 401 {
				t.Errorf("dial: %v, want HTTP 401", err)
			}
			// The same token as a bearer header.
			_, err = wsclient.Dial(context.Background(), base, wsclient.JSON, http.Header{"Authorization": {"Bearer " + tc.token}})
			if !errors.As(err, &se) || int(se) != 401 {
				t.Errorf("dial with Authorization: %v, want HTTP 401", err)
			}
		})
	}
	// The genuine token, and one the test minted with the server's key,
	// connect: the checks above refused forgeries, not everything.
	for _, tok := range []string{genuine, jwt(hs256, claims(nil), key)} {
		c, err := wsclient.Dial(context.Background(), base+"?access_token="+url.QueryEscape(tok), wsclient.JSON, nil)
		if err != nil {
			t.Fatalf("genuine token refused: %v", err)
		}
		c.Close()
	}
}

// TestImpersonation tries to act as someone else through every field a
// client controls; the server always uses the connection's identity.
func TestImpersonation(t *testing.T) {
	n := start(t, server.Config{})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	ca, cb := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON)
	mustAck(t, cb, "createChat", map[string]string{"name": "Bob's", "id": "bobs"})
	mustAck(t, cb, "joinChat", "bobs")
	mustAck(t, ca, "joinChat", "bobs")

	// userConnected naming someone else changes nothing.
	mustAck(t, ca, "userConnected", map[string]string{"userName": "Bob", "userProvider": "github", "userId": bob.ID})
	// A chat message claiming another sender, id and time is stamped.
	f, err := ca.Call(map[string]any{"type": "sendToGroup", "group": "bobs", "dataType": "json",
		"data": map[string]any{"message": "i am bob", "fromUserId": bob.ID, "fromUserName": "Bob", "id": 999, "time": "1999-01-01T00:00:00Z"}})
	if err != nil || !f.Success {
		t.Fatalf("send: %+v %v", f, err)
	}
	m := waitChat(t, cb, "bobs", "i am bob")
	if m.FromUserID != alice.ID || m.FromUserName != "Alice" || m.ID != 1 || strings.HasPrefix(m.Time, "1999") {
		t.Errorf("bob received %+v, want Alice's message with id 1 and the server's time", m)
	}
	// createChat naming another owner: the caller owns it.
	mustAck(t, ca, "createChat", map[string]any{"name": "Owned", "id": "owned", "owner": bob.ID})
	var chats struct {
		Chats map[string]struct{ Owner string }
	}
	alice.Do("GET", "/api/chats", nil, &chats)
	if chats.Chats["owned"].Owner != alice.ID {
		t.Errorf("owner of a chat alice created naming bob: %q", chats.Chats["owned"].Owner)
	}
	// leaveChat naming bob removes alice only.
	mustAck(t, ca, "leaveChat", map[string]any{"chatId": "bobs", "userId": bob.ID})
	var members struct {
		Chats map[string]struct{ Members map[string]any }
	}
	bob.Do("GET", "/api/chats", nil, &members)
	if _, ok := members.Chats["bobs"].Members[bob.ID]; !ok || len(members.Chats["bobs"].Members) != 1 {
		t.Errorf("members after alice's leaveChat naming bob: %v", members.Chats["bobs"].Members)
	}
	mustAck(t, ca, "joinChat", "bobs")
	// typing naming bob is stamped as alice.
	mustAck(t, ca, "typing", map[string]any{"chatId": "bobs", "userId": bob.ID, "userName": "Bob"})
	d := waitEvent(t, cb, "typing")
	if !strings.Contains(d, alice.ID) || strings.Contains(d, `"userName":"Bob"`) {
		t.Errorf("typing event %s, want alice's", d)
	}
	// markRead naming bob moves alice's marker, not bob's.
	say(t, ca, "bobs", "unread for bob")
	mustAck(t, ca, "markRead", map[string]any{"chatId": "bobs", "messageId": 99, "userId": bob.ID})
	var unread struct{ Unread map[string]int }
	bob.Do("GET", "/api/chats", nil, &unread)
	if unread.Unread["bobs"] != 2 {
		t.Errorf("bob's unread after alice's markRead naming him: %d, want 2", unread.Unread["bobs"])
	}
	// idle is the caller's.
	mustAck(t, ca, "userEnterIdle", map[string]any{"userId": bob.ID})
	if d := waitEvent(t, cb, "userIsIdle"); d != alice.ID {
		t.Errorf("userIsIdle %q, want alice", d)
	}
	// Sign-in fields beyond the name are ignored: a new guest id each time.
	eve := anon(t, n.Base)
	var me struct {
		ClientPrincipal struct{ UserID, IdentityProvider, UserDetails string }
	}
	eve.Do("POST", "/.auth/login/guest", map[string]any{"name": "Bob", "userId": bob.ID, "identityProvider": "github", "provider": "github"}, &me)
	if p := me.ClientPrincipal; p.UserID == bob.ID || !strings.HasPrefix(p.UserID, "guest:") || p.IdentityProvider != "guest" {
		t.Errorf("guest sign-in naming bob's id: %+v", p)
	}
	// A token for someone else is refused, by id in any spelling.
	for _, q := range []string{bob.ID, url.QueryEscape(bob.ID), " " + alice.ID, alice.ID + "\x00"} {
		if st := alice.Do("GET", "/api/getToken?userId="+url.QueryEscape(q), nil, nil); st != 403 {
			t.Errorf("getToken?userId=%q: %d, want 403", q, st)
		}
	}
	// The hub's own groups cannot be reached through token claims: a token
	// minted with a group is overruled by the store's membership.
	if name := ackName(t, ca, map[string]any{"type": "joinGroup", "group": "private_x_y"}); name != "Forbidden" {
		t.Errorf("joinGroup of a private chat id: %q", name)
	}
}

func waitEvent(t *testing.T, c *wsclient.Conn, name string) string {
	t.Helper()
	f, err := c.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		n, _, ok := f.ServerEvent()
		return ok && n == name
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", name, err)
	}
	_, d, _ := f.ServerEvent()
	return d
}

// TestPrivateChatIsolation: a third user can neither see nor touch a
// private chat nor its history, by any route.
func TestPrivateChatIsolation(t *testing.T) {
	n := start(t, server.Config{})
	alice, bob, eve := n.Guest("Alice"), n.Guest("Bob"), n.Guest("Eve")
	ca, cb, ce := alice.Connect(wsclient.JSON), bob.Connect(wsclient.Reliable), eve.Connect(wsclient.JSON)
	mustAck(t, ca, "createPrivateChat", map[string]string{"targetUserId": bob.ID})
	var pc struct{ ID string }
	json.Unmarshal([]byte(waitEvent(t, ca, "joinPrivateChat")), &pc)
	say(t, cb, pc.ID, "secret")
	// Eve sees nothing of it.
	if _, err := ce.WaitFor(300*time.Millisecond, func(f wsclient.Frame) bool { return strings.Contains(string(f.Raw), "secret") }); err == nil {
		t.Errorf("eve received the private message")
	}
	for _, q := range []string{"", "?before=100", "?after=0", "?limit=200"} {
		if st := eve.Do("GET", "/api/chats/"+url.PathEscape(pc.ID)+"/messages"+q, nil, nil); st != 404 {
			t.Errorf("eve reads history%s: %d, want 404", q, st)
		}
	}
	for _, tc := range []struct {
		frame map[string]any
		want  string
	}{
		{event("joinChat", pc.ID), "NotFound"},
		{event("leaveChat", pc.ID), "NotFound"},
		{event("deleteChat", pc.ID), "NotFound"},
		{event("markRead", map[string]any{"chatId": pc.ID, "messageId": 1}), "NotFound"},
		{event("typing", map[string]any{"chatId": pc.ID}), "Forbidden"},
		{map[string]any{"type": "joinGroup", "group": pc.ID}, "Forbidden"},
		{send(pc.ID, "let me in"), "Forbidden"},
		// Re-creating it as a group chat, or as a private chat of eve's own.
		{event("createChat", map[string]string{"name": "x", "id": pc.ID}), "BadRequest"},
	} {
		if got := ackName(t, ce, tc.frame); got != tc.want {
			t.Errorf("eve %v: %q, want %q", tc.frame, got, tc.want)
		}
	}
	var chats struct {
		Chats, PrivateChats map[string]any
		Unread              map[string]int
	}
	eve.Do("GET", "/api/chats", nil, &chats)
	if _, ok := chats.Chats[pc.ID]; ok || len(chats.PrivateChats) != 0 || chats.Unread[pc.ID] != 0 {
		t.Errorf("eve's /api/chats shows the private chat: %+v", chats)
	}
	// Eve cannot take over bob's reliable session with his connection id.
	var connID string
	{
		u, _ := bob.Token()
		c, err := wsclient.Dial(context.Background(), u, wsclient.Reliable, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := c.Next(5 * time.Second)
		connID = f.ConnectionID
		defer c.Drop()
	}
	eveURL, _ := eve.Token()
	steal, err := wsclient.Dial(context.Background(), eveURL+"&awps_connection_id="+url.QueryEscape(connID)+"&awps_reconnection_token=forged", wsclient.Reliable, nil)
	if err != nil {
		t.Fatalf("recovery dial: %v", err)
	}
	if code, err := steal.WaitClosed(5 * time.Second); err != nil || code != 1008 {
		t.Errorf("recovering bob's session with a forged token: close %d (%v), want 1008", code, err)
	}
	// A token (minted with the server's own key) that names the private
	// chat among its groups and roles does not join eve to it: membership
	// is the store's to decide.
	eveBase := strings.SplitN(eveURL, "?", 2)[0]
	now := time.Now().Unix()
	minted := jwt(map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{"sub": eve.ID,
		"aud": strings.Replace(eveBase, "ws://", "http://", 1), "iat": now, "exp": now + 600,
		"role":            []string{"webpubsub.joinLeaveGroup." + pc.ID, "webpubsub.sendToGroup." + pc.ID},
		"webpubsub.group": []string{pc.ID}}, hubKey())
	ce2, err := wsclient.Dial(context.Background(), eveBase+"?access_token="+url.QueryEscape(minted), wsclient.JSON, nil)
	if err != nil {
		t.Fatalf("minted token: %v", err)
	}
	defer ce2.Drop()
	if _, err := ce2.Next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	say(t, ca, pc.ID, "still secret")
	if _, err := ce2.WaitFor(500*time.Millisecond, func(f wsclient.Frame) bool { return strings.Contains(string(f.Raw), "still secret") }); err == nil {
		t.Errorf("a token naming the private chat's group let eve read it")
	}
	if got := ackName(t, ce2, send(pc.ID, "via claims")); got != "Forbidden" {
		t.Errorf("send with a token granting the group: %q, want Forbidden", got)
	}
	// And the private messages are still there for its members only.
	if got := alice.History(pc.ID); len(got) != 2 || got[0].Message != "secret" {
		t.Errorf("alice's history: %+v", got)
	}
}

// TestOwnerOnlyDelete: only the owner deletes a group chat.
func TestOwnerOnlyDelete(t *testing.T) {
	n := start(t, server.Config{})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	ca, cb := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Alice's", "id": "alices"})
	mustAck(t, ca, "joinChat", "alices")
	mustAck(t, cb, "joinChat", "alices")
	say(t, cb, "alices", "bob was here")
	for _, data := range []any{"alices", map[string]string{"chatId": "alices"}} {
		f, err := cb.Call(event("deleteChat", data))
		if err != nil || f.Success || (f.Error.Name != "Forbidden" && f.Error.Name != "BadRequest") {
			t.Errorf("bob deletes alice's chat (%v): %+v %v", data, f.Error, err)
		}
	}
	// Leaving and re-creating does not make bob the owner.
	mustAck(t, cb, "leaveChat", "alices")
	if got := ackName(t, cb, event("createChat", map[string]string{"name": "Mine", "id": "alices"})); got != "Duplicate" {
		t.Errorf("bob re-creates alice's chat: %q, want Duplicate", got)
	}
	if got := ackName(t, cb, event("deleteChat", "alices")); got != "Forbidden" {
		t.Errorf("bob deletes after leaving: %q, want Forbidden", got)
	}
	if got := alice.History("alices"); len(got) != 1 {
		t.Errorf("history after bob's attempts: %+v", got)
	}
	mustAck(t, ca, "deleteChat", "alices")
}

// TestCSRFAndOrigins: sign-in and sign-out refuse foreign pages, and so
// does the WebSocket upgrade.
func TestCSRFAndOrigins(t *testing.T) {
	n := start(t, server.Config{})
	alice := n.Guest("Alice")
	foreign := []string{"https://evil.example", "null", n.Base + ".evil.example", "http://127.0.0.1.evil.example", "file://"}
	for _, origin := range foreign {
		for _, ctype := range []string{"application/json", "application/x-www-form-urlencoded", "text/plain"} {
			body := `{"name":"Victim"}`
			if ctype != "application/json" {
				body = "name=Victim"
			}
			req, _ := http.NewRequest("POST", n.Base+"/.auth/login/guest", strings.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			req.Header.Set("Origin", origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 403 || resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("sign-in from %s as %s: %d (cookie %q), want 403 and no cookie", origin, ctype, resp.StatusCode, resp.Header.Get("Set-Cookie"))
			}
		}
	}
	// Sign-out: a foreign POST, or a GET the browser marks cross-site, does
	// not end the session.
	tryLogout := func(method string, hdr map[string]string) int {
		req, _ := http.NewRequest(method, n.Base+"/.auth/logout", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := alice.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		method string
		hdr    map[string]string
	}{
		{"POST", map[string]string{"Origin": "https://evil.example"}},
		{"POST", map[string]string{"Origin": "null"}},
		{"GET", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"POST", map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		if st := tryLogout(tc.method, tc.hdr); st != 403 {
			t.Errorf("%s sign-out with %v: %d, want 403", tc.method, tc.hdr, st)
		}
		if st := alice.Do("GET", "/api/chats", nil, nil); st != 200 {
			t.Fatalf("session ended by a cross-site sign-out %v: %d", tc.hdr, st)
		}
	}
	// WebSocket upgrade from foreign origins.
	u, _ := alice.Token()
	for _, origin := range foreign {
		_, err := wsclient.Dial(context.Background(), u, wsclient.JSON, http.Header{"Origin": {origin}})
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != 403 {
			t.Errorf("upgrade from %s: %v, want 403", origin, err)
		}
	}
	// No CORS: a foreign page cannot read API answers, nor pass a preflight.
	for _, method := range []string{"GET", "OPTIONS"} {
		req, _ := http.NewRequest(method, n.Base+"/api/chats", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := alice.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s /api/chats from a foreign origin: Access-Control-Allow-Origin %q", method, v)
		}
	}
	if st := tryLogout("GET", map[string]string{"Sec-Fetch-Site": "same-origin"}); st != 302 {
		t.Errorf("same-origin sign-out: %d, want 302", st)
	}
}

// TestXSSDefences: every response carries the CSP and nosniff, HTML most
// of all, and announcements escape user names (the original client
// renders them as HTML).
func TestXSSDefences(t *testing.T) {
	n := start(t, server.Config{})
	evilName := `<img src=x onerror=alert(1)>`
	alice, mallory := n.Guest("Alice"), n.Guest(evilName)
	for _, path := range []string{"/", "/index.html", "/nope", "/app/../", "/api/chats", "/.auth/me", "/healthz", "/client/hubs/chat"} {
		req, _ := http.NewRequest("GET", n.Base+path, nil)
		resp, err := alice.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "object-src 'none'") || strings.Contains(csp, "unsafe-") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: missing nosniff or frame denial", path)
		}
	}
	ca, cm := alice.Connect(wsclient.JSON), mallory.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Room", "id": "room"})
	mustAck(t, ca, "joinChat", "room")
	mustAck(t, cm, "joinChat", "room")
	mustAck(t, cm, "createPrivateChat", map[string]string{"targetUserId": alice.ID})
	mustAck(t, cm, "leaveChat", "room")
	seen := 0
	deadline := time.Now().Add(5 * time.Second)
	for seen < 3 && time.Now().Before(deadline) {
		f, err := ca.Next(time.Until(deadline))
		if err != nil {
			break
		}
		if f.Type != "message" || f.From != "group" || f.DataType != "text" {
			continue
		}
		var s string
		json.Unmarshal(f.Data, &s)
		if strings.ContainsAny(s, "<>") {
			t.Errorf("announcement carries markup: %q", s)
		}
		if strings.Contains(s, "&lt;img") {
			seen++
		}
	}
	if seen != 3 {
		t.Errorf("saw %d escaped announcements (join, private chat, leave), want 3", seen)
	}
}

// TestOpenRedirects: every redirect target a client controls stays on the site.
func TestOpenRedirects(t *testing.T) {
	n := start(t, server.Config{SignInsPerMinute: -1})
	targets := []string{"https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
		"javascript:alert(1)", "http:evil.example", "/%2F%2Fevil.example", "  //evil.example", "/\x00//evil.example", "https:/\\evil.example",
		"//evil.example@chatr", "/.//evil.example", "%2F%2Fevil.example"}
	for _, target := range targets {
		// Sign-in by form, then sign-out, each with the target.
		c := anon(t, n.Base)
		form := url.Values{"name": {"Alice"}, "post_login_redirect_uri": {target}}
		req, _ := http.NewRequest("POST", n.Base+"/.auth/login/guest", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		checkLocation(t, "sign-in", target, resp)
		resp, err = c.HTTP.Get(n.Base + "/.auth/logout?post_logout_redirect_uri=" + url.QueryEscape(target))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		checkLocation(t, "sign-out", target, resp)
	}
}

func checkLocation(t *testing.T, what, target string, resp *http.Response) {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 302 {
		t.Errorf("%s with %q: status %d, want 302", what, target, resp.StatusCode)
		return
	}
	u, err := url.Parse("https://chatr.example/page")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := u.Parse(loc)
	if err != nil || dst.Host != "chatr.example" || dst.Scheme != "https" || strings.ContainsAny(loc, "\\\t\r\n") {
		t.Errorf("%s with %q redirects to %q, off the site", what, target, loc)
	}
}

// TestSessionFixationEndToEnd: a session cookie planted before sign-in is
// replaced, and the planted session dies.
func TestSessionFixationEndToEnd(t *testing.T) {
	n := start(t, server.Config{})
	attacker := n.Guest("Mallory")
	u, _ := url.Parse(n.Base)
	planted := attacker.HTTP.Jar.Cookies(u)
	victim := anon(t, n.Base)
	victim.HTTP.Jar.SetCookies(u, planted)
	var me struct{ ClientPrincipal struct{ UserID string } }
	if st := victim.Do("POST", "/.auth/login/guest", map[string]string{"name": "Victim"}, &me); st != 200 {
		t.Fatalf("victim sign-in: %d", st)
	}
	now := victim.HTTP.Jar.Cookies(u)
	if len(now) != 1 || len(planted) != 1 || now[0].Value == planted[0].Value {
		t.Fatalf("session cookie after sign-in %v, planted %v: want a new value", now, planted)
	}
	if st := attacker.Do("GET", "/api/chats", nil, nil); st != 401 {
		t.Errorf("planted session after the victim signed in: %d, want 401", st)
	}
	var who struct{ ClientPrincipal *struct{ UserID string } }
	victim.Do("GET", "/.auth/me", nil, &who)
	if who.ClientPrincipal == nil || who.ClientPrincipal.UserID != me.ClientPrincipal.UserID {
		t.Errorf("victim is %+v, want own new user", who.ClientPrincipal)
	}
}

// TestSignOutClosesSockets: signing out closes every socket of the user
// with 1008 (no recovery); other users keep theirs.
func TestSignOutClosesSockets(t *testing.T) {
	n := start(t, server.Config{})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	a1, a2, b := alice.Connect(wsclient.JSON), alice.Connect(wsclient.Reliable), bob.Connect(wsclient.JSON)
	// Presence goes to those who show the user: here a DM partner.
	if f, err := b.Event("createPrivateChat", map[string]string{"targetUserId": alice.ID}); err != nil || !f.Success {
		t.Fatalf("createPrivateChat: %+v %v", f.Error, err)
	}
	leaked, _ := alice.Token()          // a token that leaked with its URL before sign-out
	time.Sleep(1100 * time.Millisecond) // tokens carry their issue time to the second
	if st := alice.Do("POST", "/.auth/logout", nil, nil); st != 302 {
		t.Fatalf("sign-out: %d", st)
	}
	for i, c := range []*wsclient.Conn{a1, a2} {
		if code, err := c.WaitClosed(5 * time.Second); err != nil || code != 1008 {
			t.Errorf("alice's socket %d after sign-out: close %d (%v), want 1008", i, code, err)
		}
	}
	if d := waitEvent(t, b, "userOffline"); d != alice.ID {
		t.Errorf("userOffline %q, want alice", d)
	}
	if _, err := b.Event("userExitIdle", ""); err != nil {
		t.Errorf("bob's socket after alice signed out: %v", err)
	}
	if st := alice.Do("GET", "/api/getToken", nil, nil); st != 401 {
		t.Errorf("getToken after sign-out: %d, want 401", st)
	}
	// The leaked token no longer opens a socket.
	_, err := wsclient.Dial(context.Background(), leaked, wsclient.JSON, nil)
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != 401 {
		t.Errorf("token issued before sign-out: %v, want 401", err)
	}
	// Bob's tokens are unaffected.
	bob.Connect(wsclient.JSON).Close()
}

// TestRateLimits: sign-ins, API requests, socket upgrades, chat messages
// and state-changing events are limited per IP or per user, with 429 JSON
// or a TooManyRequests ack.
func TestRateLimits(t *testing.T) {
	n := start(t, server.Config{SignInsPerMinute: 2, RequestsPerSecond: 5})
	alice := n.Guest("Alice")
	n.Guest("Bob")
	c := anon(t, n.Base)
	var e struct{ Error, Message string }
	if st := c.Do("POST", "/.auth/login/guest", map[string]string{"name": "Eve"}, &e); st != 429 || e.Error != "limit" {
		t.Errorf("3rd sign-in: %d %+v, want 429 limit", st, e)
	}
	// Without --trust-proxy, forwarding headers do not make a new client.
	for _, xff := range []string{"203.0.113.7", "2001:db8::1", "127.0.0.2, 198.51.100.1"} {
		req, _ := http.NewRequest("POST", n.Base+"/.auth/login/guest", strings.NewReader(`{"name":"Eve"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		req.Header.Set("X-Real-IP", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 {
			t.Errorf("sign-in with X-Forwarded-For %s: %d, want 429 (the limit is the peer's)", xff, resp.StatusCode)
		}
	}
	// Requests: the upgrade counts too.
	time.Sleep(time.Second)
	u, _ := alice.Token()
	limited := 0
	for i := 0; i < 40; i++ {
		_, err := wsclient.Dial(context.Background(), u, wsclient.JSON, nil)
		var se ws.StatusError
		if errors.As(err, &se) && int(se) == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Errorf("40 upgrades at once from one IP (5/s, burst 20): none limited")
	}
}

// TestEventFloodLimited: a user flooding createChat (each broadcast to
// everyone) is slowed down like a message flood.
func TestEventFloodLimited(t *testing.T) {
	n := start(t, server.Config{})
	alice := n.Guest("Alice")
	ca := alice.Connect(wsclient.JSON)
	limited := 0
	for i := 0; i < 100; i++ {
		if ackName(t, ca, event("createChat", map[string]string{"name": "spam"})) == "TooManyRequests" {
			limited++
		}
	}
	if limited < 50 {
		t.Errorf("%d of 100 createChat events at once limited, want most (burst 30)", limited)
	}
	var chats struct{ Chats map[string]any }
	alice.Do("GET", "/api/chats", nil, &chats)
	if len(chats.Chats) > 50 {
		t.Errorf("%d chats created by one user's flood", len(chats.Chats))
	}
}

var _ = hub.ProtocolJSON

// TestConnectionsPerIP: one address holds at most ConnectionsPerIP
// sockets; a closed or dropped socket frees its place.
func TestConnectionsPerIP(t *testing.T) {
	n := start(t, server.Config{ConnectionsPerIP: 4})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	var open []*wsclient.Conn
	for i := 0; i < 4; i++ {
		u := alice
		if i%2 == 1 {
			u = bob
		}
		open = append(open, u.Connect(wsclient.JSON))
	}
	u, _ := alice.Token()
	_, err := wsclient.Dial(context.Background(), u, wsclient.JSON, nil)
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != 429 {
		t.Fatalf("5th socket from one IP: %v, want 429", err)
	}
	var e struct{ Error string }
	if st := alice.Do("GET", "/client/hubs/chat", nil, &e); st != 429 || e.Error != "limit" {
		t.Errorf("plain GET at the limit: %d %+v, want 429 JSON", st, e)
	}
	// Refused upgrades (bad token) do not use up places.
	for i := 0; i < 10; i++ {
		wsclient.Dial(context.Background(), strings.SplitN(u, "?", 2)[0]+"?access_token=x", wsclient.JSON, nil)
	}
	open[0].Close()
	open[1].Drop()
	for i := 0; i < 2; i++ {
		var c *wsclient.Conn
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err = wsclient.Dial(context.Background(), u, wsclient.JSON, nil)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("socket %d after two were closed: %v", i, err)
		}
		defer c.Drop()
	}
}

// TestRefusedFramesAreLimited: a flood of frames that the server refuses
// (sends and joins to chats one is not in) is slowed down like a flood of
// accepted ones, so that it cannot turn into unbounded storage reads.
func TestRefusedFramesAreLimited(t *testing.T) {
	n := start(t, server.Config{})
	alice, mallory := n.Guest("Alice"), n.Guest("Mallory")
	ca, cm := alice.Connect(wsclient.JSON), mallory.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Room", "id": "room"})
	isMember := func() float64 { return metric(t, n.Base, `chatr_storage_seconds_count{op="IsMember"}`) }
	before := isMember()
	names := map[string]int{}
	const flood = 300
	for i := 0; i < flood; i++ {
		frame := send("room", "let me in")
		if i%2 == 1 {
			frame = map[string]any{"type": "joinGroup", "group": "room"}
		}
		names[ackName(t, cm, frame)]++
	}
	if names["TooManyRequests"] < flood/2 {
		t.Errorf("acks of %d refused frames: %v, want most of them TooManyRequests", flood, names)
	}
	if reads := isMember() - before; reads > flood/4 {
		t.Errorf("%d refused frames cost %.0f membership reads", flood, reads)
	}
	// The room and its owner are unaffected.
	mustAck(t, ca, "joinChat", "room")
	say(t, ca, "room", "still here")
}

// metric reads one sample of the node's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			json.Unmarshal([]byte(v), &f)
			return f
		}
	}
	return 0
}

// TestSlowConsumerCutOff: a member who stops reading while the chat is
// busy is cut off; the senders and the other members lose nothing.
//
// A connection's frames are handled in order, each send waiting for the
// fsync of its own commit, so one sender gets no group commit: the flood
// comes from several senders at once, whose sends share commits.
func TestSlowConsumerCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes tens of megabytes")
	}
	n := start(t, server.Config{Limits: chat.Limits{MessagesPerSecond: 1e6, MessageBurst: 1e6}})
	alice, bob, mallory := n.Guest("Alice"), n.Guest("Bob"), n.Guest("Mallory")
	ca, cb, cm := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON), mallory.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Busy", "id": "busy"})
	for _, c := range []*wsclient.Conn{ca, cb, cm} {
		mustAck(t, c, "joinChat", "busy")
	}
	const senders, each = 4, 1500
	const total = senders * each
	conns := []*wsclient.Conn{ca}
	for i := 1; i < senders; i++ {
		c := n.Guest(fmt.Sprintf("Sender %d", i)).Connect(wsclient.JSON)
		mustAck(t, c, "joinChat", "busy")
		conns = append(conns, c)
	}
	// Mallory opens a second socket and never reads from it.
	u, _ := mallory.Token()
	stuck := dialRaw(t, u)
	_ = stuck
	cm.Close()

	text := strings.Repeat("x", 4000)
	var bobGot atomic.Int64
	bobDone := make(chan struct{})
	go func() {
		defer close(bobDone)
		for bobGot.Load() < total {
			f, err := cb.Next(20 * time.Second)
			if err != nil {
				return
			}
			if f.Type == "message" && f.Group == "busy" && strings.Contains(string(f.Data), text) {
				bobGot.Add(1)
			}
		}
	}()
	var acked atomic.Int64
	var wg sync.WaitGroup
	for s, c := range conns {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for got := 0; got < each; {
				f, err := c.Next(20 * time.Second)
				if err != nil {
					return
				}
				if f.Type == "ack" && f.Success {
					got++
					acked.Add(1)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				frame := send("busy", fmt.Sprintf("%d %d %s", s, i, text))
				frame["ackId"] = c.NextAckID()
				frame["noEcho"] = true
				if err := c.Send(frame); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-bobDone
	if acked.Load() != total || bobGot.Load() != total {
		t.Errorf("senders got %d acks, bob %d messages, want %d each", acked.Load(), bobGot.Load(), total)
	}
	// The non-reading socket is cut off: as a slow consumer (queue full) or
	// by the write deadline, whichever comes first.
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, n.Base, "chatr_connections") != senders+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%v sockets open 30 s after the flood, want the senders' and bob's only (slow consumers cut off: %v)",
				metric(t, n.Base, "chatr_connections"), metric(t, n.Base, "chatr_slow_consumers_total"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := alice.History("busy"); len(got) != total {
		t.Errorf("history holds %d messages, want %d", len(got), total)
	}
}

// TestTCPConnectionsPerAddress: one address cannot hold more than
// ConnectionsPerIP + 64 TCP connections (idle or slowloris ones would use
// up the file descriptors); others are served meanwhile, and a closed
// connection frees its place.
func TestTCPConnectionsPerAddress(t *testing.T) {
	n := start(t, server.Config{ConnectionsPerIP: 6})
	addr := strings.TrimPrefix(n.Base, "http://")
	const limit = 6 + 64
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < limit; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")) // headers never finished
		held = append(held, c)
	}
	closedAtOnce := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}
	extra, err := net.Dial("tcp", addr)
	if err == nil {
		defer extra.Close()
		if !closedAtOnce(extra) {
			t.Errorf("connection %d from one address was kept open", limit+1)
		}
	}
	// Another address is served meanwhile (Linux routes all of 127/8 to lo).
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	resp, err := other.Get(n.Base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("another address while one is at its limit: %v", err)
	}
	resp.Body.Close()
	// A place freed is taken again.
	held[0].Close()
	held = held[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		b := make([]byte, 12)
		k, _ := io.ReadFull(c, b)
		c.Close()
		if k == 12 && string(b[9:12]) == "200" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted after one of %d was closed", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMarkReadDoesNotStarveEvents: read markers (one per message the
// browser shows) have a budget of their own: a busy chat's markers do not
// keep the user from joining or creating chats.
func TestMarkReadDoesNotStarveEvents(t *testing.T) {
	n := start(t, server.Config{})
	alice := n.Guest("Alice")
	ca := alice.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Busy", "id": "busy"})
	mustAck(t, ca, "joinChat", "busy")
	limited := 0
	for i := 1; i <= 60; i++ {
		if ackName(t, ca, event("markRead", map[string]any{"chatId": "busy", "messageId": i})) == "TooManyRequests" {
			limited++
		}
	}
	if limited == 0 {
		t.Errorf("60 read markers at once: none limited")
	}
	mustAck(t, ca, "createChat", map[string]string{"name": "Other", "id": "other"})
	mustAck(t, ca, "joinChat", "other")
}
