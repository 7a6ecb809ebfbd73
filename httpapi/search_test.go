package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/internal/memstore"
	"github.com/chatr/chatr/metrics"
	"github.com/chatr/chatr/sqlite"
)

type searchServer struct {
	h       http.Handler
	cookies map[string]*http.Cookie // user ID -> session cookie
}

// newSearchServer has alice and bob in "general", alice alone in the
// private "plans", on a SQLite store.
func newSearchServer(t *testing.T) *searchServer {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chatr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := auth.New(auth.Config{Store: st})
	s := &searchServer{h: httpapi.NewSearch(httpapi.SearchConfig{Store: st, Auth: a}), cookies: map[string]*http.Cookie{}}
	for _, u := range []chatr.User{{ID: "u-alice", Name: "Alice", Provider: "guest", Handle: "alice"}, {ID: "u-bob", Name: "Bob", Provider: "guest", Handle: "bob"}} {
		w := httptest.NewRecorder()
		if err := a.SignIn(ctx, w, httptest.NewRequest("POST", "/", nil), u); err != nil {
			t.Fatal(err)
		}
		s.cookies[u.ID] = w.Result().Cookies()[0]
	}
	for _, c := range []chatr.Chat{{ID: "c-general", Name: "General", Owner: "u-alice"}, {ID: "c-plans", Name: "plans", Owner: "u-alice", Private: true}} {
		if err := st.CreateChat(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := st.AddMember(ctx, c.ID, chatr.Member{UserID: "u-alice", UserName: "Alice"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddMember(ctx, "c-general", chatr.Member{UserID: "u-bob", UserName: "Bob"}); err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.UTC) }
	for _, m := range []chatr.Message{
		{ChatID: "c-general", FromUserID: "u-alice", FromUserName: "Alice", Text: "lunch on friday?", Time: day(1)},
		{ChatID: "c-general", FromUserID: "u-bob", FromUserName: "Bob", Text: "lunch sounds good", Time: day(2)},
		{ChatID: "c-plans", FromUserID: "u-alice", FromUserName: "Alice", Text: "secret lunch plans", Time: day(3)},
	} {
		if _, err := st.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SyncSearch(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// get returns the status and the decoded JSON body.
func (s *searchServer) get(t *testing.T, user string, query url.Values) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest("GET", "/api/search?"+query.Encode(), nil)
	if c := s.cookies[user]; c != nil {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want JSON", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	return w.Code, body
}

func resultTexts(body map[string]any) []string {
	out := []string{}
	rs, _ := body["results"].([]any)
	for _, r := range rs {
		out = append(out, r.(map[string]any)["message"].(string))
	}
	return out
}

func TestSearchAPI(t *testing.T) {
	s := newSearchServer(t)
	for _, tc := range []struct {
		name, user string
		query      url.Values
		want       []string
	}{
		{"all mine", "u-alice", url.Values{"q": {"lunch"}}, []string{"secret lunch plans", "lunch sounds good", "lunch on friday?"}},
		{"not another's private chat", "u-bob", url.Values{"q": {"lunch"}}, []string{"lunch sounds good", "lunch on friday?"}},
		{"not by its ID", "u-bob", url.Values{"q": {"lunch"}, "chat": {"c-plans"}}, []string{}},
		{"not by its name", "u-bob", url.Values{"q": {"lunch in:#plans"}}, []string{}},
		{"in:#name", "u-alice", url.Values{"q": {"lunch in:#plans"}}, []string{"secret lunch plans"}},
		{"in:#Name", "u-alice", url.Values{"q": {"in:#general lunch"}}, []string{"lunch sounds good", "lunch on friday?"}},
		{"in: unknown", "u-alice", url.Values{"q": {"lunch in:#nowhere"}}, []string{}},
		{"from:@handle", "u-alice", url.Values{"q": {"lunch from:@bob"}}, []string{"lunch sounds good"}},
		{"from param handle", "u-alice", url.Values{"q": {"lunch"}, "from": {"@alice"}}, []string{"secret lunch plans", "lunch on friday?"}},
		{"from param ID", "u-alice", url.Values{"q": {"lunch"}, "from": {"u-bob"}}, []string{"lunch sounds good"}},
		{"from: unknown", "u-alice", url.Values{"q": {"lunch from:@carol"}}, []string{}},
		{"before:", "u-alice", url.Values{"q": {"lunch before:2026-01-02"}}, []string{"lunch on friday?"}},
		{"after:", "u-alice", url.Values{"q": {"lunch after:2026-01-02"}}, []string{"secret lunch plans", "lunch sounds good"}},
		{"after param", "u-alice", url.Values{"q": {"lunch"}, "after": {"2026-01-03"}}, []string{"secret lunch plans"}},
		{"has:file", "u-alice", url.Values{"q": {"lunch has:file"}}, []string{}},
		{"syntax is text", "u-alice", url.Values{"q": {`"lunch" OR (friday*) -plans NEAR(x)`}}, []string{}},
		{"empty", "u-alice", url.Values{"q": {""}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.get(t, tc.user, tc.query)
			if code != http.StatusOK {
				t.Fatalf("status %d (%v), want 200", code, body)
			}
			if got := resultTexts(body); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if _, ok := body["cursor"].(string); !ok {
				t.Errorf("cursor %v, want a string", body["cursor"])
			}
		})
	}
}

func TestSearchAPIResultShapeAndPages(t *testing.T) {
	s := newSearchServer(t)
	code, body := s.get(t, "u-alice", url.Values{"q": {"LUNCH"}, "limit": {"2"}})
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	first := body["results"].([]any)[0].(map[string]any)
	for key, want := range map[string]any{"chatId": "c-plans", "id": 1.0, "fromUserId": "u-alice", "fromUserName": "Alice",
		"message": "secret lunch plans", "time": "2026-01-03T12:00:00Z", "highlights": []any{[]any{7.0, 12.0}}} {
		if got, _ := json.Marshal(first[key]); string(got) != mustJSON(t, want) {
			t.Errorf("%s: got %s, want %s", key, got, mustJSON(t, want))
		}
	}
	cursor := body["cursor"].(string)
	if cursor == "" {
		t.Fatal("no cursor after a full page")
	}
	_, body = s.get(t, "u-alice", url.Values{"q": {"lunch"}, "limit": {"2"}, "cursor": {cursor}})
	if got := resultTexts(body); len(got) != 1 || got[0] != "lunch on friday?" || body["cursor"] != "" {
		t.Errorf("second page: %v", body)
	}
	// Bob, with alice's cursor, still sees only his chats.
	_, body = s.get(t, "u-bob", url.Values{"q": {"lunch"}, "cursor": {cursor}})
	if got := resultTexts(body); len(got) != 1 || got[0] != "lunch on friday?" {
		t.Errorf("bob with alice's cursor: %v", body)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSearchAPIErrors(t *testing.T) {
	s := newSearchServer(t)
	for _, tc := range []struct {
		name  string
		user  string
		query url.Values
		code  int
		error string
	}{
		{"no session", "", url.Values{"q": {"lunch"}}, 401, chatr.EUNAUTH},
		{"bad inline date", "u-alice", url.Values{"q": {"lunch before:yesterday"}}, 400, chatr.EINVALID},
		{"bad date param", "u-alice", url.Values{"q": {"lunch"}, "after": {"2026-13-01"}}, 400, chatr.EINVALID},
		{"bad limit", "u-alice", url.Values{"q": {"lunch"}, "limit": {"1000"}}, 400, chatr.EINVALID},
		{"bad cursor", "u-alice", url.Values{"q": {"lunch"}, "cursor": {"not-a-cursor"}}, 400, chatr.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.get(t, tc.user, tc.query)
			if code != tc.code || body["error"] != tc.error || body["message"] == "" {
				t.Errorf("got %d %v, want %d %q with a message", code, body, tc.code, tc.error)
			}
		})
	}
}

// TestSearchAPINotImplemented: a store without search answers 501 JSON,
// also behind the metrics wrapper the server puts around every store
// (which can search when the store it wraps can).
func TestSearchAPINotImplemented(t *testing.T) {
	// Only the Store methods, as the Table Storage store has.
	bare := struct{ chatr.Store }{memstore.New()}
	for name, st := range map[string]chatr.Store{"bare": bare, "metrics": metrics.New(nil).Store(bare)} {
		t.Run(name, func(t *testing.T) {
			a := auth.New(auth.Config{Store: st})
			w := httptest.NewRecorder()
			if err := a.SignIn(t.Context(), w, httptest.NewRequest("POST", "/", nil), chatr.User{ID: "u", Name: "U", Provider: "guest"}); err != nil {
				t.Fatal(err)
			}
			s := &searchServer{h: httpapi.NewSearch(httpapi.SearchConfig{Store: st, Auth: a}), cookies: map[string]*http.Cookie{"u": w.Result().Cookies()[0]}}
			code, body := s.get(t, "u", url.Values{"q": {"lunch"}})
			if code != http.StatusNotImplemented || body["error"] != chatr.ENOTIMPLEMENTED || !strings.Contains(body["message"].(string), "SQLite or PostgreSQL") {
				t.Errorf("got %d %v, want 501 %q", code, body, chatr.ENOTIMPLEMENTED)
			}
		})
	}
}
