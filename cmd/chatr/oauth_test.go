package main

import (
	"reflect"
	"testing"

	"github.com/chatr/chatr/oauth"
)

func TestOAuthFlagsFromEnvironment(t *testing.T) {
	t.Setenv("CHATR_GITHUB_CLIENT_ID", "gh-id")
	t.Setenv("CHATR_GITHUB_CLIENT_SECRET", "gh-secret")
	t.Setenv("CHATR_AAD_TENANT", "organizations")
	t.Setenv("CHATR_OIDC_ISSUER", "https://id.example.com/realms/chat, https://dex.example.com")
	t.Setenv("CHATR_OIDC_CLIENT_ID", "chatr,chatr2")
	t.Setenv("CHATR_OIDC_CLIENT_SECRET", "s1,s2")
	t.Setenv("CHATR_OIDC_NAME", "keycloak,dex")
	fs, o := newFlagSet()
	if err := parse(fs, []string{"--public-url", "https://chat.example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := o.oauthDone(); err != nil {
		t.Fatal(err)
	}
	got := o.server.OAuth
	if got.GitHub.ClientID != "gh-id" || got.GitHub.ClientSecret != "gh-secret" || got.AAD.Tenant != "organizations" ||
		got.PublicURL != "https://chat.example.com" {
		t.Errorf("OAuth config = %+v", got)
	}
	want := []oauth.OIDC{
		{Name: "keycloak", Issuer: "https://id.example.com/realms/chat", ClientID: "chatr", ClientSecret: "s1"},
		{Name: "dex", Issuer: "https://dex.example.com", ClientID: "chatr2", ClientSecret: "s2"},
	}
	if !reflect.DeepEqual(got.OIDC, want) {
		t.Errorf("OIDC = %+v, want %+v", got.OIDC, want)
	}
}

func TestOIDCProviderLists(t *testing.T) {
	for _, tc := range []struct {
		name                              string
		issuers, ids, secrets, names, lbl string
		want                              int
		wantErr                           bool
	}{
		{"none", "", "", "", "", "", 0, false},
		{"one, default name", "https://a", "id", "s", "", "", 1, false},
		{"two named", "https://a,https://b", "x,y", "s,t", "a,b", "A,B", 2, false},
		{"two unnamed", "https://a,https://b", "x,y", "s,t", "", "", 0, true},
		{"missing secret", "https://a,https://b", "x,y", "s", "a,b", "", 0, true},
		{"id without issuer", "", "x", "s", "", "", 0, true},
		{"labels miscounted", "https://a", "x", "s", "a", "A,B", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := oidcProviders(tc.issuers, tc.ids, tc.secrets, tc.names, tc.lbl)
			if (err != nil) != tc.wantErr || len(list) != tc.want {
				t.Fatalf("got %+v, %v; want %d providers, error %v", list, err, tc.want, tc.wantErr)
			}
			if tc.want == 1 && list[0].Name != "oidc" {
				t.Errorf("single issuer named %q, want oidc", list[0].Name)
			}
		})
	}
}
