package oauth_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chatr/chatr/oauth"
)

var github = oauth.GitHub{ClientID: "id", ClientSecret: "secret"}

func TestCallbackURL(t *testing.T) {
	for _, tc := range []struct {
		name       string
		public     string
		trustProxy bool
		tls        bool
		headers    map[string]string
		want       string
		secure     bool
	}{
		{name: "own origin", want: "http://chat.test/.auth/login/github/callback"},
		{name: "TLS", tls: true, want: "https://chat.test/.auth/login/github/callback", secure: true},
		{name: "forwarded headers ignored", headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
			want: "http://chat.test/.auth/login/github/callback"},
		{name: "trusted proxy", trustProxy: true, headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"},
			want: "https://chat.example.com/.auth/login/github/callback", secure: true},
		{name: "public URL", public: "https://chat.example.com/", headers: map[string]string{"X-Forwarded-Host": "evil.example"},
			want: "https://chat.example.com/.auth/login/github/callback", secure: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := oauth.New(oauth.Config{GitHub: github, PublicURL: tc.public, TrustProxy: tc.trustProxy})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "http://chat.test/.auth/login/github", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusFound {
				t.Fatalf("status %d, body %s", w.Code, w.Body)
			}
			loc, _ := url.Parse(w.Header().Get("Location"))
			if got := loc.Query().Get("redirect_uri"); got != tc.want {
				t.Errorf("redirect_uri = %q, want %q", got, tc.want)
			}
			c := w.Result().Cookies()
			if len(c) != 1 || !c[0].HttpOnly || c[0].Secure != tc.secure || c[0].SameSite != http.SameSiteLaxMode ||
				c[0].Path != "/.auth/login/github/callback" || c[0].MaxAge <= 0 || c[0].MaxAge > 900 {
				t.Errorf("sign-in cookie %+v: want HttpOnly, Lax, Secure=%v, the callback path, minutes", c, tc.secure)
			}
		})
	}
}

func TestNewChecksConfig(t *testing.T) {
	oidc := func(name string) oauth.OIDC {
		return oauth.OIDC{Name: name, Issuer: "https://id.example.com", ClientID: "c", ClientSecret: "s"}
	}
	for _, tc := range []struct {
		name string
		cfg  oauth.Config
		want string
	}{
		{"bad name", oauth.Config{OIDC: []oauth.OIDC{oidc("Key Cloak")}}, "provider name"},
		{"reserved name", oauth.Config{OIDC: []oauth.OIDC{oidc("guest")}}, "reserved"},
		{"duplicate name", oauth.Config{OIDC: []oauth.OIDC{oidc("kc"), oidc("kc")}}, "two providers"},
		{"clash with github", oauth.Config{GitHub: github, OIDC: []oauth.OIDC{oidc("github")}}, "two providers"},
		{"incomplete OIDC", oauth.Config{OIDC: []oauth.OIDC{{Name: "kc", Issuer: "https://id.example.com", ClientID: "c"}}}, "needs"},
		{"public URL with a path", oauth.Config{PublicURL: "https://chat.example.com/app"}, "public URL"},
		{"public URL without scheme", oauth.Config{PublicURL: "chat.example.com"}, "public URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := oauth.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestProvidersListed(t *testing.T) {
	h, err := oauth.New(oauth.Config{
		GitHub: github, Twitter: oauth.Twitter{ClientID: "x", ClientSecret: "y"},
		AAD:  oauth.AAD{ClientID: "only-an-id"}, // no secret: off
		OIDC: []oauth.OIDC{{Name: "kc", Label: "Keycloak", Issuer: "https://id.example.com", ClientID: "c", ClientSecret: "s"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range h.Providers() {
		got = append(got, p.Name+"="+p.Label)
	}
	if want := "github=GitHub twitter=X kc=Keycloak"; strings.Join(got, " ") != want {
		t.Errorf("providers %v, want %s", got, want)
	}
	for _, path := range []string{"/.auth/login/aad", "/.auth/login/kc/other", "/.auth/login/"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"error":"not_found"`) {
			t.Errorf("GET %s: %d %s, want a 404 JSON error", path, w.Code, w.Body)
		}
	}
}

func TestUnreachableIssuer(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	h, err := oauth.New(oauth.Config{OIDC: []oauth.OIDC{{Issuer: dead.URL, ClientID: "c", ClientSecret: "s"}}})
	if err != nil {
		t.Fatalf("New must not contact the issuer: %v", err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/.auth/login/oidc", nil))
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "cannot be reached") {
		t.Errorf("login with the issuer down: %d %s, want 502 JSON", w.Code, w.Body)
	}
}
