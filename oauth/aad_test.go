package oauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/chatr/chatr/oauth"
	"github.com/chatr/chatr/server"
)

// fakeEntra reproduces the shapes of Microsoft Entra ID's v2.0 endpoints
// that matter for multi-tenant sign-in: a "common" discovery document whose
// issuer is the template https://<authority>/{tenantid}/v2.0, a tenant's
// own document naming its id, and identity tokens whose iss is the user's
// tenant, with tid and oid claims.
type fakeEntra struct {
	srv *httptest.Server
	key *rsa.PrivateKey

	mu        sync.Mutex
	codes     map[string]entraCode
	userTID   string // the signing-in user's tenant (tid claim)
	issTenant string // the tenant named in iss; "" = userTID
}

type entraCode struct{ nonce, challenge string }

const (
	tenantA = "11111111-1111-1111-1111-111111111111"
	tenantB = "22222222-2222-2222-2222-222222222222"
)

func newFakeEntra(t *testing.T) *fakeEntra {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEntra{key: key, codes: map[string]entraCode{}, userTID: tenantA}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		tenant, base := r.PathValue("tenant"), f.srv.URL
		issuer := base + "/" + tenant + "/v2.0"
		if tenant == "common" || tenant == "organizations" {
			issuer = base + "/{tenantid}/v2.0"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                issuer,
			"authorization_endpoint":                base + "/" + tenant + "/oauth2/v2.0/authorize",
			"token_endpoint":                        base + "/" + tenant + "/oauth2/v2.0/token",
			"jwks_uri":                              base + "/" + tenant + "/discovery/v2.0/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "entra-key", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := randomToken()
		f.mu.Lock()
		f.codes[code] = entraCode{nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		f.mu.Unlock()
		u, _ := url.Parse(q.Get("redirect_uri"))
		u.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		f.mu.Lock()
		c, found := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		tid, issTenant := f.userTID, f.issTenant
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		w.Header().Set("Content-Type", "application/json")
		if id != "aad-client" || secret != "aad-secret" || !found || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired."}`))
			return
		}
		if issTenant == "" {
			issTenant = tid
		}
		now := time.Now().Unix()
		claims := map[string]any{
			"iss": f.srv.URL + "/" + issTenant + "/v2.0", "aud": "aad-client", "iat": now, "nbf": now, "exp": now + 3600,
			"sub": "per-app-subject", "oid": "00000000-0000-0000-66f3-3332eca7ea81", "tid": tid, "nonce": c.nonce,
			"preferred_username": "adele@contoso.example", "name": "Adele Vance", "ver": "2.0",
		}
		if tid == "" {
			delete(claims, "tid")
		}
		payload, _ := json.Marshal(claims)
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.key},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "entra-key"))
		jws, _ := signer.Sign(payload)
		idToken, _ := jws.CompactSerialize()
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600,
			"access_token": randomToken(), "id_token": idToken})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEntra) set(userTID, issTenant string) {
	f.mu.Lock()
	f.userTID, f.issTenant = userTID, issTenant
	f.mu.Unlock()
}

func TestAADSignIn(t *testing.T) {
	f := newFakeEntra(t)
	for _, tc := range []struct {
		name, tenant, userTID, issTenant string
		wantError                        string // "" = signed in
	}{
		{"common, user of tenant a", "common", tenantA, "", ""},
		{"common, user of tenant b", "common", tenantB, "", ""},
		{"organizations", "organizations", tenantA, "", ""},
		{"common, iss of another tenant", "common", tenantA, tenantB, "wrong issuer"},
		{"common, no tenant claim", "common", "", tenantA, "no tenant"},
		{"single tenant", tenantA, tenantA, "", ""},
		{"single tenant, user of another tenant", tenantA, tenantB, "", "wrong issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.set(tc.userTID, tc.issTenant)
			base := startNode(t, server.Config{OAuth: oauth.Config{AAD: oauth.AAD{
				ClientID: "aad-client", ClientSecret: "aad-secret", Tenant: tc.tenant, Authority: f.srv.URL}}})
			b := newBrowser(t, base)
			auth := b.startSignIn("aad", "/")
			if !strings.HasPrefix(auth.String(), f.srv.URL+"/"+tc.tenant+"/oauth2/v2.0/authorize") || auth.Query().Get("nonce") == "" {
				t.Fatalf("sent to %s, want the tenant's authorize endpoint with a nonce", auth)
			}
			r := b.get(b.authorize(auth).String())
			if tc.wantError != "" {
				b.wantRefused(r, http.StatusUnauthorized, tc.wantError)
				return
			}
			if r.Status != http.StatusFound {
				t.Fatalf("callback: status %d, body %s", r.Status, r.Body)
			}
			p := b.me()
			if p == nil || p.IdentityProvider != "aad" || p.UserID != "aad:00000000-0000-0000-66f3-3332eca7ea81" || p.UserDetails != "adele@contoso.example" {
				t.Errorf("/.auth/me = %+v, want aad / aad:<oid> / adele@contoso.example", p)
			}
		})
	}
}
