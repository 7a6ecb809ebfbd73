// Package upstream is a hub.Application that hands a hub's events to an
// external event handler over HTTP, the way the Azure Web PubSub service
// does: CloudEvents in binary mode, with the abuse-protection handshake, the
// blocking connect event (accept, amend or reject), fire-and-forget
// connected and disconnected events, and user events whose answer goes back
// to the caller. The official @azure/web-pubsub-express handler works
// against it unchanged.
//
// It knows nothing of chats, and nothing of HTTP routing on Chatr's side:
// package server builds one Handler per drop-in hub.
package upstream

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatr/chatr/hub"
)

// Defaults of Config.
const (
	DefaultTimeout  = 10 * time.Second // one call to the event handler
	DefaultAttempts = 3                // tries of a fire-and-forget event
	// maxReplyBytes bounds an event handler's answer (the service's frame limit).
	maxReplyBytes = 1 << 20
	// validateRetry is how long a failed abuse-protection handshake is
	// remembered before it is tried again.
	validateRetry = 5 * time.Second
	// maxInFlight bounds the fire-and-forget calls running at once; more wait
	// their turn in their own goroutine, never in a hub's reader.
	maxInFlight = 64
)

// System event names, as in Config.SystemEvents.
const (
	EventConnect      = "connect"
	EventConnected    = "connected"
	EventDisconnected = "disconnected"
)

// Config is one hub's event handler setting.
type Config struct {
	// URLTemplate is the handler's URL; "{hub}" and "{event}" are replaced
	// by the hub and event names (path-escaped), e.g.
	// "http://localhost:3000/eventhandler/{hub}/{event}". Required.
	URLTemplate string
	// UserEvents selects the user events sent to the handler: "*" for all,
	// or event names. Others are acknowledged without a call.
	UserEvents []string
	// SystemEvents selects among connect, connected and disconnected.
	SystemEvents []string
	// AccessKey signs ce-signature (HMAC-SHA256 of the connection id).
	AccessKey []byte
	// Origin is sent as WebHook-Request-Origin: the host clients use to reach
	// this service (the handler may allow only known origins). Default "localhost".
	Origin string
	// Client makes the calls; default a client that follows no redirects.
	Client   *http.Client
	Timeout  time.Duration // per call, default 10 s
	Attempts int           // tries of a fire-and-forget event, default 3
	Logger   *slog.Logger
}

// Handler forwards a hub's events to the event handler. It is safe for
// concurrent use; its hooks block only the connection they are called for.
type Handler struct {
	cfg        Config
	log        *slog.Logger
	userAll    bool
	userEvents map[string]bool
	sysEvents  map[string]bool
	sem        chan struct{}
	wg         sync.WaitGroup

	mu        sync.Mutex
	validated map[string]time.Time // URL -> when it passed (zero: failed at failedAt)
	failedAt  map[string]time.Time
	conns     map[string]*connState
}

// connState is what the handler keeps per connection: the state the event
// handler asked to carry (ce-connectionState) and the tail of its chain of
// fire-and-forget events, so that disconnected never overtakes connected.
type connState struct {
	state string
	tail  chan struct{} // closed when the last queued event is done
}

var _ hub.Application = (*Handler)(nil)

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.URLTemplate == "" {
		return nil, errors.New("upstream: URLTemplate is required")
	}
	u, err := url.Parse(strings.NewReplacer("{hub}", "hub", "{event}", "event").Replace(cfg.URLTemplate))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream: URL template %q is not an http(s) URL", cfg.URLTemplate)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Origin == "" {
		cfg.Origin = "localhost"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Client == nil {
		// Keep enough idle connections for a busy handler: the default two
		// per host would open a new connection for most user events.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = maxInFlight
		cfg.Client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	h := &Handler{
		cfg: cfg, log: cfg.Logger, userEvents: map[string]bool{}, sysEvents: map[string]bool{},
		sem: make(chan struct{}, maxInFlight), validated: map[string]time.Time{}, failedAt: map[string]time.Time{},
		conns: map[string]*connState{},
	}
	for _, e := range cfg.UserEvents {
		if e = strings.TrimSpace(e); e == "*" {
			h.userAll = true
		} else if e != "" {
			h.userEvents[e] = true
		}
	}
	for _, e := range cfg.SystemEvents {
		switch e = strings.ToLower(strings.TrimSpace(e)); e {
		case EventConnect, EventConnected, EventDisconnected:
			h.sysEvents[e] = true
		case "":
		default:
			return nil, fmt.Errorf("upstream: unknown system event %q (use connect, connected, disconnected)", e)
		}
	}
	return h, nil
}

