package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/chatr/chatr"
)

// maxNameLength bounds display names taken from providers (auth's default).
const maxNameLength = 32

// GitHub is a GitHub OAuth app. Users are "github:<numeric id>", named by
// their login.
type GitHub struct {
	ClientID, ClientSecret string
	// Endpoints, for GitHub Enterprise or tests. Defaults:
	// https://github.com/login/oauth/authorize, .../access_token and the API
	// at https://api.github.com.
	AuthURL, TokenURL, APIURL string
}

func (g GitHub) enabled() bool { return g.ClientID != "" && g.ClientSecret != "" }

// AAD is an app registered in Microsoft Entra ID. Users are "aad:<oid>",
// named by preferred_username (or name).
type AAD struct {
	ClientID, ClientSecret string
	// Tenant is a tenant id or domain, or "common" (any work, school or
	// personal account), "organizations" or "consumers". Default "common".
	Tenant string
	// Authority is the login host, default https://login.microsoftonline.com
	// (other clouds, or tests).
	Authority string
}

func (a AAD) enabled() bool { return a.ClientID != "" && a.ClientSecret != "" }

// Twitter is an X app with OAuth 2.0 (confidential client). Users are
// "twitter:<id>", named by their username.
type Twitter struct {
	ClientID, ClientSecret string
	// Endpoints, for tests. Defaults: https://twitter.com/i/oauth2/authorize,
	// https://api.x.com/2/oauth2/token and the API at https://api.x.com.
	AuthURL, TokenURL, APIURL string
}

func (t Twitter) enabled() bool { return t.ClientID != "" && t.ClientSecret != "" }

// OIDC is any OpenID Connect provider found by discovery at Issuer (Keycloak,
// Dex, Authentik, Google...). Users are "oidc-<name>:<sub>" with provider
// <name>, named by preferred_username, name or email.
type OIDC struct {
	Name                           string // in /.auth/login/<name> and identityProvider; default "oidc"
	Label                          string // shown on the sign-in page; default Name
	Issuer, ClientID, ClientSecret string
	Scopes                         []string // default openid, profile, email
	// AuthURL and TokenURL replace the discovered endpoints when set (a
	// provider behind another host name, or tests).
	AuthURL, TokenURL string
	// RequiredClaim ("name=value", e.g. "groups=chatr") admits only users
	// whose identity token carries the claim with that value: a string
	// equal to it, or an array holding it.
	RequiredClaim string
}

// --- GitHub ---

type githubProvider struct {
	cfg    oauth2.Config
	api    string
	http   *http.Client
	policy policy
}

func newGitHub(g GitHub, hc *http.Client, pol policy) *githubProvider {
	p := &githubProvider{api: strings.TrimRight(or(g.APIURL, "https://api.github.com"), "/"), http: hc, policy: pol}
	p.cfg = oauth2.Config{
		ClientID: g.ClientID, ClientSecret: g.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   or(g.AuthURL, "https://github.com/login/oauth/authorize"),
			TokenURL:  or(g.TokenURL, "https://github.com/login/oauth/access_token"),
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	// A public profile needs no scope; the allowlists need to read more.
	if len(pol.domains) > 0 {
		p.cfg.Scopes = append(p.cfg.Scopes, "user:email")
	}
	if len(pol.orgs) > 0 {
		p.cfg.Scopes = append(p.cfg.Scopes, "read:org")
	}
	return p
}

func (p *githubProvider) name() string  { return "github" }
func (p *githubProvider) label() string { return "GitHub" }

func (p *githubProvider) oauth2Config(context.Context) (*oauth2.Config, error) { return &p.cfg, nil }

func (p *githubProvider) authParams(*flow) []oauth2.AuthCodeOption {
	return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("allow_signup", "true")}
}

func (p *githubProvider) identify(ctx context.Context, tok *oauth2.Token, _ *flow) (chatr.User, error) {
	var me struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
	}
	if err := getJSON(ctx, p.http, p.api+"/user", tok.AccessToken, githubHeaders(), &me); err != nil {
		return chatr.User{}, err
	}
	if me.ID <= 0 || me.Login == "" {
		return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "GitHub returned no user id")
	}
	if len(p.policy.domains) > 0 {
		emails, err := githubEmails(ctx, p.http, p.api, tok.AccessToken)
		if err != nil {
			return chatr.User{}, err
		}
		if err := p.policy.checkEmails(emails); err != nil {
			return chatr.User{}, err
		}
	}
	if err := p.policy.checkGitHubOrgs(ctx, p.http, p.api, tok.AccessToken); err != nil {
		return chatr.User{}, err
	}
	return chatr.User{ID: "github:" + strconv.FormatInt(me.ID, 10), Name: displayName(me.Login), Provider: "github", Handle: me.Login}, nil
}

// --- X (Twitter) ---

type twitterProvider struct {
	cfg    oauth2.Config
	api    string
	http   *http.Client
	policy policy
}

