package hub

import (
	"sync"
	"time"
)

// Batches: one frame per connection per window for bursts of events.
//
// A Message with Batch set goes, on connections marked ConnInfo.Batches,
// into a batch pending on that connection instead of out at once. The
// first item of a connection's pending batches puts the connection on the
// hub's batch list; Config.BatchWindow later each of its batches goes out
// as one from:"server" message whose data is
//
//	{"batch":"<Batch.Name>","items":[<data>,<data>,...]}
//
// An item with a Batch.Key replaces the pending item of the same name and
// key (in its place), so a burst of "user X went online, offline, online"
// costs one item. Items are the messages' JSON data, shared and not
// copied. A batch that reaches maxBatchItems or maxBatchBytes goes out at
// once. Connections not marked Batches get every such message at once, as
// any other.

// Bounds of one pending batch; reaching either sends it at once.
const (
	maxBatchItems = 1000
	maxBatchBytes = 256 << 10
)

// pendingBatch is one named batch waiting on a session.
type pendingBatch struct {
	name  string
	items [][]byte
	keys  map[string]int // index in items of each keyed item
	bytes int
}

// batchList is the hub's list of sessions with pending batches, in the
// order their windows end (every window has the same length).
type batchList struct {
	mu      sync.Mutex
	due     []batchDue
	running bool
}

type batchDue struct {
	s  *session
	at time.Time
}

// addToBatch puts data (a JSON value) into the session's pending batch b.
// It reports whether the session accepts messages.
func (s *session) addToBatch(b *Batch, data []byte) bool {
	if len(data) == 0 {
		data = nullJSON
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateGone || s.endWhy != "" {
		return false
	}
	i := 0
	for i < len(s.batches) && s.batches[i].name != b.Name {
		i++
	}
	if i == len(s.batches) {
		s.batches = append(s.batches, pendingBatch{name: b.Name})
	}
	p := &s.batches[i]
	if j, ok := p.keys[b.Key]; ok && b.Key != "" {
		p.bytes += len(data) - len(p.items[j])
		p.items[j] = data
	} else {
		if b.Key != "" {
			if p.keys == nil {
				p.keys = make(map[string]int)
			}
			p.keys[b.Key] = len(p.items)
		}
		p.items = append(p.items, data)
		p.bytes += len(data) + 1
	}
	if len(p.items) >= maxBatchItems || p.bytes >= maxBatchBytes {
		s.sendBatchLocked(p)
		s.batches = append(s.batches[:i], s.batches[i+1:]...)
	}
	if len(s.batches) > 0 && !s.batchScheduled {
		s.batchScheduled = true
		s.h.scheduleBatch(s)
	}
	return true
}

var nullJSON = []byte("null")

// sendBatchLocked sends p as one message; called with s.mu held.
func (s *session) sendBatchLocked(p *pendingBatch) {
	data := make([]byte, 0, 32+len(p.name)+p.bytes)
	data = append(data, `{"batch":`...)
	data = appendJSONString(data, p.name)
	data = append(data, `,"items":[`...)
	for i, it := range p.items {
		if i > 0 {
			data = append(data, ',')
		}
		data = append(data, it...)
	}
	data = append(data, "]}"...)
	if s.sendMessageLocked(newEncodedMessage(fromServer, "", "", &Payload{DataType: DataJSON, Data: data})) {
		s.h.stats.out.Add(1)
	}
}

// flushBatches sends every pending batch of s.
func (s *session) flushBatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batchScheduled = false
	for i := range s.batches {
		s.sendBatchLocked(&s.batches[i])
	}
	clear(s.batches)
	s.batches = s.batches[:0]
	if cap(s.batches) > 4 {
		s.batches = nil
	}
}

// scheduleBatch puts s on the batch list; called with s.mu held.
func (h *Hub) scheduleBatch(s *session) {
	l := &h.batch
	l.mu.Lock()
	l.due = append(l.due, batchDue{s, time.Now().Add(h.cfg.BatchWindow)})
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		go h.batchLoop()
	}
}

// batchLoop sends the batches whose window has ended, until none is pending.
func (h *Hub) batchLoop() {
	l := &h.batch
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var ready []*session
	for {
		l.mu.Lock()
		if len(l.due) == 0 {
			l.running = false
			l.due = nil
			l.mu.Unlock()
			return
		}
		wait := time.Until(l.due[0].at)
		l.mu.Unlock()
		if wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C:
			case <-h.ctx.Done(): // the hub is closing: send what is pending now
			}
		}
		now := time.Now()
		l.mu.Lock()
		n := 0
		for n < len(l.due) && (!l.due[n].at.After(now) || h.ctx.Err() != nil) {
			ready = append(ready, l.due[n].s)
			n++
		}
		l.due = append(l.due[:0], l.due[n:]...)
		l.mu.Unlock()
		for _, s := range ready {
			s.flushBatches()
		}
		clear(ready)
		ready = ready[:0]
	}
}