// SplitList splits a comma-separated flag value ("*", "connect,connected").
func SplitList(s string) []string {
	var l []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			l = append(l, p)
		}
	}
	return l
}

// Close waits for the fire-and-forget events still being delivered, until
// ctx is done.
func (h *Handler) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// event is one call to the event handler.
type event struct {
	conn        *hub.ConnInfo
	ceType      string // azure.webpubsub.sys.connect, azure.webpubsub.user.<name>, ...
	name        string // connect, connected, disconnected or the user event's name
	contentType string
	body        []byte
}

// response is the event handler's answer to a successful (2xx) call.
type response struct {
	status      int
	contentType string
	body        []byte
}

// callError is a call that the handler answered with a non-2xx status.
type callError struct {
	status int
	body   string
}

func (e *callError) Error() string {
	return fmt.Sprintf("event handler answered %d: %s", e.status, e.body)
}

// Connect sends the blocking connect event when it is selected: 204 accepts,
// 200 with {userId, groups, roles, subprotocol} amends, 401 and any other 4xx
// reject the upgrade (401 as 401, others as 403), anything else fails it.
func (h *Handler) Connect(ctx context.Context, req *hub.ConnectRequest) error {
	if !h.sysEvents[EventConnect] {
		return nil
	}
	body, err := json.Marshal(connectBody(req))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	res, err := h.call(ctx, &event{conn: req.Conn, ceType: "azure.webpubsub.sys.connect", name: EventConnect,
		contentType: "application/json; charset=utf-8", body: body})
	if err != nil {
		h.forget(req.Conn.ID)
	}
	var ce *callError
	switch {
	case errors.As(err, &ce) && ce.status == http.StatusUnauthorized:
		return &hub.AckError{Name: "Unauthorized", Message: ce.body}
	case errors.As(err, &ce) && ce.status >= 400 && ce.status < 500:
		return &hub.AckError{Name: "Forbidden", Message: ce.body}
	case err != nil:
		return fmt.Errorf("upstream connect: %w", err)
	}
	if res.status == http.StatusOK && len(bytes.TrimSpace(res.body)) > 0 {
		var amend struct {
			UserID      *string  `json:"userId"`
			Groups      []string `json:"groups"`
			Roles       []string `json:"roles"`
			Subprotocol string   `json:"subprotocol"`
		}
		if err := json.Unmarshal(res.body, &amend); err != nil {
			return fmt.Errorf("upstream connect: bad answer: %w", err)
		}
		if amend.UserID != nil {
			req.Conn.UserID = *amend.UserID
		}
		req.Groups = appendNew(req.Groups, amend.Groups...)
		req.Conn.Roles = appendNew(req.Conn.Roles, amend.Roles...)
		if amend.Subprotocol != "" && amend.Subprotocol != req.Conn.Protocol {
			h.log.Warn("upstream: connect answer picks a subprotocol the hub cannot switch to; keeping the negotiated one",
				"hub", req.Conn.Hub, "asked", amend.Subprotocol, "kept", req.Conn.Protocol)
		}
	}
	return nil
}

// connectBody is the connect event's body as the service sends it; every
// claim is a list of strings.
func connectBody(req *hub.ConnectRequest) map[string]any {
	claims := map[string][]string{}
	c := req.Claims
	if c.UserID != "" {
		claims["sub"] = []string{c.UserID}
	}
	if len(c.Roles) > 0 {
		claims["role"] = c.Roles
	}
	if len(c.Groups) > 0 {
		claims["webpubsub.group"] = c.Groups
	}
	if c.Audience != "" {
		claims["aud"] = []string{c.Audience}
	}
	if !c.IssuedAt.IsZero() {
		claims["iat"] = []string{strconv.FormatInt(c.IssuedAt.Unix(), 10)}
	}
	if !c.Expires.IsZero() {
		claims["exp"] = []string{strconv.FormatInt(c.Expires.Unix(), 10)}
	}
	query := map[string][]string{}
	for k, v := range req.Query {
		if k != "access_token" { // the service does not pass the token on
			query[k] = v
		}
	}
	headers := map[string][]string{}
	for k, v := range req.Header {
		if !strings.EqualFold(k, "Authorization") && !strings.EqualFold(k, "Cookie") {
			headers[k] = v
		}
	}
	subprotocols := req.Subprotocols
	if subprotocols == nil {
		subprotocols = []string{}
	}
	return map[string]any{"claims": claims, "query": query, "headers": headers, "subprotocols": subprotocols}
}

