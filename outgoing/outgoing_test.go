package outgoing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/memstore"
	"github.com/chatr/chatr/outgoing"
)

const secret = "s3cret"

// poster stores replies by key, as the chat's path does: a key seen
// before stores nothing. failFirst makes the first call fail after
// storing, as when the store took the reply but its answer was lost.
type poster struct {
	mu        sync.Mutex
	calls     int
	stored    map[string]outgoing.Reply
	failFirst bool
}

func (p *poster) PostReply(_ context.Context, r outgoing.Reply) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.stored == nil {
		p.stored = map[string]outgoing.Reply{}
	}
	if _, dup := p.stored[r.Key]; !dup {
		p.stored[r.Key] = r
	}
	if p.failFirst && p.calls == 1 {
		return fmt.Errorf("store timed out")
	}
	return nil
}

func (p *poster) replies() []outgoing.Reply {
	p.mu.Lock()
	defer p.mu.Unlock()
	var l []outgoing.Reply
	for _, r := range p.stored {
		l = append(l, r)
	}
	return l
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// setup makes a chat "g" with one webhook to url and a dispatcher for it.
// allow is the Guard's allow list; the local test servers need 127.0.0.1.
func setup(t *testing.T, url string, allow []string, cfg outgoing.Config) (*outgoing.Dispatcher, *poster) {
	t.Helper()
	s := memstore.New()
	ctx := t.Context()
	if err := s.CreateChat(ctx, chatr.Chat{ID: "g", Name: "General", Owner: "guest:o"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOutgoingWebhook(ctx, chatr.OutgoingWebhook{ID: "h1", ChatID: "g", Name: "Deploy bot", URL: url,
		Triggers: []string{"!deploy", "!ping"}, Secret: secret, CreatedBy: "guest:o"}); err != nil {
		t.Fatal(err)
	}
	g, err := outgoing.NewGuard(allow)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Poster.(*poster)
	cfg.Store, cfg.Guard, cfg.Logger = s, g, slog.New(slog.DiscardHandler)
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	d := outgoing.New(cfg)
	d.Start()
	t.Cleanup(d.Close)
	return d, p
}

var local = []string{"127.0.0.1"}

func trigger(id int64, text string) chatr.Message {
	return chatr.Message{ChatID: "g", ID: id, FromUserID: "guest:ann", FromUserName: "Ann", Text: text, Time: time.Now().UTC()}
}

func TestSignedPayloadAndReply(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// What a receiver does: check the signature and the timestamp.
		if !outgoing.Verify(secret, r.Header.Get(outgoing.TimestampHeader), r.Header.Get(outgoing.SignatureHeader), body, time.Now(), 5*time.Minute) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if outgoing.Verify("other", r.Header.Get(outgoing.TimestampHeader), r.Header.Get(outgoing.SignatureHeader), body, time.Now(), 5*time.Minute) {
			t.Error("a signature verified with another secret")
		}
		var p map[string]any
		json.Unmarshal(body, &p)
		got.Store(p)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"text": "deploying **prod**"}`)
	}))
	defer srv.Close()
	d, p := setup(t, srv.URL+"/hook", local, outgoing.Config{Poster: &poster{}})

	d.MessageStored(trigger(1, "no trigger here"))
	d.MessageStored(trigger(2, "!deploy prod"))
	waitFor(t, "the reply", func() bool { return len(p.replies()) == 1 })
	r := p.replies()[0]
	if want := (outgoing.Reply{WebhookID: "h1", ChatID: "g", ReplyTo: 2, Name: "Deploy bot", Text: "deploying **prod**", Key: "outgoing:h1:2"}); r != want {
		t.Errorf("reply = %+v, want %+v", r, want)
	}
	pl := got.Load().(map[string]any)
	for k, want := range map[string]any{"token": "h1", "channel_id": "g", "channel_name": "General", "user_id": "guest:ann",
		"user_name": "Ann", "post_id": "2", "text": "!deploy prod", "trigger_word": "!deploy"} {
		if pl[k] != want {
			t.Errorf("payload[%q] = %v, want %v", k, pl[k], want)
		}
	}
	if _, ok := pl["timestamp"].(float64); !ok {
		t.Errorf("payload has no timestamp: %v", pl)
	}
	if s := d.Stats(); s.Calls != 1 || s.Delivered != 1 || s.Replies != 1 {
		t.Errorf("stats = %+v", s)
	}
	// A reply never triggers a webhook.
	d.MessageStored(chatr.Message{ChatID: "g", ID: 3, FromUserID: outgoing.SenderPrefix + "h1", Text: "!ping"})
	d.MessageStored(trigger(4, "!ping"))
	waitFor(t, "the second reply", func() bool { return len(p.replies()) == 2 })
	if s := d.Stats(); s.Calls != 2 {
		t.Errorf("calls = %d, want 2 (the reply's message must not call)", s.Calls)
	}
}

func TestRetriesOn5xxThenSuccess(t *testing.T) {
	var calls atomic.Int32
	var deliveries sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deliveries.Store(r.Header.Get(outgoing.DeliveryHeader), true)
		if calls.Add(1) <= 2 {
			http.Error(w, `{"text": "not this one"}`, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"text": "pong"}`)
	}))
	defer srv.Close()
	d, p := setup(t, srv.URL, local, outgoing.Config{Poster: &poster{}})
	d.MessageStored(trigger(7, "!ping"))
	waitFor(t, "the reply", func() bool { return len(p.replies()) == 1 })
	if n := calls.Load(); n != 3 {
		t.Errorf("calls = %d, want 3", n)
	}
	if r := p.replies()[0]; r.Text != "pong" || r.ReplyTo != 7 {
		t.Errorf("reply = %+v", r)
	}
	n := 0
	deliveries.Range(func(k, _ any) bool { n++; return k == "h1:7" })
	if n != 1 {
		t.Errorf("attempts carried %d delivery ids, want one (h1:7)", n)
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"text": "no"}`, http.StatusBadRequest)
	}))
	defer srv.Close()
	d, p := setup(t, srv.URL, local, outgoing.Config{Poster: &poster{}})
	d.MessageStored(trigger(1, "!ping"))
	waitFor(t, "the failure", func() bool { return d.Stats().Failed == 1 })
	if n := calls.Load(); n != 1 {
		t.Errorf("calls = %d, want 1", n)
	}
	if len(p.replies()) != 0 {
		t.Errorf("a 4xx answer was posted: %+v", p.replies())
	}
}

func TestTimeout(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select { // answer only after the caller gave up
		case <-r.Context().Done():
		case <-release:
		}
		fmt.Fprint(w, `{"text": "too late"}`)
	}))
	defer srv.Close()
	defer close(release)
	d, p := setup(t, srv.URL, local, outgoing.Config{Poster: &poster{}, Timeout: 50 * time.Millisecond, Attempts: 2})
	d.MessageStored(trigger(1, "!ping"))
	waitFor(t, "the failure", func() bool { return d.Stats().Failed == 1 })
	if n := calls.Load(); n != 2 {
		t.Errorf("calls = %d, want 2 (a timeout is retried)", n)
	}
	if len(p.replies()) != 0 {
		t.Errorf("a timed-out call was answered: %+v", p.replies())
	}
}

func TestBoundedConcurrency(t *testing.T) {
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		inFlight.Add(-1)
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	d, p := setup(t, srv.URL, local, outgoing.Config{Poster: &poster{}, Workers: 2, Queue: 2})
	d.MessageStored(trigger(1, "!ping"))
	d.MessageStored(trigger(2, "!ping"))
	waitFor(t, "two calls in flight", func() bool { return inFlight.Load() == 2 })
	// Both workers are busy: two more wait in the queue, the rest are
	// dropped at once (the sender is never held up).
	start := time.Now()
	for id := int64(3); id <= 10; id++ {
		d.MessageStored(trigger(id, "!ping"))
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("MessageStored blocked for %v", el)
	}
	if s := d.Stats(); s.Dropped != 6 {
		t.Errorf("dropped = %d, want 6", s.Dropped)
	}
	close(release)
	waitFor(t, "four deliveries", func() bool { return d.Stats().Delivered == 4 })
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d calls were in flight, want 2", m)
	}
	if len(p.replies()) != 0 {
		t.Errorf("an empty answer was posted: %+v", p.replies())
	}
}

func TestReplyPostedOnceWhenRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, `{"text": "done"}`)
	}))
	defer srv.Close()
	p := &poster{failFirst: true}
	d, _ := setup(t, srv.URL, local, outgoing.Config{Poster: p})
	d.MessageStored(trigger(5, "!deploy"))
	waitFor(t, "the reply", func() bool { return d.Stats().Replies == 1 })
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls != 2 || len(p.stored) != 1 || p.stored["outgoing:h1:5"].Text != "done" {
		t.Errorf("poster calls %d, stored %+v; want 2 calls with one key, one reply", p.calls, p.stored)
	}
}

func TestLongReplyIsCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"text": "ééééé"})
	}))
	defer srv.Close()
	d, p := setup(t, srv.URL, local, outgoing.Config{Poster: &poster{}, MaxReplyBytes: 5})
	d.MessageStored(trigger(1, "!ping"))
	waitFor(t, "the reply", func() bool { return len(p.replies()) == 1 })
	if got := p.replies()[0].Text; got != "éé" {
		t.Errorf("reply = %q, want %q", got, "éé")
	}
}
