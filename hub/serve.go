package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

const hubPathPrefix = "/client/hubs/"

// ServeHTTP serves GET /client/hubs/{hub}: it authenticates the request,
// negotiates the subprotocol and upgrades it to a WebSocket connection (or
// recovers a reliable session).
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, hubPathPrefix)
	name = strings.TrimSuffix(name, "/")
	if !ok || name == "" || strings.Contains(name, "/") || h.cfg.Hub != "" && !strings.EqualFold(name, h.cfg.Hub) {
		httpError(w, http.StatusNotFound, "no such hub")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if h.closing.Load() {
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		httpError(w, http.StatusBadRequest, "expected a WebSocket upgrade")
		return
	}
	if co := h.cfg.CheckOrigin; co != nil && !co(r) {
		httpError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	offered := offeredProtocols(r.Header)
	q := r.URL.Query()

	// Recovery parameters come first: the access token on the recovery URL
	// is the original one and may have expired since.
	if q.Has("awps_connection_id") || q.Has("awps_reconnection_token") {
		h.recoverSession(w, r, offered, q.Get("awps_connection_id"), q.Get("awps_reconnection_token"))
		return
	}

	proto := pickProtocol(offered)
	if proto == "" {
		httpError(w, http.StatusBadRequest, "no supported subprotocol: offer "+ProtocolJSONReliable+" or "+ProtocolJSON)
		return
	}
	token := q.Get("access_token")
	if token == "" {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			token = strings.TrimSpace(a[7:])
		}
	}
	if token == "" {
		unauthorized(w, "missing access token")
		return
	}
	claims, err := ParseToken(h.cfg.Key, token, time.Now())
	if err != nil {
		unauthorized(w, "invalid access token")
		return
	}
	if !h.audienceOK(claims.Audience, r) {
		unauthorized(w, "access token audience does not match this hub")
		return
	}

	info := &ConnInfo{
		ID:         randomID(16),
		UserID:     claims.UserID,
		Hub:        strings.Clone(strings.ToLower(name)), // not a substring of the request line, which holds the token
		Roles:      slices.Clone(claims.Roles),
		Protocol:   proto,
		Reliable:   proto == ProtocolJSONReliable,
		RemoteAddr: r.RemoteAddr,
	}
	req := &ConnectRequest{
		Conn:         info,
		Groups:       slices.Clone(claims.Groups),
		Claims:       claims,
		Query:        q,
		Header:       r.Header,
		Subprotocols: offered,
	}
	// The session is counted from before its Connect hook, so that Close
	// waits for every hook of it; a hub that is closing takes no more.
	if !h.live.tryAdd() {
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	if err := h.callConnect(r.Context(), req); err != nil {
		h.live.Done()
		status, msg := http.StatusInternalServerError, "internal error"
		var ae *AckError
		if errors.As(err, &ae) {
			switch ae.Name {
			case "Forbidden":
				status, msg = http.StatusForbidden, ae.Message
			case "Unauthorized":
				status, msg = http.StatusUnauthorized, ae.Message
			case "TooManyRequests":
				w.Header().Set("Retry-After", "5")
				status, msg = http.StatusTooManyRequests, ae.Message
			case "Timeout":
				w.Header().Set("Retry-After", "5")
				status, msg = http.StatusServiceUnavailable, ae.Message
			}
		} else {
			h.log.Error("hub: connect hook failed", "err", err, "user", info.UserID)
		}
		httpError(w, status, msg)
		return
	}
	info.Protocol, info.Reliable = proto, proto == ProtocolJSONReliable // negotiated, not the application's to change
	nc, err := h.upgrade(w, r, proto)
	if err != nil {
		h.live.Done()
		return
	}
	s := &session{h: h, info: info}
	k := newSocket(s, nc)
	s.sock = k
	reconnect := ""
	if info.Reliable {
		reconnect = h.reconnectionToken(info.ID)
	}
	// The connected frame is queued first but written only once the session
	// is registered: a client that has seen it can be reached and recovered.
	s.mu.Lock()
	k.queue = append(k.queue, outFrame{body: connectedFrame(info.UserID, info.ID, reconnect)})
	k.writing = true
	s.mu.Unlock()
	h.live.Add(1) // the reader, counted before anybody can end the session
	h.register(s, req.Groups)
	go k.write()
	h.stats.connects.Add(1)
	h.stats.connections.Add(1)
	// The Connected hook runs here, on the upgrade's goroutine, which ends
	// right after: the reader starts with a small stack and keeps it while
	// the connection idles (the hook's store calls would grow it to 8 KiB).
	s.hookMu.Lock()
	h.callConnected(s.info)
	s.hookMu.Unlock()
	go k.read()
	if h.closing.Load() { // Close ran while this connection was being set up
		s.kick(closeGoingAway, "hub closed", "server shutting down")
	}
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="chatr"`)
	httpError(w, http.StatusUnauthorized, msg)
}

// offeredProtocols lists the subprotocols the client asked for, in order.
func offeredProtocols(hd http.Header) []string {
	var l []string
	for _, v := range hd.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				l = append(l, p)
			}
		}
	}
	return l
}

// pickProtocol returns the first offered subprotocol the hub speaks.
func pickProtocol(offered []string) string {
	for _, p := range offered {
		if p == ProtocolJSON || p == ProtocolJSONReliable {
			return p
		}
	}
	return ""
}

// audienceOK compares a token's aud with the request: by path (the hub name
// case-insensitively), and by host too with Config.StrictAudience.
func (h *Hub) audienceOK(aud string, r *http.Request) bool {
	if aud == "" {
		return false
	}
	u, err := url.Parse(aud)
	if err != nil {
		return false
	}
	if !strings.EqualFold(strings.TrimSuffix(u.Path, "/"), strings.TrimSuffix(r.URL.Path, "/")) {
		return false
	}
	return !h.cfg.StrictAudience || strings.EqualFold(u.Host, r.Host)
}

// upgrade completes the WebSocket handshake with proto and returns the raw
// connection. The hijacked bufio buffers are not kept.
func (h *Hub) upgrade(w http.ResponseWriter, r *http.Request, proto string) (net.Conn, error) {
	u := ws.HTTPUpgrader{
		Timeout:  h.cfg.WriteWait,
		Protocol: func(p string) bool { return p == proto },
	}
	nc, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			nc.Close()
		}
		return nil, err
	}
	if n := rw.Reader.Buffered(); n > 0 { // the client sent frames before our response
		pre, _ := rw.Reader.Peek(n)
		return &prefixConn{Conn: nc, pre: bytes.Clone(pre)}, nil
	}
	return nc, nil
}

// tcpConn returns the TCP connection under nc, seeing through prefixConn
// (which changes only reads), or nil: writes go to it directly, with writev.
func tcpConn(nc net.Conn) *net.TCPConn {
	if p, ok := nc.(*prefixConn); ok {
		nc = p.Conn
	}
	tc, _ := nc.(*net.TCPConn)
	return tc
}

// prefixConn reads bytes that arrived with the handshake before the socket.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// recoverSession attaches a new socket to a dropped reliable session and
// replays its unacked messages. A request that cannot recover is upgraded
// and closed with 1008, so that the SDK starts a fresh connection instead of
// believing it recovered.
func (h *Hub) recoverSession(w http.ResponseWriter, r *http.Request, offered []string, id, token string) {
	s := h.session(id)
	proto := pickProtocol(offered)
	if s != nil && slices.Contains(offered, s.info.Protocol) {
		proto = s.info.Protocol
	}
	if proto == "" {
		httpError(w, http.StatusBadRequest, "no supported subprotocol")
		return
	}
	valid := s != nil && id != "" && h.validReconnectionToken(id, token) &&
		s.info.Reliable && s.info.Protocol == proto
	if valid {
		// The server had not noticed the old socket die: retire it before
		// the upgrade answers, so that nothing sent once the client has its
		// 101 goes to the old socket; it waits in the unacked buffer and is
		// replayed on the new one.
		s.mu.Lock()
		if old := s.sock; old != nil && s.state == stateLive && s.endWhy == "" {
			old.closing = true
			old.nc.Close()
			s.sock, s.state = nil, stateDropped
			s.expiry = time.AfterFunc(h.cfg.RecoveryWindow, func() { s.end("connection lost (not recovered)", true) })
		}
		s.mu.Unlock()
	}
	nc, err := h.upgrade(w, r, proto)
	if err != nil {
		return
	}
	if !valid {
		refuseRecovery(nc, h.cfg.WriteWait)
		return
	}
	k := newSocket(s, nc)
	s.mu.Lock()
	if s.state == stateGone || s.endWhy != "" {
		s.mu.Unlock()
		refuseRecovery(nc, h.cfg.WriteWait)
		return
	}
	if old := s.sock; old != nil { // the server had not noticed the old socket die
		old.closing = true
		old.nc.Close()
	}
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	s.sock, s.state = k, stateLive
	for _, m := range s.unacked.live() {
		f := outFrame{body: m.body}
		f.headLen = uint8(reliableHead(&f.head, m.seq, len(m.body)))
		k.pushLocked(f)
	}
	h.live.Add(1) // the session is live, so Close is still waiting for it
	s.mu.Unlock()
	h.stats.connections.Add(1)
	go k.read()
}

func refuseRecovery(nc net.Conn, wait time.Duration) {
	const why = "session cannot be recovered"
	nc.SetWriteDeadline(time.Now().Add(wait))
	bufs := net.Buffers{disconnectedFrame(why), closeFrame(closePolicy, why)}
	bufs.WriteTo(nc)
	nc.Close()
}

func newSocket(s *session, nc net.Conn) *socket {
	k := &socket{s: s, nc: nc}
	if tc := tcpConn(nc); tc != nil {
		k.raw, _ = tc.SyscallConn()
	}
	k.lastRead.Store(time.Now().UnixNano())
	return k
}

// Hooks, guarded against panics.

func (h *Hub) callConnect(ctx context.Context, req *ConnectRequest) (err error) {
	defer h.recoverHook("Connect", &err)
	return h.app.Connect(ctx, req)
}

func (h *Hub) callConnected(info *ConnInfo) {
	var err error
	defer h.recoverHook("Connected", &err)
	h.app.Connected(h.ctx, info)
}

func (h *Hub) callDisconnected(info *ConnInfo, why string) {
	var err error
	defer h.recoverHook("Disconnected", &err)
	h.app.Disconnected(context.WithoutCancel(h.ctx), info, why)
}

func (h *Hub) recoverHook(name string, err *error) {
	if v := recover(); v != nil {
		h.log.Error("hub: application hook panicked", "hook", name, "panic", v)
		*err = fmt.Errorf("hub: %s panicked: %v", name, v)
	}
}

// httpError answers a request the hub refuses before the upgrade with the
// project's JSON error shape, {"error": code, "message": text}.
func httpError(w http.ResponseWriter, status int, msg string) {
	code := map[int]string{
		http.StatusBadRequest:          "invalid",
		http.StatusUnauthorized:        "unauthorized",
		http.StatusForbidden:           "forbidden",
		http.StatusNotFound:            "not_found",
		http.StatusMethodNotAllowed:    "invalid",
		http.StatusTooManyRequests:     "limit",
		http.StatusServiceUnavailable:  "unavailable",
		http.StatusInternalServerError: "internal",
	}[status]
	if code == "" {
		code = "internal"
	}
	b, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
