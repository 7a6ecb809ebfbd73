package main

import (
	"reflect"
	"testing"

	"github.com/chatr/chatr/server"
)

// The sign-in policy and admin flags, from the environment and the command
// line.
func TestPeopleFlags(t *testing.T) {
	t.Setenv("CHATR_ADMINS", "github:1,@alice")
	t.Setenv("CHATR_ALLOW_EMAIL_DOMAINS", "example.com, example.org")
	t.Setenv("CHATR_OIDC_ISSUER", "https://id.example.com")
	t.Setenv("CHATR_OIDC_CLIENT_ID", "chatr")
	t.Setenv("CHATR_OIDC_CLIENT_SECRET", "s")
	fs, o := newFlagSet()
	if err := parse(fs, []string{"--guests", "on", "--allow-github-orgs", "acme", "--oidc-required-claim", "groups=chatr"}); err != nil {
		t.Fatal(err)
	}
	if err := o.oauthDone(); err != nil {
		t.Fatal(err)
	}
	cfg := o.server
	if cfg.Admins != "github:1,@alice" || cfg.Guests != server.GuestsOn {
		t.Errorf("admins %q, guests %q", cfg.Admins, cfg.Guests)
	}
	if !reflect.DeepEqual(cfg.OAuth.AllowEmailDomains, []string{"example.com", "example.org"}) ||
		!reflect.DeepEqual(cfg.OAuth.AllowGitHubOrgs, []string{"acme"}) ||
		len(cfg.OAuth.OIDC) != 1 || cfg.OAuth.OIDC[0].RequiredClaim != "groups=chatr" {
		t.Errorf("OAuth policy = %+v", cfg.OAuth)
	}

	// --no-guests keeps working; a required claim needs an OIDC provider.
	t.Setenv("CHATR_OIDC_ISSUER", "")
	t.Setenv("CHATR_OIDC_CLIENT_ID", "")
	t.Setenv("CHATR_OIDC_CLIENT_SECRET", "")
	fs, o = newFlagSet()
	if err := parse(fs, []string{"--no-guests"}); err != nil || o.server.Guests != server.GuestsOff {
		t.Errorf("--no-guests: guests %q (%v), want off", o.server.Guests, err)
	}
	fs, o = newFlagSet()
	if err := parse(fs, []string{"--oidc-required-claim", "groups=chatr"}); err != nil {
		t.Fatal(err)
	}
	if err := o.oauthDone(); err == nil {
		t.Error("--oidc-required-claim without an OIDC issuer was accepted")
	}
}