func newTwitter(t Twitter, hc *http.Client, pol policy) *twitterProvider {
	p := &twitterProvider{api: strings.TrimRight(or(t.APIURL, "https://api.x.com"), "/"), http: hc, policy: pol}
	p.cfg = oauth2.Config{
		ClientID: t.ClientID, ClientSecret: t.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   or(t.AuthURL, "https://twitter.com/i/oauth2/authorize"),
			TokenURL:  or(t.TokenURL, "https://api.x.com/2/oauth2/token"),
			AuthStyle: oauth2.AuthStyleInHeader, // confidential clients use Basic auth
		},
		Scopes: []string{"users.read", "tweet.read"}, // what GET /2/users/me needs
	}
	return p
}

func (p *twitterProvider) name() string  { return "twitter" }
func (p *twitterProvider) label() string { return "X" }

func (p *twitterProvider) oauth2Config(context.Context) (*oauth2.Config, error) { return &p.cfg, nil }

func (p *twitterProvider) authParams(*flow) []oauth2.AuthCodeOption { return nil }

func (p *twitterProvider) identify(ctx context.Context, tok *oauth2.Token, _ *flow) (chatr.User, error) {
	var me struct {
		Data struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Username string `json:"username"`
		} `json:"data"`
	}
	if err := getJSON(ctx, p.http, p.api+"/2/users/me", tok.AccessToken, nil, &me); err != nil {
		return chatr.User{}, err
	}
	if me.Data.ID == "" || me.Data.Username == "" {
		return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "X returned no user id")
	}
	// X tells this app no email address: with email domains limited, its
	// users cannot show one.
	if err := p.policy.checkEmails(nil); err != nil {
		return chatr.User{}, err
	}
	return chatr.User{ID: "twitter:" + me.Data.ID, Name: displayName(me.Data.Username), Provider: "twitter", Handle: me.Data.Username}, nil
}

// --- OpenID Connect (generic and Entra ID) ---

type oidcProvider struct {
	id, display  string
	issuer       string
	idPrefix     string // user ids are idPrefix + subject (or oid)
	clientID     string
	clientSecret string
	scopes       []string
	authURL      string
	tokenURL     string
	http         *http.Client
	now          func() time.Time
	policy       policy
	required     requiredClaim // generic providers only

	// Entra ID: the issuer depends on the user's tenant. Discovery of
	// "common" or "organizations" names it "https://.../{tenantid}/v2.0";
	// the token's iss must be that with {tenantid} = its tid claim.
	aad bool

	mu       sync.Mutex
	cfg      *oauth2.Config
	verifier *oidc.IDTokenVerifier
	issTmpl  string // the discovered issuer (a template for Entra ID)
}

func newOIDC(o OIDC, hc *http.Client, now func() time.Time, pol policy) (*oidcProvider, error) {
	name := or(o.Name, "oidc")
	required, err := parseClaim(o.RequiredClaim)
	if err != nil {
		return nil, err
	}
	return &oidcProvider{
		id: name, display: or(o.Label, name), issuer: strings.TrimRight(o.Issuer, "/"),
		idPrefix: "oidc-" + name + ":", clientID: o.ClientID, clientSecret: o.ClientSecret,
		scopes: o.Scopes, authURL: o.AuthURL, tokenURL: o.TokenURL, http: hc, now: now,
		policy: pol, required: required,
	}, nil
}

func newAAD(a AAD, hc *http.Client, now func() time.Time, pol policy) *oidcProvider {
	authority := strings.TrimRight(or(a.Authority, "https://login.microsoftonline.com"), "/")
	return &oidcProvider{
		id: "aad", display: "Microsoft", issuer: authority + "/" + or(a.Tenant, "common") + "/v2.0",
		idPrefix: "aad:", clientID: a.ClientID, clientSecret: a.ClientSecret,
		http: hc, now: now, aad: true, policy: pol,
	}
}

func (p *oidcProvider) name() string  { return p.id }
func (p *oidcProvider) label() string { return p.display }

