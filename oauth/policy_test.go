package oauth_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chatr/chatr/oauth"
	"github.com/chatr/chatr/server"
)

// The GitHub user octocat, as the fake provider knows them: a verified
// address at github.com and an unverified one elsewhere; an active member
// of "github", invited (not yet a member) to "invited".
const (
	octocatEmails = `[{"email":"octocat@github.com","verified":true,"primary":true,"visibility":"public"},` +
		`{"email":"octocat@unverified.test","verified":false,"primary":false,"visibility":null}]`
	githubNotFound = `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`
)

// hasScope reports whether the request's token was granted scope (GitHub
// answers 404 to a token without it on these endpoints).
func (f *fakeProvider) hasScope(r *http.Request, scope string) bool {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(strings.Fields(f.scopes[tok]), scope)
}

// githubEmails is GET /user/emails (scope user:email).
func (f *fakeProvider) githubEmails(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !f.tokenValid(r) || !f.hasScope(r, "user:email") {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(githubNotFound))
		return
	}
	_, _ = w.Write([]byte(octocatEmails))
}

// githubMembership is GET /user/memberships/orgs/{org} (scope read:org): the
// membership, or 404 for an organisation the user is not in.
func (f *fakeProvider) githubMembership(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	org := r.PathValue("org")
	state := map[string]string{"github": "active", "invited": "pending"}[org]
	if !f.tokenValid(r) || !f.hasScope(r, "read:org") || state == "" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(githubNotFound))
		return
	}
	_, _ = w.Write([]byte(`{"url":"https://api.github.com/orgs/` + org + `/memberships/octocat","state":"` + state +
		`","role":"member","organization_url":"https://api.github.com/orgs/` + org +
		`","organization":{"login":"` + org + `","id":1},"user":{"login":"octocat","id":583231}}`))
}

// signInLands runs a sign-in and returns where the browser landed and
// whether it is signed in.
func signInLands(t *testing.T, base, provider string) (string, bool) {
	t.Helper()
	b := newBrowser(t, base)
	return b.signIn(provider, "/"), b.me() != nil
}

func TestGitHubAllowlists(t *testing.T) {
	for _, tc := range []struct {
		name          string
		domains, orgs []string
		wantError     string // "" : signed in
	}{
		{"verified address in an allowed domain", []string{"example.com", "GitHub.com"}, nil, ""},
		{"only an unverified address in the domain", []string{"unverified.test"}, nil, "domain"},
		{"no address in the domains", []string{"example.com"}, nil, "domain"},
		{"active member of an allowed organisation", nil, []string{"other", "github"}, ""},
		{"only invited to the organisation", nil, []string{"invited"}, "org"},
		{"member of none of the organisations", nil, []string{"other"}, "org"},
		{"both lists, both met", []string{"github.com"}, []string{"github"}, ""},
		{"both lists, the organisation missing", []string{"github.com"}, []string{"other"}, "org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "github")
			cfg := f.config(f.secret)
			cfg.AllowEmailDomains, cfg.AllowGitHubOrgs = tc.domains, tc.orgs
			base := startNode(t, server.Config{OAuth: cfg})
			landed, signedIn := signInLands(t, base, "github")
			if tc.wantError == "" {
				if landed != "/" || !signedIn {
					t.Fatalf("landed on %q, signed in %v; want / and signed in", landed, signedIn)
				}
				return
			}
			if want := "/?signin_error=" + tc.wantError; landed != want || signedIn {
				t.Fatalf("landed on %q, signed in %v; want %s and signed out", landed, signedIn, want)
			}
		})
	}
}

// With email domains limited, X (which tells no address) is refused.
func TestTwitterRefusedWithEmailDomains(t *testing.T) {
	f := newFake(t, "twitter")
	cfg := f.config(f.secret)
	cfg.AllowEmailDomains = []string{"example.com"}
	base := startNode(t, server.Config{OAuth: cfg})
	if landed, signedIn := signInLands(t, base, "twitter"); landed != "/?signin_error=domain" || signedIn {
		t.Fatalf("landed on %q, signed in %v; want /?signin_error=domain", landed, signedIn)
	}
}

