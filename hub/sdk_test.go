package hub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr/hub"
)

// sdkApp answers the events of the SDK suite.
type sdkApp struct{ testApp }

func (a *sdkApp) Event(_ context.Context, c *hub.ConnInfo, ev *hub.Event) (*hub.Payload, error) {
	if ev.Name != "echo" {
		return nil, nil
	}
	if ev.DataType == "json" {
		var m map[string]any
		if err := json.Unmarshal(ev.Data, &m); err == nil {
			m["from"] = c.UserID
			b, _ := json.Marshal(m)
			return &hub.Payload{DataType: "json", Data: b}, nil
		}
	}
	return &hub.Payload{DataType: ev.DataType, Data: ev.Data}, nil
}

// TestOfficialSDK runs hub/sdktest (node:test files driving the unmodified
// @azure/web-pubsub-client) against a hub on a local port.
func TestOfficialSDK(t *testing.T) {
	dir, _ := filepath.Abs("sdktest")
	ci := os.Getenv("CI") == "true"
	skip := func(why string) {
		t.Helper()
		if ci {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@azure", "web-pubsub-client", "package.json")); err != nil {
		skip("hub/sdktest/node_modules is missing: run `npm ci` in hub/sdktest to run the SDK compatibility suite")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not installed: the SDK compatibility suite needs Node.js 20 or later")
	}

	app := &sdkApp{testApp: *newTestApp()}
	h, err := hub.New(hub.Config{Key: testKey, App: app, RecoveryWindow: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	refused := map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("/client/hubs/", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		refuse := refused[q.Get("awps_connection_id")]
		mu.Unlock()
		if refuse { // make this recovery fail the way a lost session does
			q.Set("awps_reconnection_token", "invalid")
			r.URL.RawQuery = q.Encode()
		}
		h.ServeHTTP(w, r)
	})
	mux.HandleFunc("/negotiate", func(w http.ResponseWriter, r *http.Request) {
		var roles []string
		if s := r.URL.Query().Get("roles"); s != "" {
			roles = strings.Split(s, ",")
		}
		aud := "http://" + r.Host + "/client/hubs/chat"
		tok, err := hub.MintToken(testKey, hub.Claims{UserID: r.URL.Query().Get("user"), Roles: roles, Audience: aud})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"url": "ws://" + r.Host + "/client/hubs/chat?access_token=" + url.QueryEscape(tok)})
	})
	mux.HandleFunc("POST /control/drop", func(w http.ResponseWriter, r *http.Request) {
		if !h.DropConnection(r.URL.Query().Get("conn")) {
			http.Error(w, "no such connection", 404)
		}
	})
	mux.HandleFunc("POST /control/refuse", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("conn")
		mu.Lock()
		refused[id] = true
		mu.Unlock()
		if !h.DropConnection(id) {
			http.Error(w, "no such connection", 404)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), frameWait)
		defer cancel()
		h.Close(ctx)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "sdk.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HUB_NEGOTIATE_URL="+srv.URL+"/negotiate",
		"HUB_CONTROL_URL="+srv.URL+"/control",
	)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			t.Log(sc.Text())
		}
	}()
	err = cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		t.Fatalf("node --test failed: %v", err)
	}
}
