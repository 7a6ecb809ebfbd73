package hub

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"
)

// batchMessage is a buffered message as the client parses it.
type batchMessage struct {
	From  string `json:"from"`
	Group string `json:"group"`
	Data  struct {
		Batch string            `json:"batch"`
		Items []json.RawMessage `json:"items"`
	} `json:"data"`
	raw string
}

// sentTo returns the messages s was sent (kept in its unacked buffer).
func sentTo(t *testing.T, s *session) []batchMessage {
	t.Helper()
	s.mu.Lock()
	live := s.unacked.live()
	s.mu.Unlock()
	var l []batchMessage
	for _, m := range live {
		raw := "{" + string(m.body)
		var b batchMessage
		if err := json.Unmarshal([]byte(raw), &b); err != nil {
			// not a batch: data is not an object with items
			b = batchMessage{}
			json.Unmarshal([]byte(raw), &struct {
				From *string `json:"from"`
			}{&b.From})
		}
		b.raw = raw
		l = append(l, b)
	}
	return l
}

func items(m batchMessage) []string {
	var l []string
	for _, it := range m.Data.Items {
		l = append(l, string(it))
	}
	return l
}

// TestBatchCoalescesPerConnection: batched messages to a group reach a
// connection marked Batches as one frame per batch name when its window
// ends, keyed items replaced by the latest, while other connections get
// each message at once.
func TestBatchCoalescesPerConnection(t *testing.T) {
	h, err := New(Config{Key: []byte("k"), PingInterval: time.Hour, BatchWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	mk := func(id string, batches, html bool) *session {
		s := &session{h: h, info: &ConnInfo{ID: id, Reliable: true, Batches: batches, HTMLText: html}}
		s.sock = &socket{s: s, nc: &discardConn{}}
		h.register(s, []string{"g"})
		return s
	}
	batching, html, plainConn := mk("a", true, false), mk("h", true, true), mk("p", false, false)
	ctx := context.Background()
	send := func(m Message) {
		t.Helper()
		if err := h.SendToGroup(ctx, "g", m); err != nil {
			t.Fatal(err)
		}
	}
	presence := func(user, state string) Message {
		d := `{"user":"` + user + `","state":"` + state + `"}`
		return Message{AsServer: true, Payload: Payload{Data: []byte(d)}, Batch: &Batch{Name: "presence", Key: user}}
	}
	send(presence("u1", "online"))
	send(presence("u2", "online"))
	send(Message{Payload: Payload{Data: []byte(`"chat"`)}}) // not batched: goes out at once
	send(Message{AsServer: true, Payload: Payload{Data: []byte(`{"joined":"u3"}`)},
		HTMLPayload: &Payload{Data: []byte(`{"joined":"u3","html":true}`)}, Batch: &Batch{Name: "members"}})
	send(presence("u1", "offline"))
	send(Message{AsServer: true, Payload: Payload{Data: []byte(`{"joined":"u4"}`)}, Batch: &Batch{Name: "members"}})

	if got := sentTo(t, plainConn); len(got) != 6 {
		t.Fatalf("unbatched connection got %d messages, want all 6 at once", len(got))
	}
	for _, s := range []*session{batching, html} {
		got := sentTo(t, s)
		if len(got) != 1 || got[0].From != "group" {
			t.Fatalf("%s: before its window ended: %v, want only the chat message", s.info.ID, got)
		}
	}
	h.batch.mu.Lock()
	scheduled := len(h.batch.due)
	h.batch.mu.Unlock()
	if scheduled != 2 {
		t.Errorf("%d sessions on the batch list, want 2 (each once)", scheduled)
	}
	batching.flushBatches()
	html.flushBatches()

	got := sentTo(t, batching)
	if len(got) != 3 {
		t.Fatalf("after the window: %d messages, want the chat message and 2 batches", len(got))
	}
	p, m := got[1], got[2]
	if p.From != "server" || p.Data.Batch != "presence" || m.Data.Batch != "members" {
		t.Fatalf("batches = %s / %s", p.raw, m.raw)
	}
	if want := []string{`{"user":"u1","state":"offline"}`, `{"user":"u2","state":"online"}`}; !slices.Equal(items(p), want) {
		t.Errorf("presence items %v, want %v (u1 replaced in place by its latest)", items(p), want)
	}
	if want := []string{`{"joined":"u3"}`, `{"joined":"u4"}`}; !slices.Equal(items(m), want) {
		t.Errorf("members items %v, want %v", items(m), want)
	}
	if hm := sentTo(t, html)[2]; !slices.Equal(items(hm), []string{`{"joined":"u3","html":true}`, `{"joined":"u4"}`}) {
		t.Errorf("HTML connection's members items %v, want the HTML variant where set", items(hm))
	}
	// Nothing is left pending: another flush sends nothing.
	batching.flushBatches()
	if n := len(sentTo(t, batching)); n != 3 {
		t.Errorf("a second flush sent %d more", n-3)
	}
}

// TestBatchFullGoesOutAtOnce: a batch that reaches its item bound does not
// wait for its window.
func TestBatchFullGoesOutAtOnce(t *testing.T) {
	h, err := New(Config{Key: []byte("k"), PingInterval: time.Hour, BatchWindow: time.Hour, UnackedMessages: 10000})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	s := &session{h: h, info: &ConnInfo{ID: "a", Reliable: true, Batches: true}}
	s.sock = &socket{s: s, nc: &discardConn{}}
	h.register(s, nil)
	for i := range maxBatchItems + 1 {
		m := Message{Payload: Payload{Data: []byte(strconv.Itoa(i))}, Batch: &Batch{Name: "n"}}
		if err := h.SendToConnection(context.Background(), "a", m); err != nil {
			t.Fatal(err)
		}
	}
	got := sentTo(t, s)
	if len(got) != 1 || len(got[0].Data.Items) != maxBatchItems {
		t.Fatalf("got %d messages (first with %d items), want one full batch", len(got), len(got[0].Data.Items))
	}
	s.flushBatches()
	if got := sentTo(t, s); len(got) != 2 || !slices.Equal(items(got[1]), []string{strconv.Itoa(maxBatchItems)}) {
		t.Errorf("the rest: %v", got[1:])
	}
}

func TestBatchNeedsJSON(t *testing.T) {
	h, err := New(Config{Key: []byte("k"), PingInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	m := Message{Payload: Payload{DataType: DataText, Data: []byte("x")}, Batch: &Batch{Name: "n"}}
	if err := h.SendToGroup(context.Background(), "g", m); err == nil {
		t.Error("a batched text message was accepted")
	}
}
