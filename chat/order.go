package chat

import (
	"slices"
	"sync"
)

// sequencer hands each chat's messages to the hub in the order of their
// ids, so that every member sees a chat's messages in that order whoever
// sent them. The store assigns ids; concurrent AddMessage calls of one chat
// may return in any order (group commit), so a stored message waits here
// until no message of the same chat with a lower id can still come from
// this node.
//
// A message with id n is released when n follows the last released id, or
// when every AddMessage of the chat that was running when n was stored has
// returned: the store gives a call that begins after n returned a higher
// id, so only those calls could still produce a lower one. Ids stored by
// other nodes leave gaps that the second rule passes.
type sequencer struct {
	mu    sync.Mutex
	chats map[string]*chatOrder
}

// chatOrder is the sequencer's state for one chat; it is dropped when
// nothing is running or waiting.
type chatOrder struct {
	issued   uint64              // tickets handed out by begin
	running  map[uint64]struct{} // tickets whose AddMessage has not finished
	waiting  []*release          // stored, not yet released, ascending ids
	last     int64               // id last released, 0 before the first
	draining bool                // a goroutine is releasing messages
}

// release is a stored message waiting for its turn, or an event about
// message id (an edit, a deletion, a reaction: see after).
type release struct {
	id      int64
	barrier uint64 // the last ticket issued when the message was stored
	event   bool   // about message id, not message id itself
	send    func() error
	done    chan error // receives send's result
}

// begin registers an AddMessage about to run in the chat and returns its
// ticket for finish.
func (s *sequencer) begin(chatID string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chat(chatID)
	c.issued++
	c.running[c.issued] = struct{}{}
	return c.issued
}

// finish ends the AddMessage of ticket. With send (the message was stored
// with id), send runs once every lower id that this node may still release
// has been released, in id order, and its result arrives on the returned
// channel. Without send (the call failed or stored nothing new) it only
// lets later messages pass.
func (s *sequencer) finish(chatID string, ticket uint64, id int64, send func() error) <-chan error {
	s.mu.Lock()
	c := s.chats[chatID]
	delete(c.running, ticket)
	var r *release
	if send != nil {
		r = &release{id: id, barrier: c.issued, send: send, done: make(chan error, 1)}
		// In id order, and before the events about this message.
		i := len(c.waiting)
		for i > 0 && (c.waiting[i-1].id > id || c.waiting[i-1].id == id && c.waiting[i-1].event) {
			i--
		}
		c.waiting = slices.Insert(c.waiting, i, r)
	}
	s.kick(chatID, c)
	if r == nil {
		return nil
	}
	return r.done
}

// after runs send, an event about the chat's message id, once every
// message up to id that this node is storing or holding has been handed
// on, and after the events about the chat queued before it: members never
// see an edit before the message, nor two changes out of order. Its result
// arrives on the returned channel.
func (s *sequencer) after(chatID string, id int64, send func() error) <-chan error {
	s.mu.Lock()
	c := s.chat(chatID)
	r := &release{id: id, barrier: c.issued, event: true, send: send, done: make(chan error, 1)}
	// Behind the messages up to id, and behind every event already queued
	// whatever its id, so that events leave in the order they came.
	i := len(c.waiting)
	for i > 0 && !c.waiting[i-1].event && c.waiting[i-1].id > id {
		i--
	}
	c.waiting = slices.Insert(c.waiting, i, r)
	s.kick(chatID, c)
	return r.done
}

// chat returns the chat's order, made on first use; s.mu is held.
func (s *sequencer) chat(chatID string) *chatOrder {
	if s.chats == nil {
		s.chats = make(map[string]*chatOrder)
	}
	c := s.chats[chatID]
	if c == nil {
		c = &chatOrder{running: make(map[uint64]struct{})}
		s.chats[chatID] = c
	}
	return c
}

// kick drains the chat's queue unless another caller is draining it. It is
// called with s.mu held and releases it.
func (s *sequencer) kick(chatID string, c *chatOrder) {
	if c.draining {
		s.mu.Unlock()
		return
	}
	c.draining = true
	s.mu.Unlock()
	s.drain(chatID, c)
}

// drain releases the chat's messages whose turn has come, one at a time,
// until none is ready; one goroutine drains a chat at a time.
func (s *sequencer) drain(chatID string, c *chatOrder) {
	for {
		s.mu.Lock()
		r := c.next()
		if r == nil {
			c.draining = false
			if len(c.running) == 0 && len(c.waiting) == 0 {
				delete(s.chats, chatID)
			}
			s.mu.Unlock()
			return
		}
		c.waiting = c.waiting[1:]
		if !r.event {
			c.last = max(c.last, r.id)
		}
		s.mu.Unlock()
		r.done <- r.send()
	}
}

// next returns the first waiting message if its turn has come.
func (c *chatOrder) next() *release {
	if len(c.waiting) == 0 {
		return nil
	}
	r := c.waiting[0]
	if c.last != 0 && r.id == c.last+1 && !r.event {
		return r
	}
	for t := range c.running {
		if t <= r.barrier {
			return nil
		}
	}
	return r
}
