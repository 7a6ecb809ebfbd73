package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/sqlite"
)

func newService(t *testing.T, now *time.Time) *auth.Service {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return auth.New(auth.Config{Store: db, SessionTTL: time.Hour, Now: func() time.Time { return *now }})
}

// signIn signs u in and returns the session cookie.
func signIn(t *testing.T, s *auth.Service, u chatr.User, carried *http.Cookie) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("POST", "/.auth/login/guest", nil)
	if carried != nil {
		r.AddCookie(carried)
	}
	w := httptest.NewRecorder()
	if err := s.SignIn(context.Background(), w, r, u); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == auth.CookieName {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Errorf("cookie flags: %+v", c)
			}
			return c
		}
	}
	t.Fatal("no session cookie set")
	return nil
}

func authenticate(s *auth.Service, c *http.Cookie) (chatr.User, *httptest.ResponseRecorder, error) {
	r := httptest.NewRequest("GET", "/api/chats", nil)
	if c != nil {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	u, _, err := s.Authenticate(w, r)
	return u, w, err
}

func TestSessionLifecycle(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	alice := chatr.User{ID: "guest:a1", Name: "Alice", Provider: "guest"}
	c := signIn(t, s, alice, nil)

	u, _, err := authenticate(s, c)
	if err != nil || u.ID != alice.ID || u.Name != "Alice" {
		t.Fatalf("Authenticate = %+v, %v", u, err)
	}
	if _, _, err := authenticate(s, nil); chatr.ErrorCode(err) != chatr.EUNAUTH {
		t.Errorf("no cookie: %v, want EUNAUTH", err)
	}
	if _, _, err := authenticate(s, &http.Cookie{Name: auth.CookieName, Value: "forged"}); chatr.ErrorCode(err) != chatr.EUNAUTH {
		t.Errorf("forged cookie: %v, want EUNAUTH", err)
	}

	// Sliding renewal: past half of the TTL, use renews the session.
	now = now.Add(40 * time.Minute)
	_, w, err := authenticate(s, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Result().Cookies()) != 1 {
		t.Errorf("no renewed cookie after 40 of 60 minutes")
	}
	now = now.Add(50 * time.Minute) // 90 minutes after sign-in, 50 after renewal
	if _, _, err := authenticate(s, c); err != nil {
		t.Errorf("renewed session expired early: %v", err)
	}
	now = now.Add(2 * time.Hour)
	if _, _, err := authenticate(s, c); chatr.ErrorCode(err) != chatr.EUNAUTH {
		t.Errorf("unused session after 2 h: %v, want EUNAUTH", err)
	}
}

func TestSignInEndsPlantedSession(t *testing.T) {
	now := time.Now()
	s := newService(t, &now)
	planted := signIn(t, s, chatr.User{ID: "guest:mallory", Name: "Mallory", Provider: "guest"}, nil)
	fresh := signIn(t, s, chatr.User{ID: "guest:victim", Name: "Victim", Provider: "guest"}, planted)
	if fresh.Value == planted.Value {
		t.Fatal("sign-in kept the session id the request carried (fixation)")
	}
	if _, _, err := authenticate(s, planted); chatr.ErrorCode(err) != chatr.EUNAUTH {
		t.Errorf("planted session still valid after the victim signed in: %v", err)
	}
}

func TestSignOut(t *testing.T) {
	now := time.Now()
	s := newService(t, &now)
	c := signIn(t, s, chatr.User{ID: "guest:a", Name: "A", Provider: "guest"}, nil)
	r := httptest.NewRequest("GET", "/.auth/logout", nil)
	r.AddCookie(c)
	w := httptest.NewRecorder()
	id, err := s.SignOut(w, r)
	if err != nil || id != "guest:a" {
		t.Fatalf("SignOut = %q, %v", id, err)
	}
	if cleared := w.Result().Cookies(); len(cleared) != 1 || cleared[0].MaxAge >= 0 {
		t.Errorf("cookie not cleared: %+v", cleared)
	}
	if _, _, err := authenticate(s, c); chatr.ErrorCode(err) != chatr.EUNAUTH {
		t.Errorf("session valid after sign-out: %v", err)
	}
}

func TestGuestNames(t *testing.T) {
	now := time.Now()
	s := newService(t, &now)
	a, err := s.Guest("  Alice  ")
	if err != nil || a.Name != "Alice" || !strings.HasPrefix(a.ID, "guest:") || a.Provider != "guest" {
		t.Fatalf("Guest = %+v, %v", a, err)
	}
	b, _ := s.Guest("Alice")
	if a.ID == b.ID {
		t.Error("two guests got the same id")
	}
	for _, bad := range []string{"", " ", strings.Repeat("é", 33), "a\x07b", "a\u202eb", "\xff"} {
		if _, err := s.Guest(bad); chatr.ErrorCode(err) != chatr.EINVALID {
			t.Errorf("Guest(%q) = %v, want EINVALID", bad, err)
		}
	}
	if _, err := s.Guest(strings.Repeat("é", 32)); err != nil {
		t.Errorf("32 two-byte characters refused: %v", err)
	}
}
