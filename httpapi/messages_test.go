package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/internal/memstore"
)

type historyPage struct {
	Messages []chatr.Message `json:"messages"`
	HasMore  bool            `json:"hasMore"`
	HasNewer *bool           `json:"hasNewer"`
	LastRead *int64          `json:"lastRead"`
}

// The history API pages around a message, carries the caller's read
// marker, and shows each message as it is now.
func TestMessagesAround(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	a := auth.New(auth.Config{Store: st})
	h := httpapi.New(httpapi.Config{Store: st, Auth: a, App: chat.New(chat.Config{Store: st}),
		Hub: http.NotFoundHandler(), HubKey: []byte("key-0123456789abcdef")})
	cookies := map[string]*http.Cookie{}
	for _, u := range []chatr.User{{ID: "u-alice", Name: "Alice", Provider: "guest"}, {ID: "u-carol", Name: "Carol", Provider: "guest"}} {
		w := httptest.NewRecorder()
		if err := a.SignIn(ctx, w, httptest.NewRequest("POST", "/", nil), u); err != nil {
			t.Fatal(err)
		}
		cookies[u.ID] = w.Result().Cookies()[0]
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateChat(ctx, chatr.Chat{ID: "c", Name: "C", Owner: "u-alice"}))
	must(st.AddMember(ctx, "c", chatr.Member{UserID: "u-alice", UserName: "Alice"}))
	for i := 1; i <= 100; i++ {
		_, err := st.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: "u-alice", FromUserName: "Alice", Text: fmt.Sprint("m", i), ReplyTo: int64(i / 2)})
		must(err)
	}
	_, err := st.EditMessage(ctx, chatr.MessageEdit{ChatID: "c", ID: 40, EditorID: "u-alice", Text: "m40 fixed"})
	must(err)
	_, err = st.DeleteMessage(ctx, "c", 41, chatr.Message{}.Time)
	must(err)
	_, _, err = st.ToggleReaction(ctx, "c", 42, "u-alice", "👍")
	must(err)
	must(st.MarkRead(ctx, "u-alice", "c", 37))

	get := func(user, query string) (int, historyPage) {
		t.Helper()
		r := httptest.NewRequest("GET", "/api/chats/c/messages?"+query, nil)
		r.AddCookie(cookies[user])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var p historyPage
		if w.Code == 200 {
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
		}
		return w.Code, p
	}
	code, p := get("u-alice", "around=40&limit=10")
	if code != 200 || len(p.Messages) != 10 || p.Messages[0].ID != 35 || p.Messages[9].ID != 44 {
		t.Fatalf("around 40: %d, %d messages from %v", code, len(p.Messages), p.Messages)
	}
	if !p.HasMore || p.HasNewer == nil || !*p.HasNewer || p.LastRead == nil || *p.LastRead != 37 {
		t.Errorf("around 40: hasMore %v hasNewer %v lastRead %v", p.HasMore, p.HasNewer, p.LastRead)
	}
	byID := map[int64]chatr.Message{}
	for _, m := range p.Messages {
		byID[m.ID] = m
	}
	if m := byID[40]; m.Text != "m40 fixed" || m.Edited.IsZero() || m.ReplyTo != 20 {
		t.Errorf("edited message: %+v", m)
	}
	if m := byID[41]; !m.Deleted || m.Text != "" {
		t.Errorf("deleted message: %+v", m)
	}
	if m := byID[42]; len(m.Reactions) != 1 || m.Reactions[0].Count != 1 || m.Reactions[0].Users[0] != "u-alice" {
		t.Errorf("reactions: %+v", m.Reactions)
	}
	// At the ends: no older before 1, no newer after 100.
	if _, p := get("u-alice", "around=1&limit=10"); p.HasMore || p.Messages[0].ID != 1 || !*p.HasNewer {
		t.Errorf("around 1: hasMore %v, first %d", p.HasMore, p.Messages[0].ID)
	}
	if _, p := get("u-alice", "around=100&limit=10"); !p.HasMore || *p.HasNewer || p.Messages[len(p.Messages)-1].ID != 100 {
		t.Errorf("around 100: hasNewer %v, last %d", *p.HasNewer, p.Messages[len(p.Messages)-1].ID)
	}
	// Paging backwards carries no marker; the first page does.
	if _, p := get("u-alice", "before=50"); p.LastRead != nil {
		t.Errorf("before=50 carries lastRead %v", *p.LastRead)
	}
	if _, p := get("u-alice", ""); p.LastRead == nil || *p.LastRead != 37 {
		t.Errorf("first page lastRead %v", p.LastRead)
	}
	for _, q := range []string{"around=x", "around=-1", "around=5&before=9", "around=5&after=2", "around=5&limit=500"} {
		if code, _ := get("u-alice", q); code != 400 {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	if code, _ := get("u-carol", "around=40"); code != 404 {
		t.Errorf("a non-member: %d, want 404", code)
	}
}
