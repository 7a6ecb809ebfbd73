package restapi_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/server"
)

// TestDropInLeavesChatHubAlone: in the drop-in mode, the access key opens
// the drop-in hubs and their REST API, never Chatr's own hub "chat".
func TestDropInLeavesChatHubAlone(t *testing.T) {
	const accessKey = "drop-in-access-key-0123456789"
	srv, err := server.New(server.Config{
		Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"), Secret: "drop-in-secret-0123456789",
		WebPubSub: server.WebPubSub{AccessKey: accessKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(t.Context()) }()
	defer func() {
		srv.Close()
		<-done
	}()
	base := "http://" + srv.Addr()

	upgrade := func(hubName string) int {
		t.Helper()
		tok, _ := hub.MintToken([]byte(accessKey), hub.Claims{UserID: "u", Audience: base + "/client/hubs/" + hubName})
		req, _ := http.NewRequest("GET", base+"/client/hubs/"+hubName+"?access_token="+tok, nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Protocol", hub.ProtocolJSON)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := upgrade("sample"); got != http.StatusSwitchingProtocols {
		t.Errorf("drop-in hub with the access key: got %d, want 101", got)
	}
	if got := upgrade("chat"); got != http.StatusUnauthorized {
		t.Errorf("Chatr's own hub with the access key: got %d, want 401", got)
	}

	send := func(hubName string) int {
		t.Helper()
		u := base + "/api/hubs/" + hubName + "/:send?api-version=2024-12-01"
		tok, _ := hub.MintToken([]byte(accessKey), hub.Claims{Audience: u})
		req, _ := http.NewRequest("POST", u, strings.NewReader(`{"x":1}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send("sample"); got != http.StatusAccepted {
		t.Errorf("REST send to a drop-in hub: got %d, want 202", got)
	}
	if got := send("chat"); got != http.StatusBadRequest {
		t.Errorf("REST send to Chatr's own hub: got %d, want 400", got)
	}
	// Chatr's own API is still there.
	resp, err := http.Get(base + "/api/users")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/api/users without a session: got %d, want 401", resp.StatusCode)
	}
}
