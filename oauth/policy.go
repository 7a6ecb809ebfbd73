package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/chatr/chatr/auth"
)

// policy is who may sign in, beyond what the provider vouches for. The zero
// value admits everyone.
type policy struct {
	domains map[string]bool // allowed email domains, lower case; empty: any
	orgs    []string        // GitHub organisations, one of which the user must be an active member of; empty: any
}

func newPolicy(cfg Config) policy {
	p := policy{orgs: cfg.AllowGitHubOrgs}
	for _, d := range cfg.AllowEmailDomains {
		if d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@")); d != "" {
			if p.domains == nil {
				p.domains = map[string]bool{}
			}
			p.domains[d] = true
		}
	}
	return p
}

// checkEmails admits a user with a verified address in an allowed domain
// (any user when no domain is configured).
func (p policy) checkEmails(verified []string) error {
	if len(p.domains) == 0 {
		return nil
	}
	for _, e := range verified {
		if at := strings.LastIndex(e, "@"); at > 0 && p.domains[strings.ToLower(e[at+1:])] {
			return nil
		}
	}
	return auth.Refuse(auth.RefusedDomain, "sign-in is limited to email addresses of certain domains, and your account has no verified one")
}

// requiredClaim is an OpenID Connect claim the identity token must carry
// with a value: a string equal to it, or an array holding it.
type requiredClaim struct{ name, value string }

// parseClaim reads "name=value"; "" requires nothing.
func parseClaim(s string) (requiredClaim, error) {
	if strings.TrimSpace(s) == "" {
		return requiredClaim{}, nil
	}
	name, value, ok := strings.Cut(s, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || value == "" {
		return requiredClaim{}, fmt.Errorf("oauth: required claim %q: want name=value (e.g. groups=chatr)", s)
	}
	return requiredClaim{name, value}, nil
}

func (c requiredClaim) check(claims map[string]any) error {
	if c.name == "" {
		return nil
	}
	switch v := claims[c.name].(type) {
	case string:
		if v == c.value {
			return nil
		}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s == c.value {
				return nil
			}
		}
	}
	return auth.Refuse(auth.RefusedClaim, fmt.Sprintf("sign-in is limited to accounts whose %q includes %q", c.name, c.value))
}

// githubEmails returns the user's verified addresses (scope user:email).
func githubEmails(ctx context.Context, hc *http.Client, api, token string) ([]string, error) {
	var list []struct {
		Email    string `json:"email"`
		Verified bool   `json:"verified"`
	}
	if err := getJSON(ctx, hc, api+"/user/emails", token, githubHeaders(), &list); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range list {
		if e.Verified {
			out = append(out, e.Email)
		}
	}
	return out, nil
}

// checkGitHubOrgs admits an active member of one of the organisations
// (scope read:org). GitHub answers 404 for an organisation the user is not
// in, and 403 when the organisation does not let this app see it.
func (p policy) checkGitHubOrgs(ctx context.Context, hc *http.Client, api, token string) error {
	if len(p.orgs) == 0 {
		return nil
	}
	for _, org := range p.orgs {
		var m struct {
			State string `json:"state"`
		}
		err := getJSON(ctx, hc, api+"/user/memberships/orgs/"+url.PathEscape(org), token, githubHeaders(), &m)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && (ae.status == http.StatusNotFound || ae.status == http.StatusForbidden):
			continue
		case err != nil:
			return err
		case m.State == "active":
			return nil
		}
	}
	return auth.Refuse(auth.RefusedOrg, "sign-in is limited to members of certain GitHub organisations")
}

func githubHeaders() http.Header {
	return http.Header{
		"Accept":               {"application/vnd.github+json"},
		"X-Github-Api-Version": {"2022-11-28"},
	}
}

// refusedAt is where a refused sign-in lands: the app's page, told why.
func refusedAt(code string) string { return "/?signin_error=" + url.QueryEscape(code) }
