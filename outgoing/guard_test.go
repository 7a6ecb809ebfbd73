package outgoing_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatr/chatr/outgoing"
)

func TestInternal(t *testing.T) {
	for _, tt := range []struct {
		ip       string
		internal bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true},
		{"10.0.0.1", true}, {"172.16.3.4", true}, {"192.168.1.1", true}, {"fd12::1", true},
		{"169.254.169.254", true}, {"fe80::1", true},
		{"0.0.0.0", true}, {"::", true}, {"224.0.0.1", true}, {"ff02::1", true},
		{"100.64.0.1", true}, {"255.255.255.255", true}, {"::ffff:10.0.0.1", true},
		{"8.8.8.8", false}, {"172.32.0.1", false}, {"2606:4700::1111", false}, {"100.128.0.1", false},
	} {
		if got := outgoing.Internal(netip.MustParseAddr(tt.ip)); got != tt.internal {
			t.Errorf("Internal(%s) = %v, want %v", tt.ip, got, tt.internal)
		}
	}
}

func TestGuardAllowList(t *testing.T) {
	g, err := outgoing.NewGuard([]string{"10.1.0.0/16", "127.0.0.1", "192.168.1.5:8443", "ci.internal:443"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr    string
		allowed bool
	}{
		{"10.1.2.3:80", true}, {"10.2.0.1:80", false},
		{"127.0.0.1:1234", true}, {"127.0.0.2:1234", false},
		{"192.168.1.5:8443", true}, {"192.168.1.5:22", false},
		{"93.184.216.34:443", true},
	} {
		if got := g.Allowed(netip.MustParseAddrPort(tt.addr)); got != tt.allowed {
			t.Errorf("Allowed(%s) = %v, want %v", tt.addr, got, tt.allowed)
		}
	}
	for _, bad := range []string{"nonsense", "host:", ":80", "host:99999", "10.0.0.0/33"} {
		if _, err := outgoing.NewGuard([]string{bad}); err == nil {
			t.Errorf("NewGuard accepted %q", bad)
		}
	}
	for url, ok := range map[string]bool{
		"https://example.com/hook": true, "http://10.0.0.1/": false, "http://[::1]:8080/": false,
		"http://192.168.1.5:8443/x": true, "https://192.168.1.5/x": false, "ftp://example.com/": false,
	} {
		if err := g.CheckURL(url); (err == nil) != ok {
			t.Errorf("CheckURL(%s) = %v, want ok %v", url, err, ok)
		}
	}
}

// refusedOnly runs one delivery to url with the allow list and checks that
// the Guard refused it and the counted server was never called.
func refusedOnly(t *testing.T, url string, allow []string, hits *atomic.Int32) {
	t.Helper()
	d, p := setup(t, url, allow, outgoing.Config{Poster: &poster{}})
	d.MessageStored(trigger(1, "!ping"))
	waitFor(t, "the refusal", func() bool { return d.Stats().Refused == 1 })
	if s := d.Stats(); s.Calls != 1 || s.Failed != 0 || s.Delivered != 0 {
		t.Errorf("stats = %+v, want one refused call, not retried", s)
	}
	if hits != nil && hits.Load() != 0 {
		t.Errorf("the refused server was called %d times", hits.Load())
	}
	if len(p.replies()) != 0 {
		t.Errorf("replies = %+v", p.replies())
	}
}

func TestInternalAddressesRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"text": "should not be"}`)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]

	t.Run("127.0.0.1 unless allowed", func(t *testing.T) { refusedOnly(t, srv.URL, nil, &hits) })
	t.Run("10.0.0.1", func(t *testing.T) { refusedOnly(t, "http://10.0.0.1:"+port+"/", local, nil) })
	t.Run("a name that resolves to loopback", func(t *testing.T) {
		refusedOnly(t, "http://localhost:"+port+"/", []string{"10.0.0.0/8"}, &hits)
	})
	t.Run("another port of an allowed host:port", func(t *testing.T) {
		refusedOnly(t, srv.URL, []string{"127.0.0.1:1"}, &hits)
	})
	t.Run("allowed", func(t *testing.T) {
		d, p := setup(t, srv.URL, []string{"127.0.0.1:" + port}, outgoing.Config{Poster: &poster{}})
		d.MessageStored(trigger(1, "!ping"))
		waitFor(t, "the reply", func() bool { return len(p.replies()) == 1 })
	})
}

func TestRedirectToInternalRefused(t *testing.T) {
	for _, target := range []string{"http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/"} {
		t.Run(target, func(t *testing.T) {
			srv := httptest.NewServer(http.RedirectHandler(target, http.StatusTemporaryRedirect))
			defer srv.Close()
			refusedOnly(t, srv.URL, local, nil)
		})
	}
	t.Run("too many redirects", func(t *testing.T) {
		var hits atomic.Int32
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Redirect(w, r, srv.URL+"/again", http.StatusFound)
		}))
		defer srv.Close()
		d, _ := setup(t, srv.URL, local, outgoing.Config{Poster: &poster{}})
		d.MessageStored(trigger(1, "!ping"))
		waitFor(t, "the failure", func() bool { return d.Stats().Failed == 1 })
		if n := hits.Load(); n != 4 {
			t.Errorf("hits = %d, want 4 (the call and 3 redirects)", n)
		}
	})
}

func TestRefusedErrorIsTyped(t *testing.T) {
	g, _ := outgoing.NewGuard(nil)
	var re *outgoing.RefusedError
	if err := g.CheckURL("http://127.0.0.1/"); !errors.As(err, &re) || re.Addr != "127.0.0.1:80" {
		t.Errorf("CheckURL = %v", err)
	}
}
