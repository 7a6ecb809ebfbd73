// Package outgoing calls a chat's outgoing webhooks: when a stored message
// starts with a webhook's trigger word, it POSTs the message (in the shape
// of Mattermost's outgoing webhooks) to the webhook's URL, signed with the
// webhook's secret, and posts the answer's text back in the chat as a reply.
//
// Calls run on a small pool of workers behind a bounded queue, so that a
// send is never slowed by them: when the queue is full, work is dropped and
// counted. Each call has a timeout and is retried with exponential backoff
// and jitter on network errors and 5xx answers, never on 4xx ones. Every
// connection goes through a Guard that refuses internal addresses (SSRF).
//
// It knows the OutgoingWebhookStore contract of package chatr and nothing of
// HTTP routes, sockets or the chat package: replies leave through a Poster.
package outgoing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/chatr/chatr"
)

// Defaults for Config.
const (
	DefaultWorkers       = 4                // calls in flight at once
	DefaultQueue         = 256              // messages waiting for a worker; more are dropped
	DefaultTimeout       = 10 * time.Second // one attempt, answer read included
	DefaultAttempts      = 4                // the first call and three retries
	DefaultBackoff       = time.Second      // before the first retry; doubled for each next, with jitter
	DefaultCacheTTL      = 10 * time.Second // how long a chat's webhooks are trusted before they are read again
	DefaultMaxReplyBytes = 4096             // bytes of a reply's text (longer text is cut at a character)
	maxBackoff           = 30 * time.Second
	maxCachedChats       = 10000 // chats whose webhooks are remembered; the cache starts afresh past it
	postAttempts         = 3     // tries to post a reply the store did not take
)

// SenderPrefix starts the sender ID of replies: "outgoing:<webhook id>".
// Messages from such senders, and from any bot or webhook (chatr.IsBotID),
// never trigger webhooks, so that two integrations
// cannot answer each other forever.
const SenderPrefix = chatr.OutgoingIDPrefix

// Reply is a webhook's answer to post in the chat.
type Reply struct {
	WebhookID string
	ChatID    string
	ReplyTo   int64  // the message that triggered the call
	Name      string // the webhook's name, shown as the sender's
	Text      string
	// Key is the reply's idempotency key, derived from the webhook and
	// the triggering message: posting twice with it stores one message.
	Key string
}

// Poster posts a webhook's reply in its chat, stored and delivered like
// any message, at most once per Reply.Key: a second call with the same key
// stores nothing new and returns nil.
type Poster interface {
	PostReply(ctx context.Context, r Reply) error
}

// Store is what the dispatcher reads and changes: chats' names and
// webhooks.
type Store interface {
	GetChat(ctx context.Context, id string) (chatr.Chat, error)
	chatr.OutgoingWebhookStore
}

// Config configures a Dispatcher. Store and Poster are required; zero
// values mean the defaults.
type Config struct {
	Store  Store
	Poster Poster
	// Guard decides which addresses may be called; nil allows public
	// addresses only.
	Guard         *Guard
	Workers       int
	Queue         int
	Timeout       time.Duration
	Attempts      int
	Backoff       time.Duration
	CacheTTL      time.Duration
	MaxReplyBytes int
	Logger        *slog.Logger
	Now           func() time.Time
}

// Stats counts what the dispatcher did since it started.
type Stats struct {
	Calls     int64 // HTTP attempts made
	Delivered int64 // deliveries answered 2xx
	Failed    int64 // deliveries given up (4xx, or retries spent)
	Refused   int64 // deliveries to an address the Guard refused
	Dropped   int64 // messages dropped because the queue was full
	Replies   int64 // replies posted
}

// Dispatcher calls webhooks for stored messages. Create it with New;
// Close stops it.
type Dispatcher struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	jobs   chan chatr.Message
	ctx    context.Context // cancelled by Close: in-flight calls and backoffs end
	cancel context.CancelFunc
	wg     sync.WaitGroup

	startOnce sync.Once
	closeOnce sync.Once
	mu        sync.Mutex // guards closed and sending to jobs against Close
	closed    bool

	cacheMu sync.Mutex
	cache   map[string]cached

	calls, delivered, failed, refused, dropped, replies atomic.Int64
}

// cached is what a chat's webhooks were when last read.
type cached struct {
	chatName string
	hooks    []chatr.OutgoingWebhook
	read     time.Time
}

