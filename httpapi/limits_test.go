package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/internal/memstore"
)

// TestPerIPLimitsKeyIPv6ByNetwork: addresses of one IPv6 /64 share a
// bucket (a host can pick a fresh address for every request); IPv4
// addresses, and other /64 networks, have their own.
func TestPerIPLimitsKeyIPv6ByNetwork(t *testing.T) {
	st := memstore.New()
	h := httpapi.New(httpapi.Config{Store: st, Auth: auth.New(auth.Config{Store: st}), App: chat.New(chat.Config{Store: st}),
		Hub: http.NotFoundHandler(), HubKey: []byte("key-0123456789abcdef"), RequestsPerSecond: 0.25}) // a burst of one, refilled every 4 s
	get := func(remote string) int {
		r := httptest.NewRequest("GET", "/.auth/me", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// Spend one address's bucket.
	burst := 0
	for get("[2001:db8::1]:1000") == 200 {
		burst++
		if burst > 100 {
			t.Fatal("no limit")
		}
	}
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"[2001:db8::2]:1000", 429},          // same /64
		{"[2001:db8::ffff:1:2:3]:1000", 429}, // same /64
		{"[2001:db8:0:1::1]:1000", 200},      // another /64
		{"192.0.2.1:1000", 200},              // IPv4: per address
		{"192.0.2.2:1000", 200},
	} {
		if got := get(tc.remote); got != tc.want {
			t.Errorf("request from %s after %d from 2001:db8::1: %d, want %d", tc.remote, burst, got, tc.want)
		}
	}
	for get("192.0.2.1:1000") == 200 {
	}
	if got := get("[::ffff:192.0.2.1]:1000"); got != 429 {
		t.Errorf("IPv4-mapped address of a limited IPv4 address: %d, want 429", got)
	}
}
