package oauth_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chatr/chatr/oauth"
	"github.com/chatr/chatr/server"
)

// fakeProvider reproduces the documented endpoints of GitHub's OAuth apps
// (authorize, POST /login/oauth/access_token, GET /user) or of X's OAuth 2.0
// with PKCE (authorize, POST /2/oauth2/token with Basic client
// authentication, GET /2/users/me): their parameters, their checks (client
// credentials, one-time codes bound to the redirect URI, PKCE S256) and
// their answers, errors included. The authorization page approves at once.
type fakeProvider struct {
	kind           string // "github" or "twitter"
	clientID       string
	secret         string
	srv            *httptest.Server
	mu             sync.Mutex
	codes          map[string]grant
	tokens         map[string]bool
	scopes         map[string]string // access token -> the scope granted with it
	userAPIBroken  bool              // the user API refuses every token
	tokenRequests  int
	acceptJSON     bool // the last token request asked for JSON
	usedBasicAuth  bool // the last token request authenticated with Basic
	verifierPassed bool // the last token request carried a matching code_verifier
}

type grant struct{ redirect, challenge, scope string }

func newFake(t *testing.T, kind string) *fakeProvider {
	f := &fakeProvider{kind: kind, clientID: kind + "-client", secret: kind + "-secret",
		codes: map[string]grant{}, tokens: map[string]bool{}, scopes: map[string]string{}}
	mux := http.NewServeMux()
	if kind == "github" {
		mux.HandleFunc("GET /login/oauth/authorize", f.authorize)
		mux.HandleFunc("POST /login/oauth/access_token", f.githubToken)
		mux.HandleFunc("GET /user", f.githubUser)
		mux.HandleFunc("GET /user/emails", f.githubEmails)
		mux.HandleFunc("GET /user/memberships/orgs/{org}", f.githubMembership)
	} else {
		mux.HandleFunc("GET /i/oauth2/authorize", f.authorize)
		mux.HandleFunc("POST /2/oauth2/token", f.twitterToken)
		mux.HandleFunc("GET /2/users/me", f.twitterMe)
	}
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) config(secret string) oauth.Config {
	if f.kind == "github" {
		return oauth.Config{GitHub: oauth.GitHub{ClientID: f.clientID, ClientSecret: secret,
			AuthURL: f.srv.URL + "/login/oauth/authorize", TokenURL: f.srv.URL + "/login/oauth/access_token", APIURL: f.srv.URL}}
	}
	return oauth.Config{Twitter: oauth.Twitter{ClientID: f.clientID, ClientSecret: secret,
		AuthURL: f.srv.URL + "/i/oauth2/authorize", TokenURL: f.srv.URL + "/2/oauth2/token", APIURL: f.srv.URL}}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *fakeProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != f.clientID {
		http.Error(w, "unknown application", http.StatusNotFound)
		return
	}
	if f.kind == "twitter" {
		// X requires response_type=code, the scopes and a PKCE challenge.
		if q.Get("response_type") != "code" || q.Get("code_challenge") == "" ||
			!strings.Contains(q.Get("scope"), "users.read") || !strings.Contains(q.Get("scope"), "tweet.read") {
			http.Error(w, "invalid authorization request", http.StatusBadRequest)
			return
		}
	}
	if q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		http.Error(w, "unsupported code_challenge_method", http.StatusBadRequest)
		return
	}
	code := randomToken()
	f.mu.Lock()
	f.codes[code] = grant{redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), scope: q.Get("scope")}
	f.mu.Unlock()
	u, _ := url.Parse(q.Get("redirect_uri"))
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// redeem checks and consumes a code: "" when it is good.
func (f *fakeProvider) redeem(r *http.Request) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenRequests++
	g, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code")) // one use, whatever happens
	if !ok {
		return "bad_verification_code"
	}
	if ru := r.PostForm.Get("redirect_uri"); ru != "" && ru != g.redirect || (f.kind == "twitter" && ru != g.redirect) {
		return "redirect_uri_mismatch"
	}
	f.verifierPassed = false
	if g.challenge != "" {
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			return "invalid_grant"
		}
		f.verifierPassed = true
	}
	return ""
}

func (f *fakeProvider) newToken(prefix string) string {
	tok := prefix + randomToken()
	f.mu.Lock()
	f.tokens[tok] = true
	f.mu.Unlock()
	return tok
}

func (f *fakeProvider) tokenValid(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	return ok && f.tokens[tok] && !f.userAPIBroken
}

