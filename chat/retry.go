package chat

import (
	"errors"
	"sync"

	"github.com/chatr/chatr/hub"
)

// unsettledSends remembers, per connection, the last chat message whose
// send failed with an outcome the client cannot know (a timeout, an
// internal or broker error: the message may be stored). The official SDK
// retries such a send with the same data but a new ackId unless the caller
// chose one, so the next send of the same data to the same chat on that
// connection is taken for the retry and keeps the first attempt's key.
type unsettledSends struct {
	mu sync.Mutex
	m  map[string]unsettled // connection id -> its last unsettled send
}

type unsettled struct {
	group, data, key string
}

// keyFor returns the key of the connection's unsettled send of the same
// data to the same group, or "".
func (u *unsettledSends) keyFor(connID, group string, data []byte) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if s, ok := u.m[connID]; ok && s.group == group && s.data == string(data) {
		return s.key
	}
	return ""
}

// settle records the outcome of a send with key: an error that may hide a
// stored message keeps it for a retry, anything else forgets it.
func (u *unsettledSends) settle(connID, group string, data []byte, key string, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if key == "" || !outcomeUnknown(err) {
		delete(u.m, connID)
		return
	}
	if u.m == nil {
		u.m = make(map[string]unsettled)
	}
	u.m[connID] = unsettled{group, string(data), key}
}

// forget drops what is kept for a connection that is gone.
func (u *unsettledSends) forget(connID string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, connID)
}

// outcomeUnknown reports whether a failed send may have been stored: every
// error but a named refusal, which is decided before the store is written.
func outcomeUnknown(err error) bool {
	if err == nil {
		return false
	}
	var ae *hub.AckError
	if !errors.As(err, &ae) {
		return true
	}
	return ae.Name == "Timeout" || ae.Name == "InternalServerError"
}
