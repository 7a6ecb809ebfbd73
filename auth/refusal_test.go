package auth_test

import (
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/sqlite"
)

// A banned user's session is refused, and so is a new sign-in, with the
// code the sign-in page shows; an unban lets them in again.
func TestBannedUserRefused(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chatr.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := auth.New(auth.Config{Store: st})
	u := chatr.User{ID: "github:1", Name: "octocat", Provider: "github"}
	w := httptest.NewRecorder()
	if err := s.SignIn(ctx, w, httptest.NewRequest("GET", "/", nil), u); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	authed := func() error {
		r := httptest.NewRequest("GET", "/api/me", nil)
		r.AddCookie(cookie)
		_, _, err := s.Authenticate(nil, r)
		return err
	}
	if err := authed(); err != nil {
		t.Fatalf("before the ban: %v", err)
	}

	if err := st.SetBanned(ctx, u.ID, true, "admin", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := authed(); chatr.ErrorCode(err) != chatr.EUNAUTH {
		t.Errorf("a banned user's session: %v, want unauthorized", err)
	}
	err = s.SignIn(ctx, httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), u)
	if auth.RefusalCode(err) != auth.RefusedBanned || chatr.ErrorCode(err) != chatr.EFORBIDDEN {
		t.Errorf("a banned user's sign-in: %v (code %q), want a forbidden banned refusal", err, auth.RefusalCode(err))
	}

	if err := st.SetBanned(ctx, u.ID, false, "admin", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.SignIn(ctx, httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), u); err != nil {
		t.Errorf("sign-in after the unban: %v", err)
	}
}