// githubToken: client credentials in the body; errors come back with status
// 200 and an error field; JSON only when asked for with Accept.
func (f *fakeProvider) githubToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.acceptJSON = strings.Contains(r.Header.Get("Accept"), "application/json")
	f.mu.Unlock()
	answer := func(v url.Values) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			m := map[string]string{}
			for k := range v {
				m[k] = v.Get(k)
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(m)
			return
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(v.Encode()))
	}
	if r.PostForm.Get("client_id") != f.clientID || r.PostForm.Get("client_secret") != f.secret {
		f.mu.Lock()
		f.tokenRequests++
		f.mu.Unlock()
		answer(url.Values{"error": {"incorrect_client_credentials"}, "error_description": {"The client_id and/or client_secret passed are incorrect."}})
		return
	}
	f.mu.Lock()
	scope := f.codes[r.PostForm.Get("code")].scope
	f.mu.Unlock()
	if e := f.redeem(r); e != "" {
		answer(url.Values{"error": {e}, "error_description": {"The code passed is incorrect or expired."}})
		return
	}
	tok := f.newToken("gho_")
	f.mu.Lock()
	f.scopes[tok] = scope
	f.mu.Unlock()
	// GitHub lists the granted scopes comma-separated.
	answer(url.Values{"access_token": {tok}, "token_type": {"bearer"}, "scope": {strings.ReplaceAll(scope, " ", ",")}})
}

func (f *fakeProvider) githubUser(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !f.tokenValid(r) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`))
		return
	}
	_, _ = w.Write([]byte(`{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjE=","type":"User","name":"The Octocat","company":"@github"}`))
}

// twitterToken: a confidential client authenticates with Basic; errors are
// 400/401 JSON.
func (f *fakeProvider) twitterToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	id, secret, ok := r.BasicAuth()
	f.mu.Lock()
	f.usedBasicAuth = ok
	f.mu.Unlock()
	if !ok || id != f.clientID || secret != f.secret {
		f.mu.Lock()
		f.tokenRequests++
		f.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"unauthorized_client","error_description":"Missing valid authorization header"}`))
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code_verifier") == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"Missing required parameter [code_verifier]."}`))
		return
	}
	if e := f.redeem(r); e != "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"Value passed for the authorization code was invalid."}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "bearer", "expires_in": 7200,
		"access_token": f.newToken(""), "scope": "users.read tweet.read"})
}

