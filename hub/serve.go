package hub

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// The reader.

// bufPool holds message buffers; a buffer grown for a big message is not
// returned, so memory shrinks back after it.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, smallBuf); return &b }}

const (
	smallBuf     = 4 << 10  // pooled message buffer
	maxPooledBuf = 64 << 10 // bigger buffers are dropped after use
	readChunk    = 32 << 10 // a big payload grows by this much as it arrives
)

var errClosedByPeer = errors.New("closed by peer")

// read is the socket's reader goroutine: it reads frames, runs the hooks
// for the session and, when the socket ends, decides the session's fate.
func (k *socket) read() {
	s, h := k.s, k.s.h
	defer h.live.Done()
	err := k.readLoop()

	h.stats.connections.Add(-1)
	s.mu.Lock()
	k.dead = true
	writing := k.writing
	current := s.sock == k
	why := s.endWhy
	s.mu.Unlock()
	if writing { // the writer closes nc when it has drained; do not wait forever
		time.AfterFunc(closeWait, func() { k.nc.Close() })
	} else {
		k.nc.Close()
	}
	if !current {
		return // a recovering socket took over, or the session already ended
	}
	switch {
	case why != "":
		s.end(why, false)
	case !s.info.Reliable, clientLeft(k.clientCode):
		s.end(closeReason(err, k.clientCode), false)
	case h.closing.Load():
		s.end("hub closed", false)
	default:
		s.dropped(k)
	}
}

// clientLeft reports whether a client's close code says it has left: 1000;
// 1001 from a tab that closes or navigates; none (1005) from the SDK's
// stop(). Its session ends at once, so that presence is true. Any other
// code (an error the client saw, or an application code such as the Chatr
// client's 4000 "dropped by hand" and 4001 "server silent") means the client
// will recover, as does a socket lost without a close frame.
func clientLeft(code int) bool {
	return code == closeNormal || code == closeGoingAway || code == closeNoStatus
}

func closeReason(err error, code int) string {
	if code != 0 {
		return fmt.Sprintf("closed by client (%d)", code)
	}
	if err == nil || errors.Is(err, io.EOF) {
		return "connection closed"
	}
	return "connection lost"
}

func (k *socket) isClosing() bool {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	return k.closing || k.dead
}

// fail closes the socket for a protocol violation; the session ends. The
// rest of the input is read and dropped until the peer's close frame comes
// (or closeWait passes): closing a TCP socket with unread input resets it,
// and the peer would lose our close frame and its code. skip is how much of
// the current frame's payload is unread, -1 when the framing itself is
// broken.
func (k *socket) fail(code uint16, why string, skip int64) error {
	k.s.kick(code, why, why)
	k.nc.SetReadDeadline(time.Now().Add(closeWait))
	if skip < 0 {
		io.Copy(io.Discard, k.nc)
		return errors.New(why)
	}
	for {
		if _, err := io.CopyN(io.Discard, k.nc, skip); err != nil {
			break
		}
		hd, err := ws.ReadHeaderBuffer(k.nc, k.hdr[:])
		if err != nil || hd.OpCode == ws.OpClose {
			break
		}
		skip = hd.Length
	}
	return errors.New(why)
}

// readState is the message a reader is assembling, in a buffer from bufPool.
type readState struct {
	msg    []byte
	pooled *[]byte
	held   int64 // bytes counted against the node's UnfinishedBytes
	timed  bool  // the read deadline is the message's MessageWait
}

// release returns the message's buffer and its share of h's budget.
func (st *readState) release(h *Hub) {
	if st.pooled != nil && cap(st.msg) <= maxPooledBuf {
		*st.pooled = st.msg[:0]
		bufPool.Put(st.pooled)
	}
	if st.held != 0 {
		h.unfinished.Add(-st.held)
	}
	st.pooled, st.msg, st.held = nil, nil, 0
}

// messageDone clears the deadline of a timed message just received, unless
// a close is under way (whose deadline stays); it reports that close.
func (k *socket) messageDone(st *readState) (closing bool) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	if k.closing || k.dead {
		return true
	}
	if st.timed {
		k.nc.SetReadDeadline(time.Time{})
		st.timed = false
	}
	return false
}

// readLoop reads frames until the socket ends. It is kept small, and the
// frame handling is out of line, because an idle connection's reader parks
// here: its stack stays within the goroutine's initial 2 KiB.
func (k *socket) readLoop() error {
	var st readState
	defer st.release(k.s.h)
	for {
		hd, err := ws.ReadHeaderBuffer(k.nc, k.hdr[:])
		if err == nil {
			var done bool
			if done, err = k.frame(hd, &st); !done {
				continue
			}
		}
		if st.pooled != nil && isTimeout(err) {
			return k.messageTimedOut(err)
		}
		return err
	}
}

// messageTimedOut ends a socket whose read deadline passed in the middle of
// a message: the message took longer than MessageWait to arrive (unless the
// deadline was a closing socket's, which ends it anyway).
//
//go:noinline
func (k *socket) messageTimedOut(err error) error {
	if k.isClosing() {
		return err
	}
	return k.fail(closePolicy, "message not received within "+k.s.h.cfg.MessageWait.String(), -1)
}

