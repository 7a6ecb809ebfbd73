package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/internal/memstore"
)

// fuzzHandler is the HTTP API on an in-memory store, without rate limits,
// with one signed-in user (its cookie) who is a member of chat "room"
// holding 3 messages.
func fuzzHandler(t testing.TB) (http.Handler, *http.Cookie) {
	st := memstore.New()
	sessions := auth.New(auth.Config{Store: st})
	app := chat.New(chat.Config{Store: st})
	h := httpapi.New(httpapi.Config{
		Store: st, Auth: sessions, App: app, HubKey: []byte("fuzz-key-0123456789"),
		Hub:               http.NotFoundHandler(),
		RequestsPerSecond: -1, SignInsPerMinute: -1,
	})
	ctx := context.Background()
	u := chatr.User{ID: "guest:alice", Name: "Alice", Provider: "guest"}
	w := httptest.NewRecorder()
	if err := sessions.SignIn(ctx, w, httptest.NewRequest("POST", "/", nil), u); err != nil {
		t.Fatal(err)
	}
	st.CreateChat(ctx, chatr.Chat{ID: "room", Name: "Room", Owner: u.ID})
	st.AddMember(ctx, "room", chatr.Member{UserID: u.ID, UserName: u.Name})
	for _, text := range []string{"one", "two", "three"} {
		st.AddMessage(ctx, chatr.Message{ChatID: "room", FromUserID: u.ID, FromUserName: u.Name, Text: text})
	}
	return h, w.Result().Cookies()[0]
}

// checkJSONError fails unless the answer is a JSON error with a code and message.
func checkJSONError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var e struct{ Error, Message string }
	if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || json.Unmarshal(w.Body.Bytes(), &e) != nil ||
		e.Error == "" || e.Message == "" {
		t.Fatalf("status %d with body %q, want a JSON error", w.Code, w.Body.Bytes())
	}
}

// FuzzGuestLogin posts arbitrary bodies with arbitrary content types to
// the guest sign-in: the answer is 200 with a clean principal, a 302 to a
// same-site path, or a 400 JSON error; never a 500.
func FuzzGuestLogin(f *testing.F) {
	for _, s := range []struct{ ctype, body string }{
		{"application/json", `{"name":"Alice"}`},
		{"application/json; charset=utf-8", `{"name":"  Bob  "}`},
		{"application/json", `{"name":"a\u202eb"}`},
		{"application/json", `{"name":5}`},
		{"application/json", `[]`},
		{"application/json", "{\"name\":\"\xff\"}"},
		{"application/x-www-form-urlencoded", "name=Eve&post_login_redirect_uri=%2F%2Fevil.example"},
		{"application/x-www-form-urlencoded", "name=Eve&post_login_redirect_uri=/chat"},
		{"multipart/form-data; boundary=xx", "--xx\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nMia\r\n--xx--\r\n"},
		{"text/plain", "name=x"},
		{"", ""},
	} {
		f.Add(s.ctype, []byte(s.body))
	}
	h, _ := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		r := httptest.NewRequest("POST", "/.auth/login/guest", bytes.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			var p struct {
				ClientPrincipal struct{ UserID, UserDetails, IdentityProvider string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("200 with body %q", w.Body.Bytes())
			}
			checkName(t, p.ClientPrincipal.UserDetails)
			if !strings.HasPrefix(p.ClientPrincipal.UserID, "guest:") || p.ClientPrincipal.IdentityProvider != "guest" {
				t.Fatalf("principal %+v", p.ClientPrincipal)
			}
		case 302:
			loc := w.Header().Get("Location")
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\r\n\t") {
				t.Fatalf("redirect to %q", loc)
			}
		case 400:
			checkJSONError(t, w)
		default:
			t.Fatalf("status %d, body %q", w.Code, w.Body.Bytes())
		}
	})
}

func checkName(t *testing.T, name string) {
	t.Helper()
	if name == "" || name != strings.TrimSpace(name) || !utf8.ValidString(name) || utf8.RuneCountInString(name) > auth.DefaultMaxNameLength {
		t.Fatalf("name %q accepted", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Fatalf("name %q with a control or format character accepted", name)
		}
	}
}

// FuzzHistoryQuery sends arbitrary chat ids and query strings to the
// history API: 200 with ascending ids within the limit, or a 400/404 JSON
// error.
func FuzzHistoryQuery(f *testing.F) {
	for _, s := range []struct{ chat, query string }{
		{"room", ""}, {"room", "limit=2"}, {"room", "before=3&limit=1"}, {"room", "after=1"}, {"room", "after=1&before=3"},
		{"room", "limit=0"}, {"room", "limit=201"}, {"room", "before=-1"}, {"room", "limit=abc"}, {"room", "limit=%zz"},
		{"nope", ""}, {"..%2f", ""}, {"%00", ""},
	} {
		f.Add(s.chat, s.query)
	}
	h, cookie := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, chatID, query string) {
		target := "/api/chats/" + url.PathEscape(chatID) + "/messages?" + query
		if strings.ContainsAny(query, " \r\n\t#") {
			return // not a request line a client can send
		}
		r, err := http.NewRequest("GET", target, nil)
		if err != nil {
			return
		}
		r.RequestURI = target
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			var page struct {
				Messages []chatr.Message
				HasMore  bool
			}
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
				t.Fatalf("200 with body %q", w.Body.Bytes())
			}
			if len(page.Messages) > 200 {
				t.Fatalf("%d messages in one page", len(page.Messages))
			}
			for i, m := range page.Messages {
				if m.ChatID != "room" || (i > 0 && m.ID <= page.Messages[i-1].ID) {
					t.Fatalf("page %+v", page.Messages)
				}
			}
		case 307, 301:
			// ServeMux cleaning a path with dots or double slashes.
		case 400, 404:
			if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				checkJSONError(t, w)
			}
		default:
			t.Fatalf("GET %s: status %d, body %q", target, w.Code, w.Body.Bytes())
		}
	})
}

// FuzzSafeRedirect: whatever a client sends, the target resolves to a
// page of the same site.
func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/", "/chat?x=1#y", "//evil.example", "/\\evil.example", "https://evil.example", "/\t/evil",
		"javascript:alert(1)", "/%2F%2Fevil", "\\\\evil", "/a/../../b", " /x", "/\x00"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://chatr.example/page")
	f.Fuzz(func(t *testing.T, target string) {
		got := httpapi.SafeRedirect(target)
		if got != "/" && got != target {
			t.Fatalf("SafeRedirect(%q) = %q: neither the target nor /", target, got)
		}
		u, err := base.Parse(got)
		if err != nil || u.Host != "chatr.example" || u.Scheme != "https" || u.User != nil {
			t.Fatalf("SafeRedirect(%q) = %q leaves the site (%v)", target, got, err)
		}
		// Browsers also ignore tabs and newlines and treat \ as /.
		if strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("SafeRedirect(%q) = %q", target, got)
		}
	})
}