// oauth2Config discovers the provider on first use (and again after a
// failure), so that Chatr starts while a provider is down.
func (p *oidcProvider) oauth2Config(ctx context.Context) (*oauth2.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg != nil {
		return p.cfg, nil
	}
	dctx := oidc.ClientContext(ctx, p.http)
	if p.aad {
		// Multi-tenant discovery documents name a templated issuer; accept
		// it here and check each token's issuer against its tenant below,
		// as go-oidc documents for Azure.
		dctx = oidc.InsecureIssuerURLContext(dctx, p.issuer)
	}
	prov, err := oidc.NewProvider(dctx, p.issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if err := prov.Claims(&meta); err != nil || meta.Issuer == "" {
		return nil, fmt.Errorf("discovery document of %s names no issuer", p.issuer)
	}
	vc := &oidc.Config{ClientID: p.clientID, Now: p.now}
	if p.aad {
		vc.SkipIssuerCheck = true // checked against the tenant in identify
	}
	ep := prov.Endpoint()
	if p.authURL != "" {
		ep.AuthURL = p.authURL
	}
	if p.tokenURL != "" {
		ep.TokenURL = p.tokenURL
	}
	scopes := p.scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	p.verifier = prov.Verifier(vc)
	p.issTmpl = meta.Issuer
	p.cfg = &oauth2.Config{ClientID: p.clientID, ClientSecret: p.clientSecret, Endpoint: ep, Scopes: scopes}
	return p.cfg, nil
}

func (p *oidcProvider) authParams(f *flow) []oauth2.AuthCodeOption {
	return []oauth2.AuthCodeOption{oidc.Nonce(f.Nonce)}
}

func (p *oidcProvider) identify(ctx context.Context, tok *oauth2.Token, f *flow) (chatr.User, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "the provider sent no identity token")
	}
	p.mu.Lock()
	verifier, issTmpl := p.verifier, p.issTmpl
	p.mu.Unlock()
	idt, err := verifier.Verify(oidc.ClientContext(ctx, p.http), raw)
	if err != nil {
		return chatr.User{}, classifyVerifyError(err)
	}
	var c struct {
		Sub               string `json:"sub"`
		PreferredUsername string `json:"preferred_username"`
		Name              string `json:"name"`
		Email             string `json:"email"`
		EmailVerified     any    `json:"email_verified"`
		OID               string `json:"oid"`
		TID               string `json:"tid"`
	}
	var all map[string]any
	if err := idt.Claims(&c); err != nil || idt.Claims(&all) != nil {
		return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "identity token has malformed claims")
	}
	if p.aad {
		want := issTmpl
		if strings.Contains(want, "{tenantid}") {
			if c.TID == "" {
				return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "identity token has no tenant")
			}
			want = strings.ReplaceAll(want, "{tenantid}", c.TID)
		}
		if idt.Issuer != want {
			return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "identity token from the wrong issuer")
		}
	}
	if f.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "identity token nonce does not match")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "access token does not match the identity token")
		}
	}
	subject := c.Sub
	if p.aad {
		subject = c.OID // stable across this tenant's apps; sub is per app
	}
	if subject == "" {
		return chatr.User{}, chatr.Errorf(chatr.EUNAUTH, "identity token names no user")
	}
	if err := p.required.check(all); err != nil {
		return chatr.User{}, err
	}
	var verified []string
	// Entra ID sends no email_verified: its email claim is not proof of
	// the address.
	if v := c.EmailVerified; c.Email != "" && (v == true || v == "true") {
		verified = append(verified, c.Email)
	}
	if err := p.policy.checkEmails(verified); err != nil {
		return chatr.User{}, err
	}
	name := displayName(firstNonEmpty(c.PreferredUsername, c.Name, c.Email, subject))
	return chatr.User{ID: p.idPrefix + subject, Name: name, Provider: p.id, Handle: handleOf(c.PreferredUsername)}, nil
}

// classifyVerifyError turns go-oidc's verification errors into messages a
// user (and a test) can tell apart.
func classifyVerifyError(err error) error {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return chatr.Errorf(chatr.EUNAUTH, "identity token expired")
	case strings.Contains(msg, "issued by a different provider"):
		return chatr.Errorf(chatr.EUNAUTH, "identity token from the wrong issuer")
	case strings.Contains(msg, "expected audience"):
		return chatr.Errorf(chatr.EUNAUTH, "identity token for another client (wrong audience)")
	case strings.Contains(msg, "signature"):
		return chatr.Errorf(chatr.EUNAUTH, "identity token signature is not valid")
	}
	return chatr.Errorf(chatr.EUNAUTH, "identity token is not valid")
}

// --- helpers ---

// getJSON GETs url with a bearer token and decodes a 200 JSON answer.
func getJSON(ctx context.Context, hc *http.Client, url, token string, h http.Header, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "chatr")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("user API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("user API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return &apiError{status: resp.StatusCode, body: clip(string(body), 200)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return chatr.Errorf(chatr.EUNAUTH, "the provider's user API answered malformed JSON")
	}
	return nil
}

// apiError is a failed user API call: its message is logged, users see
// that the provider did not say who they are.
type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("user API answered %d: %s", e.status, e.body)
}

// displayName cleans a provider's name for display: no control or format
// characters, at most maxNameLength characters.
func displayName(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if n == maxNameLength {
			break
		}
		b.WriteRune(r)
		n++
	}
	if out := strings.TrimSpace(b.String()); out != "" {
		return out
	}
	return "user"
}

// handleOf is the login a handle is made from: a username, or the part of
// an email-like one (Entra ID's) before the "@".
func handleOf(username string) string {
	local, _, _ := strings.Cut(username, "@")
	return local
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