// New returns the dispatcher; Start starts its workers.
func New(cfg Config) *Dispatcher {
	if cfg.Guard == nil {
		cfg.Guard, _ = NewGuard(nil)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.MaxReplyBytes <= 0 {
		cfg.MaxReplyBytes = DefaultMaxReplyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{cfg: cfg, client: cfg.Guard.Client(), log: cfg.Logger, jobs: make(chan chatr.Message, cfg.Queue),
		ctx: ctx, cancel: cancel, cache: map[string]cached{}}
}

// Start starts the workers (once); messages stored before wait in the
// queue.
func (d *Dispatcher) Start() {
	d.startOnce.Do(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.closed {
			return
		}
		for range d.cfg.Workers {
			d.wg.Add(1)
			go d.work()
		}
	})
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{Calls: d.calls.Load(), Delivered: d.delivered.Load(), Failed: d.failed.Load(), Refused: d.refused.Load(),
		Dropped: d.dropped.Load(), Replies: d.replies.Load()}
}

// MessageStored is told of every message stored by a send. It never
// blocks: a message that may trigger a webhook is queued for a worker (or
// dropped, and counted, when the queue is full). A chat whose webhooks are
// known to have no matching trigger word costs a map lookup.
func (d *Dispatcher) MessageStored(m chatr.Message) {
	if m.Deleted || strings.TrimSpace(m.Text) == "" || chatr.IsBotID(m.FromUserID) {
		return
	}
	if c, ok := d.cached(m.ChatID); ok && !matches(c.hooks, m.Text) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	select {
	case d.jobs <- m:
	default:
		d.dropped.Add(1)
		d.log.Warn("outgoing webhooks: queue full, message dropped", "chat", m.ChatID, "message", m.ID)
	}
}

func matches(hooks []chatr.OutgoingWebhook, text string) bool {
	for _, h := range hooks {
		if h.TriggerWord(text) != "" {
			return true
		}
	}
	return false
}

// Forget makes the next message of the chat read its webhooks again
// (after one was created or deleted on this node; other nodes see the
// change within CacheTTL).
func (d *Dispatcher) Forget(chatID string) {
	d.cacheMu.Lock()
	delete(d.cache, chatID)
	d.cacheMu.Unlock()
}

// cached returns the chat's webhooks if they were read within CacheTTL.
func (d *Dispatcher) cached(chatID string) (cached, bool) {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	c, ok := d.cache[chatID]
	return c, ok && d.cfg.Now().Sub(c.read) < d.cfg.CacheTTL
}

// hooks returns the chat's webhooks, from the cache or the store.
func (d *Dispatcher) hooks(ctx context.Context, chatID string) (cached, error) {
	if c, ok := d.cached(chatID); ok {
		return c, nil
	}
	read := d.cfg.Now()
	chat, err := d.cfg.Store.GetChat(ctx, chatID)
	if err != nil {
		return cached{}, err
	}
	hooks, err := d.cfg.Store.ListOutgoingWebhooks(ctx, chatID)
	if err != nil {
		return cached{}, err
	}
	c := cached{chatName: chat.Name, hooks: hooks, read: read}
	d.cacheMu.Lock()
	if len(d.cache) >= maxCachedChats {
		d.cache = map[string]cached{}
	}
	d.cache[chatID] = c
	d.cacheMu.Unlock()
	return c, nil
}

// Close stops taking messages, ends the calls in flight and waits for the
// workers. Queued messages are dropped.
func (d *Dispatcher) Close() {
	d.closeOnce.Do(func() {
		d.cancel()
		d.mu.Lock()
		d.closed = true
		close(d.jobs)
		d.mu.Unlock()
		d.wg.Wait()
	})
}

func (d *Dispatcher) work() {
	defer d.wg.Done()
	for m := range d.jobs {
		if d.ctx.Err() != nil {
			continue
		}
		d.dispatch(m)
	}
}

// dispatch calls every webhook of the message's chat that it triggers.
func (d *Dispatcher) dispatch(m chatr.Message) {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
	c, err := d.hooks(ctx, m.ChatID)
	cancel()
	if err != nil {
		if chatr.ErrorCode(err) != chatr.ENOTFOUND {
			d.log.Error("outgoing webhooks: read the chat's webhooks", "chat", m.ChatID, "err", err)
		}
		return
	}
	for _, h := range c.hooks {
		if word := h.TriggerWord(m.Text); word != "" {
			d.deliver(h, c.chatName, m, word)
		}
	}
}

// payload is what a webhook receives: the fields of Mattermost's outgoing
// webhooks. Token is the webhook's ID, not a secret: receivers check the
// signature.
type payload struct {
	Token       string `json:"token"`
	TeamID      string `json:"team_id"`
	TeamDomain  string `json:"team_domain"`
	ChannelID   string `json:"channel_id"`
	ChannelName string `json:"channel_name"`
	Timestamp   int64  `json:"timestamp"`
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	PostID      string `json:"post_id"`
	Text        string `json:"text"`
	TriggerWord string `json:"trigger_word"`
	FileIDs     string `json:"file_ids"`
}

// answer is the part of a webhook's answer Chatr reads.
type answer struct {
	Text string `json:"text"`
}

// deliver calls h for m, retrying as the package doc says, and posts the
// answer's text.
func (d *Dispatcher) deliver(h chatr.OutgoingWebhook, chatName string, m chatr.Message, word string) {
	var fileIDs []string
	for _, f := range m.Files {
		fileIDs = append(fileIDs, f.ID)
	}
	body, _ := json.Marshal(payload{
		Token: h.ID, ChannelID: m.ChatID, ChannelName: chatName, Timestamp: m.Time.UnixMilli(),
		UserID: m.FromUserID, UserName: m.FromUserName, PostID: strconv.FormatInt(m.ID, 10),
		Text: m.Text, TriggerWord: word, FileIDs: strings.Join(fileIDs, ","),
	})
	delivery := h.ID + ":" + strconv.FormatInt(m.ID, 10)
	log := d.log.With("webhook", h.ID, "chat", m.ChatID, "message", m.ID)
	for attempt := 1; ; attempt++ {
		a, retry, err := d.call(h, delivery, body)
		if err == nil {
			d.delivered.Add(1)
			d.post(log, Reply{WebhookID: h.ID, ChatID: m.ChatID, ReplyTo: m.ID, Name: h.Name, Text: d.cut(a.Text), Key: SenderPrefix + delivery})
			return
		}
		var refused *RefusedError
		switch {
		case errors.As(err, &refused):
			d.refused.Add(1)
			log.Warn("outgoing webhook: address refused; --allow-private-webhooks lists the internal ones allowed", "addr", refused.Addr)
			return
		case !retry || attempt >= d.cfg.Attempts:
			d.failed.Add(1)
			log.Warn("outgoing webhook: call failed", "attempts", attempt, "err", err)
			return
		}
		if !d.sleep(d.backoff(attempt)) {
			return
		}
	}
}

// call makes one attempt. retry says whether another may succeed.
func (d *Dispatcher) call(h chatr.OutgoingWebhook, delivery string, body []byte) (a answer, retry bool, err error) {
	d.calls.Add(1)
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return a, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Chatr-Webhook/1")
	req.Header.Set(WebhookHeader, h.ID)
	req.Header.Set(DeliveryHeader, delivery)
	now := d.cfg.Now()
	req.Header.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(SignatureHeader, Sign(h.Secret, now, body))
	resp, err := d.client.Do(req)
	if err != nil {
		return a, d.ctx.Err() == nil && !errors.Is(err, errTooManyRedirects), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	switch {
	case resp.StatusCode >= 500:
		return a, true, errors.New("answered " + resp.Status)
	case resp.StatusCode >= 300:
		return a, false, errors.New("answered " + resp.Status)
	case err != nil:
		return a, true, err
	}
	// An answer that is not JSON, or has no text, asks for no reply.
	_ = json.Unmarshal(b, &a)
	return a, false, nil
}

// post posts a webhook's answer, retrying when the store could not take
// it (the key makes a retry safe).
func (d *Dispatcher) post(log *slog.Logger, r Reply) {
	if strings.TrimSpace(r.Text) == "" {
		return
	}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
		err := d.cfg.Poster.PostReply(ctx, r)
		cancel()
		if err == nil {
			d.replies.Add(1)
			return
		}
		code := chatr.ErrorCode(err)
		if attempt >= postAttempts || (code != chatr.EINTERNAL && code != chatr.ELIMIT) || !d.sleep(d.backoff(attempt)) {
			log.Warn("outgoing webhook: reply not posted", "err", err)
			return
		}
	}
}

// backoff is the pause before retry n (1, 2, ...): Backoff·2^(n-1), at
// most maxBackoff, of which the second half is drawn at random (jitter) so
// that the retries of many deliveries do not arrive together.
func (d *Dispatcher) backoff(n int) time.Duration {
	ceiling := min(d.cfg.Backoff<<min(n-1, 20), maxBackoff)
	return ceiling/2 + rand.N(ceiling/2+1)
}

// sleep pauses for p, or until Close; it reports whether to go on.
func (d *Dispatcher) sleep(p time.Duration) bool {
	t := time.NewTimer(p)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-d.ctx.Done():
		return false
	}
}

// cut bounds a reply's text at a character boundary.
func (d *Dispatcher) cut(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= d.cfg.MaxReplyBytes {
		return s
	}
	s = s[:d.cfg.MaxReplyBytes]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
