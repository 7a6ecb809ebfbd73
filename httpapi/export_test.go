package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/internal/memstore"
)

// TestExportHandler: "Download my data" gives the signed-in user their
// profile, chats and own messages, and nothing without a session.
func TestExportHandler(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	sessions := auth.New(auth.Config{Store: st})
	for _, id := range []string{"guest:a", "guest:b"} {
		if err := st.UpsertUser(ctx, chatr.User{ID: id, Name: id, Provider: "guest"}); err != nil {
			t.Fatal(err)
		}
	}
	st.CreateChat(ctx, chatr.Chat{ID: "c", Name: "C", Owner: "guest:a"})
	st.AddMember(ctx, "c", chatr.Member{UserID: "guest:a", UserName: "a"})
	st.AddMember(ctx, "c", chatr.Member{UserID: "guest:b", UserName: "b"})
	for i := range 450 {
		from := []string{"guest:a", "guest:b"}[i%2]
		if _, err := st.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: from, FromUserName: from, Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	rec := httptest.NewRecorder()
	if err := sessions.SignIn(ctx, rec, httptest.NewRequest("POST", "/", nil), chatr.User{ID: "guest:a", Name: "guest:a", Provider: "guest"}); err != nil {
		t.Fatal(err)
	}
	h := httpapi.NewExportHandler(st, sessions)

	req := httptest.NewRequest("GET", "/api/export", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	got := httptest.NewRecorder()
	h.ServeHTTP(got, req)
	if got.Code != http.StatusOK || got.Header().Get("Content-Disposition") == "" {
		t.Fatalf("export: %d %v", got.Code, got.Header())
	}
	var x httpapi.UserExport
	if err := json.Unmarshal(got.Body.Bytes(), &x); err != nil {
		t.Fatal(err)
	}
	if x.User.ID != "guest:a" || len(x.Chats) != 1 || len(x.Messages) != 225 {
		t.Fatalf("export: user %q, %d chats, %d messages; want guest:a, 1, 225", x.User.ID, len(x.Chats), len(x.Messages))
	}
	for _, m := range x.Messages {
		if m.FromUserID != "guest:a" {
			t.Fatalf("someone else's message in the export: %+v", m)
		}
	}

	anon := httptest.NewRecorder()
	h.ServeHTTP(anon, httptest.NewRequest("GET", "/api/export", nil))
	if anon.Code != http.StatusUnauthorized {
		t.Errorf("export without a session: %d, want 401", anon.Code)
	}
}