func (f *fakeProvider) twitterMe(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !f.tokenValid(r) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`))
		return
	}
	_, _ = w.Write([]byte(`{"data":{"id":"2244994945","name":"Developers","username":"XDevelopers"}}`))
}

// socialCase is what each provider's sign-in must give.
var socialCases = []struct {
	kind, provider, userID, name string
}{
	{"github", "github", "github:583231", "octocat"},
	{"twitter", "twitter", "twitter:2244994945", "XDevelopers"},
}

func TestSocialSignIn(t *testing.T) {
	for _, tc := range socialCases {
		t.Run(tc.provider, func(t *testing.T) {
			f := newFake(t, tc.kind)
			base := startNode(t, server.Config{OAuth: f.config(f.secret)})
			b := newBrowser(t, base)

			auth := b.startSignIn(tc.provider, "/#welcome")
			q := auth.Query()
			if !strings.HasPrefix(auth.String(), f.srv.URL) {
				t.Fatalf("sent to %s, want the provider at %s", auth, f.srv.URL)
			}
			if q.Get("client_id") != f.clientID || q.Get("redirect_uri") != base+"/.auth/login/"+tc.provider+"/callback" ||
				q.Get("code_challenge_method") != "S256" || len(q.Get("state")) < 32 || len(q.Get("code_challenge")) < 43 {
				t.Errorf("authorization request %s lacks client_id, our callback, state or PKCE", auth.RawQuery)
			}
			cb := b.authorize(auth)
			r := b.get(cb.String())
			if r.Status != http.StatusFound || r.Location != "/#welcome" {
				t.Fatalf("callback: status %d, Location %q; body %s", r.Status, r.Location, r.Body)
			}
			f.mu.Lock()
			if !f.verifierPassed {
				t.Error("the token request carried no matching PKCE code_verifier")
			}
			if tc.kind == "github" && !f.acceptJSON {
				t.Error("the GitHub token request did not ask for JSON")
			}
			if tc.kind == "twitter" && !f.usedBasicAuth {
				t.Error("the X token request did not use Basic client authentication")
			}
			f.mu.Unlock()
			p := b.me()
			if p == nil || p.IdentityProvider != tc.provider || p.UserID != tc.userID || p.UserDetails != tc.name {
				t.Fatalf("/.auth/me = %+v, want %s / %s / %s", p, tc.provider, tc.userID, tc.name)
			}
			var list struct{ Providers []struct{ Name string } }
			_ = json.Unmarshal(b.get("/.auth/providers").Body, &list)
			if len(list.Providers) != 1 || list.Providers[0].Name != tc.provider {
				t.Errorf("providers = %+v, want only %s", list.Providers, tc.provider)
			}
			if r := b.get("/.auth/logout"); r.Status != http.StatusFound {
				t.Errorf("logout: status %d", r.Status)
			}
			if p := b.me(); p != nil {
				t.Errorf("after logout /.auth/me = %+v", p)
			}
		})
	}
}

func TestSocialFailures(t *testing.T) {
	for _, tc := range socialCases {
		t.Run(tc.provider, func(t *testing.T) {
			f := newFake(t, tc.kind)
			base := startNode(t, server.Config{OAuth: f.config(f.secret)})
			cbPath := "/.auth/login/" + tc.provider + "/callback"

			t.Run("bad state", func(t *testing.T) {
				b := newBrowser(t, base)
				cb := b.authorize(b.startSignIn(tc.provider, ""))
				q := cb.Query()
				q.Set("state", "forged")
				cb.RawQuery = q.Encode()
				b.wantRefused(b.get(cb.String()), http.StatusBadRequest, "state does not match")
			})
			t.Run("callback in another browser", func(t *testing.T) {
				cb := newBrowser(t, base)
				u := cb.authorize(cb.startSignIn(tc.provider, ""))
				victim := newBrowser(t, base)
				victim.wantRefused(victim.get(u.String()), http.StatusBadRequest, "start again")
			})
			t.Run("replayed code", func(t *testing.T) {
				b := newBrowser(t, base)
				auth := b.startSignIn(tc.provider, "")
				cookie := *b.cookie(cbPath, "chatr_oauth_"+tc.provider)
				cb := b.authorize(auth)
				if r := b.get(cb.String()); r.Status != http.StatusFound {
					t.Fatalf("first callback: status %d, body %s", r.Status, r.Body)
				}
				if r := b.get(cb.String()); r.Status != http.StatusBadRequest {
					t.Errorf("replay in the same browser: status %d, want 400", r.Status)
				}
				thief := newBrowser(t, base)
				u, _ := url.Parse(base + cbPath)
				cookie.Path = cbPath
				thief.jar.SetCookies(u, []*http.Cookie{&cookie})
				thief.wantRefused(thief.get(cb.String()), http.StatusBadRequest, "already used")

				// Under a fresh state of its own, the provider refuses the used code.
				thief2 := newBrowser(t, base)
				fresh := thief2.startSignIn(tc.provider, "")
				q := url.Values{"code": {cb.Query().Get("code")}, "state": {fresh.Query().Get("state")}}
				thief2.wantRefused(thief2.get(cbPath+"?"+q.Encode()), http.StatusUnauthorized, "did not accept the sign-in code")
			})
			t.Run("provider error", func(t *testing.T) {
				b := newBrowser(t, base)
				auth := b.startSignIn(tc.provider, "")
				q := url.Values{"error": {"access_denied"}, "state": {auth.Query().Get("state")}}
				b.wantRefused(b.get(cbPath+"?"+q.Encode()), http.StatusUnauthorized, "access_denied")
			})
			t.Run("user API refuses", func(t *testing.T) {
				f.mu.Lock()
				f.userAPIBroken = true
				f.mu.Unlock()
				defer func() {
					f.mu.Lock()
					f.userAPIBroken = false
					f.mu.Unlock()
				}()
				b := newBrowser(t, base)
				b.wantRefused(b.get(b.authorize(b.startSignIn(tc.provider, "")).String()), http.StatusUnauthorized, "did not tell who you are")
			})
			t.Run("open redirect", func(t *testing.T) {
				for _, target := range []string{"https://evil.example", "//evil.example", "https:evil.example"} {
					b := newBrowser(t, base)
					if got := b.signIn(tc.provider, target); got != "/" {
						t.Errorf("post_login_redirect_uri=%q: landed on %q, want /", target, got)
					}
				}
			})
		})
	}
}

func TestSocialWrongClientSecret(t *testing.T) {
	for _, tc := range socialCases {
		t.Run(tc.provider, func(t *testing.T) {
			f := newFake(t, tc.kind)
			base := startNode(t, server.Config{OAuth: f.config("not-the-secret")})
			b := newBrowser(t, base)
			b.wantRefused(b.get(b.authorize(b.startSignIn(tc.provider, "")).String()), http.StatusUnauthorized, "did not accept the sign-in code")
		})
	}
}