// Connected queues the connected event (fire-and-forget).
func (h *Handler) Connected(ctx context.Context, conn *hub.ConnInfo) {
	if !h.sysEvents[EventConnected] {
		return
	}
	h.fireAndForget(&event{conn: conn, ceType: "azure.webpubsub.sys.connected", name: EventConnected,
		contentType: "application/json; charset=utf-8", body: []byte("{}")}, false)
}

// Disconnected queues the disconnected event with {"reason"} after any
// earlier event of the connection, then forgets the connection.
func (h *Handler) Disconnected(ctx context.Context, conn *hub.ConnInfo, reason string) {
	if !h.sysEvents[EventDisconnected] {
		h.forget(conn.ID)
		return
	}
	body, _ := json.Marshal(map[string]string{"reason": reason})
	h.fireAndForget(&event{conn: conn, ceType: "azure.webpubsub.sys.disconnected", name: EventDisconnected,
		contentType: "application/json; charset=utf-8", body: body}, true)
}

// Event sends a selected user event and waits for the answer: 204 (or an
// empty 200) is a plain success, a 200 body goes back to the caller typed by
// its Content-Type, and a failure becomes the ack's error.
func (h *Handler) Event(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) (*hub.Payload, error) {
	if !h.userAll && !h.userEvents[ev.Name] {
		return nil, nil
	}
	ct := "application/json"
	switch ev.DataType {
	case "text":
		ct = "text/plain; charset=utf-8"
	case "binary":
		ct = "application/octet-stream"
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	res, err := h.call(ctx, &event{conn: conn, ceType: "azure.webpubsub.user." + ev.Name, name: ev.Name, contentType: ct, body: ev.Data})
	if err != nil {
		var ce *callError
		switch {
		case errors.As(err, &ce):
			msg := ce.body
			if msg == "" {
				msg = http.StatusText(ce.status)
			}
			return nil, &hub.AckError{Name: "InvocationFailed", Message: msg}
		case errors.Is(err, context.DeadlineExceeded):
			return nil, &hub.AckError{Name: "Timeout", Message: "the event handler did not answer in time"}
		}
		h.log.Warn("upstream: user event failed", "hub", conn.Hub, "event", ev.Name, "err", err)
		return nil, &hub.AckError{Name: "InvocationFailed", Message: "the event handler could not be reached"}
	}
	if res.status != http.StatusOK || len(res.body) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(res.contentType)
	switch mt {
	case "application/json", "text/json":
		if !json.Valid(res.body) {
			return nil, &hub.AckError{Name: "InvocationFailed", Message: "the event handler answered invalid JSON"}
		}
		return &hub.Payload{DataType: "json", Data: res.body}, nil
	case "text/plain":
		return &hub.Payload{DataType: "text", Data: res.body}, nil
	}
	return &hub.Payload{DataType: "binary", Data: res.body}, nil
}

// Join allows what the connection's roles allow: the service has no
// upstream event for it.
func (h *Handler) Join(context.Context, *hub.ConnInfo, string) error { return nil }

// Publish allows what the connection's roles allow, unchanged.
func (h *Handler) Publish(context.Context, *hub.ConnInfo, *hub.GroupMessage) error { return nil }

// fireAndForget delivers ev in the background, after the connection's
// earlier fire-and-forget events, retrying failures; last forgets the
// connection afterwards.
func (h *Handler) fireAndForget(ev *event, last bool) {
	h.mu.Lock()
	cs := h.conns[ev.conn.ID]
	if cs == nil {
		cs = &connState{}
		h.conns[ev.conn.ID] = cs
	}
	prev, done := cs.tail, make(chan struct{})
	cs.tail = done
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(done)
		if prev != nil {
			<-prev
		}
		h.sem <- struct{}{}
		defer func() { <-h.sem }()
		h.deliverWithRetry(ev)
		if last {
			h.forget(ev.conn.ID)
		}
	}()
}

func (h *Handler) deliverWithRetry(ev *event) {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
		_, err := h.call(ctx, ev)
		cancel()
		if err == nil {
			return
		}
		var ce *callError
		retry := !errors.As(err, &ce) || ce.status >= 500 || ce.status == http.StatusTooManyRequests
		if !retry || attempt >= h.cfg.Attempts {
			h.log.Warn("upstream: event not delivered", "hub", ev.conn.Hub, "event", ev.name, "conn", ev.conn.ID, "attempts", attempt, "err", err)
			return
		}
		time.Sleep(backoff)
		backoff *= 2
	}
}

func (h *Handler) forget(connID string) {
	h.mu.Lock()
	delete(h.conns, connID)
	h.mu.Unlock()
}

func (h *Handler) connectionState(connID string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cs := h.conns[connID]; cs != nil {
		return cs.state
	}
	return ""
}

