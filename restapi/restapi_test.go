package restapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/restapi"
)

var key = []byte("rest-api-access-key-0123456789")

func newAPI(t *testing.T) (*httptest.Server, *restapi.HubSet) {
	t.Helper()
	set := restapi.NewHubSet(key, func(name string) (*hub.Hub, error) {
		return hub.New(hub.Config{Key: key, Hub: name})
	}, "chat")
	srv := httptest.NewServer(restapi.New(restapi.Config{AccessKey: key, Hubs: set}))
	t.Cleanup(func() {
		srv.Close()
		set.Close(t.Context())
	})
	return srv, set
}

// do sends a request signed the way the server SDK signs it: aud is the URL.
func do(t *testing.T, method, url string, k []byte, aud string, body string) *http.Response {
	t.Helper()
	if aud == "" {
		aud = url
	}
	tok, err := hub.MintToken(k, hub.Claims{Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestAuth(t *testing.T) {
	srv, _ := newAPI(t)
	u := srv.URL + "/api/hubs/h1/:send?api-version=2024-12-01"
	for _, tt := range []struct {
		name string
		key  []byte
		aud  string
		want int
	}{
		{"signed with the key, aud = URL", key, "", http.StatusAccepted},
		{"another host in aud (proxy)", key, "https://example.webpubsub.azure.com/api/hubs/h1/:send?api-version=2024-12-01", http.StatusAccepted},
		{"another key", []byte("some-other-key-0123456789"), "", http.StatusUnauthorized},
		{"aud of another path", key, srv.URL + "/api/hubs/h2/:send", http.StatusUnauthorized},
	} {
		if got := do(t, "POST", u, tt.key, tt.aud, `{"x":1}`).StatusCode; got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
	resp, _ := http.Post(u, "application/json", strings.NewReader("{}"))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: got %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestBadRequests(t *testing.T) {
	srv, _ := newAPI(t)
	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/hubs/h1/:send?excluded=a&excluded=b", `{}`, http.StatusBadRequest},
		{"POST", "/api/hubs/h1/:send?filter=userId%20eq%20'a'", `{}`, http.StatusBadRequest},
		{"POST", "/api/hubs/h1/:send", `{not json`, http.StatusBadRequest},
		{"POST", "/api/hubs/chat/:send", `{}`, http.StatusBadRequest}, // Chatr's own hub is not served
		{"POST", "/api/hubs/9bad/:send", `{}`, http.StatusBadRequest},
		{"PUT", "/api/hubs/h1/groups/g/connections/nope", ``, http.StatusNotFound},
		{"HEAD", "/api/hubs/h1/connections/nope", ``, http.StatusNotFound},
		{"HEAD", "/api/hubs/unknown/users/u", ``, http.StatusNotFound},
		{"PUT", "/api/hubs/h1/permissions/sendToGroup/connections/c", ``, http.StatusNotFound},
		{"PUT", "/api/hubs/h1/users/u/groups/g", ``, http.StatusOK},
		{"DELETE", "/api/hubs/h1/users/u/groups/g", ``, http.StatusNoContent},
		{"DELETE", "/api/hubs/h1/connections/c?reason=x", ``, http.StatusNoContent},
		{"POST", "/api/hubs/h1/:closeConnections?excluded=a", ``, http.StatusNoContent},
	} {
		if got := do(t, tt.method, srv.URL+tt.path, key, "", tt.body).StatusCode; got != tt.want {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestGenerateToken(t *testing.T) {
	srv, _ := newAPI(t)
	resp := do(t, "POST", srv.URL+"/api/hubs/Sample/:generateToken?userId=u1&role=webpubsub.sendToGroup&role=webpubsub.joinLeaveGroup.g&group=g&minutesToExpire=5&api-version=2024-12-01", key, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var body struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&body)
	c, err := hub.ParseToken(key, body.Token, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "u1" || strings.Join(c.Roles, ",") != "webpubsub.sendToGroup,webpubsub.joinLeaveGroup.g" || strings.Join(c.Groups, ",") != "g" ||
		!strings.HasSuffix(c.Audience, "/client/hubs/Sample") || time.Until(c.Expires) > 5*time.Minute+time.Second {
		t.Errorf("claims: %+v", c)
	}
}

func TestHubSetStartsHubsOnlyForValidTokens(t *testing.T) {
	_, set := newAPI(t)
	srv := httptest.NewServer(set)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/client/hubs/h9?access_token=garbage", nil)
	req.Header.Set("Upgrade", "websocket")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || set.Get("h9") != nil {
		t.Errorf("bad token: status %d, hub started: %v", resp.StatusCode, set.Get("h9") != nil)
	}
	if set.Serves("chat") || set.Serves("CHAT") || !set.Serves("Sample_hub") {
		t.Error("Serves: chat is reserved, Sample_hub is served")
	}
}
