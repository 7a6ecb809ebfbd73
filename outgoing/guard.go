package outgoing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bounds of one call's HTTP exchange.
const (
	maxRedirects     = 3        // redirects followed, each checked like the first address
	maxResponseBytes = 64 << 10 // bytes of an answer read; the rest is ignored
	dialTimeout      = 5 * time.Second
)

// internal lists the address ranges a webhook may not reach unless the
// operator allows them: besides what netip classifies (loopback,
// link-local, RFC 1918 and ULA, unspecified, multicast), "this network",
// CGNAT, the IETF protocol block, benchmarking and the reserved class E
// with the broadcast address.
var internal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// Internal reports whether ip is an address a webhook may not reach by
// default.
func Internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() || !ip.IsValid() {
		return true
	}
	for _, p := range internal {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// RefusedError is the error of a call to an address the Guard does not
// allow. It is never retried.
type RefusedError struct{ Addr string }

func (e *RefusedError) Error() string {
	return "outgoing webhook: refused to call internal address " + e.Addr
}

// errTooManyRedirects ends a call that is redirected more than
// maxRedirects times; it is not retried.
var errTooManyRedirects = fmt.Errorf("outgoing webhook: more than %d redirects", maxRedirects)

// Guard decides which addresses webhooks may call: every public address,
// and the internal ones the operator lists (--allow-private-webhooks).
// The check runs on the address actually dialled, after name resolution,
// so a name that resolves to an internal address (DNS rebinding included)
// is refused as the address itself would be.
type Guard struct {
	prefixes  []netip.Prefix          // allowed ranges, any port
	addrPorts map[netip.AddrPort]bool // allowed address and port
	hostPorts map[string]bool         // allowed host name and port, lower case
}

// NewGuard parses the allow list: CIDR ranges ("10.0.0.0/8"), addresses
// ("127.0.0.1", any port) and host:port pairs ("127.0.0.1:8080",
// "ci.internal:443", the name as the webhook's URL spells it).
func NewGuard(allow []string) (*Guard, error) {
	g := &Guard{addrPorts: map[netip.AddrPort]bool{}, hostPorts: map[string]bool{}}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if p, err := netip.ParsePrefix(a); err == nil {
			g.prefixes = append(g.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
			g.prefixes = append(g.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("allowed webhook address %q: want a CIDR range, an IP address or host:port", a)
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			g.addrPorts[netip.AddrPortFrom(ip.Unmap(), uint16(mustPort(port)))] = true
			continue
		}
		g.hostPorts[strings.ToLower(host)+":"+port] = true
	}
	return g, nil
}

func mustPort(p string) int { n, _ := strconv.Atoi(p); return n }

// Allowed reports whether a call may go to the address ap.
func (g *Guard) Allowed(ap netip.AddrPort) bool {
	ip := ap.Addr().Unmap()
	if !Internal(ip) || g.addrPorts[netip.AddrPortFrom(ip, ap.Port())] {
		return true
	}
	for _, p := range g.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURL refuses, before any call, a URL whose host is an internal
// address spelled out that the Guard does not allow (names are checked
// when they are resolved, at every call).
func (g *Guard) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errors.New("not an absolute http or https URL")
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ap := netip.AddrPortFrom(ip.Unmap(), uint16(mustPort(port)))
	if !g.Allowed(ap) {
		return &RefusedError{Addr: ap.String()}
	}
	return nil
}

// dial connects to addr (host:port as the URL names it) if the address it
// resolves to is allowed.
func (g *Guard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	byName := g.hostPorts[strings.ToLower(addr)]
	d := net.Dialer{Timeout: dialTimeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &RefusedError{Addr: address}
		}
		if byName || g.Allowed(ap) {
			return nil
		}
		return &RefusedError{Addr: ap.String()}
	}}
	return d.DialContext(ctx, network, addr)
}

// Client returns an HTTP client whose every connection, redirects
// included, goes through the Guard: no proxy from the environment (the
// check would see the proxy's address), at most maxRedirects redirects,
// to http and https only.
func (g *Guard) Client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           g.dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   dialTimeout,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return errTooManyRedirects
			}
			return g.CheckURL(req.URL.String())
		},
	}
}