// keepState records the ce-connectionState the handler answered with; it is
// sent back on the connection's later events.
func (h *Handler) keepState(connID, state string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.conns[connID]
	if cs == nil {
		cs = &connState{}
		h.conns[connID] = cs
	}
	cs.state = state
}

// eventURL fills the URL template.
func (h *Handler) eventURL(hubName, event string) string {
	return strings.NewReplacer("{hub}", url.PathEscape(hubName), "{event}", url.PathEscape(event)).Replace(h.cfg.URLTemplate)
}

// call validates the handler's URL if needed, then POSTs ev and returns its
// 2xx answer, or a *callError for any other status.
func (h *Handler) call(ctx context.Context, ev *event) (*response, error) {
	if err := h.validate(ctx, ev.conn.Hub); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.eventURL(ev.conn.Hub, ev.name), bytes.NewReader(ev.body))
	if err != nil {
		return nil, err
	}
	c := ev.conn
	hd := req.Header
	hd.Set("Content-Type", ev.contentType)
	hd.Set("WebHook-Request-Origin", h.cfg.Origin)
	hd.Set("ce-specversion", "1.0")
	hd.Set("ce-awpsversion", "1.0")
	hd.Set("ce-type", ev.ceType)
	hd.Set("ce-source", "/hubs/"+c.Hub+"/client/"+c.ID)
	hd.Set("ce-id", newEventID())
	hd.Set("ce-time", time.Now().UTC().Format(time.RFC3339Nano))
	hd.Set("ce-hub", c.Hub)
	hd.Set("ce-connectionId", c.ID)
	hd.Set("ce-eventName", ev.name)
	if c.UserID != "" {
		hd.Set("ce-userId", c.UserID)
	}
	if c.Protocol != "" && ev.name != EventConnect {
		hd.Set("ce-subprotocol", c.Protocol)
	}
	if len(h.cfg.AccessKey) > 0 {
		hd.Set("ce-signature", Signature(h.cfg.AccessKey, c.ID))
	}
	if st := h.connectionState(c.ID); st != "" {
		hd.Set("ce-connectionState", st)
	}
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxReplyBytes {
		return nil, &callError{status: http.StatusBadGateway, body: "event handler answer too large"}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return nil, &callError{status: resp.StatusCode, body: msg}
	}
	if st := resp.Header.Get("ce-connectionState"); st != "" {
		h.keepState(c.ID, st)
	}
	return &response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body}, nil
}

// Signature is the ce-signature of a connection id: "sha256=" and the hex
// HMAC-SHA256 of the id keyed with the access key.
func Signature(accessKey []byte, connID string) string {
	m := hmac.New(sha256.New, accessKey)
	m.Write([]byte(connID))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// validate runs the CloudEvents abuse-protection handshake for the hub's
// handler URL once: OPTIONS with WebHook-Request-Origin, expecting a 2xx
// with WebHook-Allowed-Origin of "*" or our origin. "{event}" is "validate".
func (h *Handler) validate(ctx context.Context, hubName string) error {
	u := h.eventURL(hubName, "validate")
	h.mu.Lock()
	_, ok := h.validated[u]
	failed := h.failedAt[u]
	h.mu.Unlock()
	if ok {
		return nil
	}
	if !failed.IsZero() && time.Since(failed) < validateRetry {
		return errors.New("event handler failed the abuse-protection handshake recently")
	}
	err := h.handshake(ctx, u)
	h.mu.Lock()
	if err == nil {
		h.validated[u] = time.Now()
		delete(h.failedAt, u)
	} else {
		h.failedAt[u] = time.Now()
	}
	h.mu.Unlock()
	if err != nil {
		h.log.Warn("upstream: abuse-protection handshake failed", "url", u, "err", err)
	}
	return err
}

func (h *Handler) handshake(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("WebHook-Request-Origin", h.cfg.Origin)
	req.Header.Set("ce-awpsversion", "1.0")
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("abuse-protection handshake: status %d", resp.StatusCode)
	}
	for _, v := range resp.Header.Values("WebHook-Allowed-Origin") {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o == "*" || strings.EqualFold(o, h.cfg.Origin) {
				return nil
			}
		}
	}
	return fmt.Errorf("abuse-protection handshake: origin %q not in WebHook-Allowed-Origin", h.cfg.Origin)
}

func newEventID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// appendNew appends the values of add that are not in l yet.
func appendNew(l []string, add ...string) []string {
	for _, a := range add {
		if a == "" {
			continue
		}
		found := false
		for _, x := range l {
			if x == a {
				found = true
				break
			}
		}
		if !found {
			l = append(l, a)
		}
	}
	return l
}
