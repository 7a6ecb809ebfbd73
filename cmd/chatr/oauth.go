package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/chatr/chatr/oauth"
)

// oauthFlags defines the sign-in provider flags on fs. A provider is on when
// its client id and secret are set. Several OpenID Connect providers are
// given as comma-separated lists of equal length (--oidc-issuer a,b
// --oidc-client-id x,y --oidc-client-secret s,t --oidc-name one,two). The
// returned function moves the parsed OIDC lists into cfg.OIDC.
func oauthFlags(fs *flag.FlagSet, cfg *oauth.Config) func() error {
	fs.StringVar(&cfg.PublicURL, "public-url", "", "origin users reach Chatr at, e.g. https://chat.example.com; sign-in callbacks are /.auth/login/<provider>/callback on it (default: each request's own origin)")
	fs.StringVar(&cfg.GitHub.ClientID, "github-client-id", "", "GitHub OAuth app client id; with the secret, offers sign-in with GitHub")
	fs.StringVar(&cfg.GitHub.ClientSecret, "github-client-secret", "", "GitHub OAuth app client secret")
	fs.StringVar(&cfg.AAD.ClientID, "aad-client-id", "", "Microsoft Entra ID application (client) id; with the secret, offers sign-in with Microsoft")
	fs.StringVar(&cfg.AAD.ClientSecret, "aad-client-secret", "", "Microsoft Entra ID client secret")
	fs.StringVar(&cfg.AAD.Tenant, "aad-tenant", "common", "Entra ID tenant id or domain, or common, organizations or consumers")
	fs.StringVar(&cfg.Twitter.ClientID, "twitter-client-id", "", "X (Twitter) OAuth 2.0 client id; with the secret, offers sign-in with X")
	fs.StringVar(&cfg.Twitter.ClientSecret, "twitter-client-secret", "", "X (Twitter) OAuth 2.0 client secret")
	var domains, orgs, claim string
	fs.StringVar(&domains, "allow-email-domains", "", "comma-separated email domains: only users with a verified address in one of them may sign in with a provider (GitHub, OpenID Connect; Entra ID and X tell no verified address, so their users are refused)")
	fs.StringVar(&orgs, "allow-github-orgs", "", "comma-separated GitHub organisations: only their active members may sign in with GitHub")
	fs.StringVar(&claim, "oidc-required-claim", "", "name=value: only users whose OpenID Connect identity token carries the claim with that value (a string, or an array holding it; e.g. groups=chatr) may sign in with the --oidc providers")
	var issuers, ids, secrets, names, labels string
	fs.StringVar(&issuers, "oidc-issuer", "", "OpenID Connect issuer URL (discovery); several providers: a comma-separated list")
	fs.StringVar(&ids, "oidc-client-id", "", "OpenID Connect client id(s), one per issuer")
	fs.StringVar(&secrets, "oidc-client-secret", "", "OpenID Connect client secret(s), one per issuer")
	fs.StringVar(&names, "oidc-name", "", "OpenID Connect provider name(s), one per issuer: the <name> in /.auth/login/<name> and the identityProvider (default oidc for a single issuer)")
	fs.StringVar(&labels, "oidc-label", "", "OpenID Connect provider label(s) for the sign-in page, one per issuer (default: the name)")
	return func() error {
		cfg.AllowEmailDomains, cfg.AllowGitHubOrgs = splitList(domains), splitList(orgs)
		list, err := oidcProviders(issuers, ids, secrets, names, labels)
		if err == nil && claim != "" && len(list) == 0 {
			err = fmt.Errorf("--oidc-required-claim needs an --oidc-issuer")
		}
		for i := range list {
			list[i].RequiredClaim = claim
		}
		cfg.OIDC = append(cfg.OIDC, list...)
		return err
	}
}

// splitList reads a comma-separated list, without empty entries.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func oidcProviders(issuers, ids, secrets, names, labels string) ([]oauth.OIDC, error) {
	split := func(s string) []string {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		parts := strings.Split(s, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	is, cs, ss, ns, ls := split(issuers), split(ids), split(secrets), split(names), split(labels)
	if len(is) == 0 {
		if len(cs)+len(ss) > 0 {
			return nil, fmt.Errorf("--oidc-client-id and --oidc-client-secret need --oidc-issuer")
		}
		return nil, nil
	}
	if len(cs) != len(is) || len(ss) != len(is) {
		return nil, fmt.Errorf("--oidc-issuer lists %d issuers: give as many client ids and secrets", len(is))
	}
	if len(ns) == 0 && len(is) == 1 {
		ns = []string{"oidc"}
	}
	if len(ns) != len(is) {
		return nil, fmt.Errorf("--oidc-issuer lists %d issuers: give each a name with --oidc-name", len(is))
	}
	if len(ls) != 0 && len(ls) != len(is) {
		return nil, fmt.Errorf("--oidc-label: give one label per issuer, or none")
	}
	list := make([]oauth.OIDC, len(is))
	for i := range is {
		list[i] = oauth.OIDC{Name: ns[i], Issuer: is[i], ClientID: cs[i], ClientSecret: ss[i]}
		if len(ls) != 0 {
			list[i].Label = ls[i]
		}
	}
	return list, nil
}