// frame handles one frame whose header was read; done reports that the
// reader must stop, with err.
//
//go:noinline
func (k *socket) frame(hd ws.Header, st *readState) (done bool, err error) {
	h := k.s.h
	k.lastRead.Store(time.Now().UnixNano())
	if hd.Rsv != 0 || !hd.Masked {
		return true, k.fail(closeProtocol, "protocol error: reserved bits set or frame not masked", hd.Length)
	}
	if hd.OpCode.IsControl() {
		if !hd.Fin || hd.Length > 125 {
			return true, k.fail(closeProtocol, "protocol error: bad control frame", -1)
		}
		var buf [125]byte
		p := buf[:hd.Length]
		if _, err := io.ReadFull(k.nc, p); err != nil {
			return true, err
		}
		ws.Cipher(p, hd.Mask, 0)
		switch hd.OpCode {
		case ws.OpPing:
			k.s.mu.Lock()
			k.enqueueLocked(outFrame{body: controlFrame(opPong, p)})
			k.s.mu.Unlock()
		case ws.OpPong:
		case ws.OpClose:
			code := closeNoStatus
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			k.clientCode = code
			reply := closeReply(code, p)
			k.s.mu.Lock()
			k.closeLocked(reply, "", false)
			k.s.mu.Unlock()
			return true, errClosedByPeer
		default:
			return true, k.fail(closeProtocol, "protocol error: unknown control frame", 0)
		}
		return false, nil
	}
	switch hd.OpCode {
	case ws.OpBinary:
		return true, k.fail(closeUnsupported, "binary frames are not supported on JSON protocols", hd.Length)
	case ws.OpText:
		if st.pooled != nil {
			return true, k.fail(closeProtocol, "protocol error: new message inside a fragmented one", hd.Length)
		}
		st.pooled = bufPool.Get().(*[]byte)
		st.msg = (*st.pooled)[:0]
		if !hd.Fin || hd.Length > smallBuf {
			// A message that is not here at once must be whole within
			// MessageWait, however often a continuation trickles in.
			k.nc.SetReadDeadline(time.Now().Add(h.cfg.MessageWait))
			st.timed = true
		}
	case ws.OpContinuation:
		if st.pooled == nil {
			return true, k.fail(closeProtocol, "protocol error: continuation without a message", hd.Length)
		}
	default:
		return true, k.fail(closeProtocol, "protocol error: reserved opcode", hd.Length)
	}
	if int64(len(st.msg))+hd.Length > int64(h.cfg.MaxFrameBytes) {
		return true, k.fail(closeTooBig, fmt.Sprintf("message larger than %d bytes", h.cfg.MaxFrameBytes), hd.Length)
	}
	// The frame's bytes are counted against the node's budget before they
	// are read: many sockets each holding an unfinished message must not
	// pin the node's memory.
	cost := unfinishedCost(int64(len(st.msg))+hd.Length) - st.held
	if !h.reserveUnfinished(cost) {
		return true, k.fail(closeTryAgain, "server busy: too many unfinished messages", hd.Length)
	}
	st.held += max(cost, 0)
	start := len(st.msg)
	if st.msg, err = readPayload(k.nc, st.msg, hd.Length); err != nil {
		return true, err
	}
	ws.Cipher(st.msg[start:], hd.Mask, 0)
	if !hd.Fin {
		return false, nil
	}
	if !utf8.Valid(st.msg) {
		return true, k.fail(closeInvalidData, "text frame is not valid UTF-8", 0)
	}
	if k.messageDone(st) {
		st.release(h)
		return false, nil // a close is under way: the frame is not processed
	}
	f, err := parseClientFrame(st.msg)
	st.release(h)
	if err != nil {
		return true, k.fail(closeInvalidData, "invalid frame: "+err.Error(), 0)
	}
	if refused, done, err := k.overBudget(&f); refused {
		return done, err
	}
	h.stats.in.Add(1)
	k.s.handle(&f)
	return false, nil
}

// readPayload appends n payload bytes read from r to dst, growing dst only
// as bytes actually arrive.
func readPayload(r io.Reader, dst []byte, n int64) ([]byte, error) {
	for n > 0 {
		c := int(min(n, readChunk))
		if cap(dst)-len(dst) < c {
			dst = slices.Grow(dst, c)
		}
		l := len(dst)
		if _, err := io.ReadFull(r, dst[l:l+c]); err != nil {
			return dst, err
		}
		dst = dst[:l+c]
		n -= int64(c)
	}
	return dst, nil
}

// closeReply is the code to answer a client's close frame with (RFC 6455
// 5.5.1, 7.4): its own code when that is one a peer may send, 1000 for an
// empty close, 1002 for a code that must not travel on the wire or a
// one-byte body, 1007 for a reason that is not UTF-8.
func closeReply(code int, body []byte) uint16 {
	switch {
	case len(body) == 0:
		return closeNormal
	case len(body) == 1:
		return closeProtocol
	case !utf8.Valid(body[2:]):
		return closeInvalidData
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return uint16(code)
	}
	return closeProtocol
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
