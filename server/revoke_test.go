package server_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// A token that leaked before sign-out stays refused after a restart: the
// revocation is kept in the store, not in the memory of the node.
func TestSignOutRevocationSurvivesRestart(t *testing.T) {
	first := startNode(t, server.Config{})
	alice := first.Guest("Alice")
	live := alice.Connect(wsclient.Reliable)
	_, leaked := alice.Token()
	if st := alice.Do("POST", "/.auth/logout", nil, nil); st != 302 {
		t.Fatalf("logout: status %d, want 302", st)
	}
	if code, err := live.WaitClosed(10 * time.Second); err != nil || code != ws.StatusPolicyViolation {
		t.Errorf("live socket after sign-out: close %d (%v), want 1008", code, err)
	}
	if err := dialStatus(hubURL(first, leaked)); err != 401 {
		t.Errorf("leaked token after sign-out: %v, want 401", err)
	}
	first.Stop()

	second := startNode(t, server.Config{DB: first.DB})
	if err := dialStatus(hubURL(second, leaked)); err != 401 {
		t.Errorf("leaked token after a restart: %v, want 401", err)
	}
}

// hubURL is the node's hub address with an access token.
func hubURL(n *node, token string) string {
	return "ws" + strings.TrimPrefix(n.Base, "http") + "/client/hubs/chat?access_token=" + url.QueryEscape(token)
}

// dialStatus dials url and returns the HTTP status of a refused upgrade
// (0 when the upgrade succeeded).
func dialStatus(url string) any {
	c, err := wsclient.Dial(context.Background(), url, wsclient.JSON, nil)
	if err == nil {
		c.Drop()
		return 0
	}
	var se ws.StatusError
	if errors.As(err, &se) {
		return int(se)
	}
	return err
}
