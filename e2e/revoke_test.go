package e2e_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// TestSignOutWithinOneSecond: a token issued before a sign-out is refused
// and one issued after it is accepted, when all three happen within the
// same second (the hub carries iat in milliseconds).
func TestSignOutWithinOneSecond(t *testing.T) {
	n := start(t, server.Config{})
	for attempt := 0; ; attempt++ {
		if attempt == 10 {
			t.Fatal("ten attempts each crossed a second boundary")
		}
		alice := n.Guest("Alice")
		tokenURL, before := alice.Token()
		issued := time.Now()
		if st := alice.Do("POST", "/.auth/logout", nil, nil); st != 302 {
			t.Fatalf("logout: status %d, want 302", st)
		}
		// Issued at least one millisecond after the sign-out answered.
		signedOut := time.Now().UnixMilli()
		for time.Now().UnixMilli() <= signedOut {
		}
		after, err := hub.MintToken(hubKey(), hub.Claims{UserID: alice.ID, Audience: audience(t, before), IssuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().Unix() != issued.Unix() {
			continue // not the same second: the test proves nothing
		}
		withToken := func(tok string) string {
			return strings.Replace(tokenURL, url.QueryEscape(before), url.QueryEscape(tok), 1)
		}
		c, err := wsclient.Dial(context.Background(), withToken(before), wsclient.JSON, nil)
		var se ws.StatusError
		if err == nil {
			c.Drop()
			t.Errorf("a token issued before the sign-out, in the same second, was accepted")
		} else if !errors.As(err, &se) || int(se) != 401 {
			t.Errorf("a token issued before the sign-out: %v, want 401", err)
		}
		c, err = wsclient.Dial(context.Background(), withToken(after), wsclient.JSON, nil)
		if err != nil {
			t.Fatalf("a token issued after the sign-out, in the same second: %v", err)
		}
		defer c.Drop()
		if f, err := c.Next(5 * time.Second); err != nil || f.Event != "connected" || f.UserID != alice.ID {
			t.Fatalf("token issued after the sign-out: first frame %+v (%v), want connected", f, err)
		}
		return
	}
}

// audience reads the aud claim of a token the node issued.
func audience(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is no JWT", token)
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Aud json.RawMessage `json:"aud"`
	}
	json.Unmarshal(body, &c)
	var s string
	if json.Unmarshal(c.Aud, &s) != nil {
		var list []string
		json.Unmarshal(c.Aud, &list)
		if len(list) > 0 {
			s = list[0]
		}
	}
	return s
}