// The test provider's accounts: alice is in the groups chatr and staff (an
// array), carol's groups claim is the string "chatr", bob is in staff only.
// Every account has a verified address at example.test.
func TestOIDCAllowlists(t *testing.T) {
	issuer, _ := requireOP(t)
	provider := func(claim string) oauth.OIDC {
		return oauth.OIDC{Name: "op", Issuer: issuer, ClientID: "chatr", ClientSecret: "chatr-secret", RequiredClaim: claim}
	}
	for _, tc := range []struct {
		name, claim, account, wantError string
		domains                         []string
	}{
		{"claim in an array", "groups=chatr", "alice", "", nil},
		{"claim as a string", "groups=chatr", "carol", "", nil},
		{"claim without the value", "groups=chatr", "bob", "claim", nil},
		{"claim missing", "department=sales", "alice", "claim", nil},
		{"verified address in an allowed domain", "", "bob", "", []string{"example.test"}},
		{"address in no allowed domain", "", "bob", "domain", []string{"example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startNode(t, server.Config{OAuth: oauth.Config{OIDC: []oauth.OIDC{provider(tc.claim)}, AllowEmailDomains: tc.domains}})
			b := newBrowser(t, base)
			auth := b.startSignIn("op", "/")
			q := auth.Query()
			q.Set("login_hint", tc.account)
			auth.RawQuery = q.Encode()
			r := b.get(b.authorize(auth).String())
			want := "/"
			if tc.wantError != "" {
				want = "/?signin_error=" + tc.wantError
			}
			if r.Status != http.StatusFound || r.Location != want {
				t.Fatalf("callback: status %d, Location %q, want 302 to %s; body %s", r.Status, r.Location, want, r.Body)
			}
			if p := b.me(); (p != nil) != (tc.wantError == "") {
				t.Fatalf("signed in as %+v, want signed in: %v", p, tc.wantError == "")
			}
		})
	}
	if _, err := oauth.New(oauth.Config{OIDC: []oauth.OIDC{provider("groups")}}); err == nil {
		t.Error("a required claim without a value was accepted")
	}
}

// signInAs signs account in at the test provider through Chatr's "op".
func (b *browser) signInAs(account string) string {
	b.t.Helper()
	auth := b.startSignIn("op", "/")
	q := auth.Query()
	q.Set("login_hint", account)
	auth.RawQuery = q.Encode()
	r := b.get(b.authorize(auth).String())
	if r.Status != http.StatusFound {
		b.t.Fatalf("callback: status %d, body %s", r.Status, r.Body)
	}
	return r.Location
}

// send makes a request with the browser's cookies and returns the status.
func (b *browser) send(method, path string) int {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.base+path, nil)
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A banned user's session ends and a new sign-in with the provider is
// refused, until the ban is lifted.
func TestBannedProviderSignIn(t *testing.T) {
	issuer, _ := requireOP(t)
	base := startNode(t, server.Config{Admins: "oidc-op:bob", OAuth: oauth.Config{OIDC: []oauth.OIDC{
		{Name: "op", Issuer: issuer, ClientID: "chatr", ClientSecret: "chatr-secret"}}}})
	admin, alice := newBrowser(t, base), newBrowser(t, base)
	admin.signInAs("bob")
	if got := alice.signInAs("alice"); got != "/" {
		t.Fatalf("alice landed on %q before the ban", got)
	}
	if st := admin.send("POST", "/api/admin/users/oidc-op:alice/ban"); st != http.StatusNoContent {
		t.Fatalf("ban: status %d, want 204", st)
	}
	if p := alice.me(); p != nil {
		t.Errorf("alice's session outlived the ban: %+v", p)
	}
	if got := newBrowser(t, base).signInAs("alice"); got != "/?signin_error=banned" {
		t.Errorf("banned alice's sign-in landed on %q, want /?signin_error=banned", got)
	}
	if st := admin.send("DELETE", "/api/admin/users/oidc-op:alice/ban"); st != http.StatusNoContent {
		t.Fatalf("unban: status %d, want 204", st)
	}
	again := newBrowser(t, base)
	if got := again.signInAs("alice"); got != "/" || again.me() == nil {
		t.Errorf("after the unban alice landed on %q, signed in: %v", got, again.me() != nil)
	}
}

func TestGitHubOrgsNeedGitHub(t *testing.T) {
	if _, err := oauth.New(oauth.Config{AllowGitHubOrgs: []string{"acme"}}); err == nil {
		t.Error("allowed GitHub organisations without GitHub sign-in were accepted")
	}
}
