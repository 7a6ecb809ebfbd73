package bench

// Watch is the presence a connection must be shown: the users whose
// userOnline it waits for (its own user included). Owned by the poller.
type Watch struct {
	want map[string]bool // user id → shown online
	left int
}

// NewWatch waits for userOnline of every id in users.
func NewWatch(users []string) *Watch {
	w := &Watch{want: make(map[string]bool, len(users))}
	for _, u := range users {
		if _, ok := w.want[u]; !ok {
			w.want[u] = false
			w.left++
		}
	}
	return w
}

func (w *Watch) saw(id []byte) {
	if seen, ok := w.want[string(id)]; ok && !seen {
		w.want[string(id)] = true
		w.left--
	}
}

// ConnState is what the poller knows of one connection.
type ConnState struct {
	Connected, Closed bool
	Acks, AckErrors   int
	// PresenceLeft is the watched users not yet shown online (-1: no watch
	// or no connection).
	PresenceLeft int
}

// States returns the state of each of ks (a nil entry: not connected,
// PresenceLeft -1).
func (c *Client) States(ks []*Conn) []ConnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ConnState, len(ks))
	for i, k := range ks {
		if k == nil {
			out[i].PresenceLeft = -1
			continue
		}
		out[i] = ConnState{Connected: k.joined, Closed: k.closed, Acks: k.acks, AckErrors: k.ackErrs, PresenceLeft: -1}
		if k.watch != nil {
			out[i].PresenceLeft = k.watch.left
		}
	}
	return out
}

// Closed is whether the poller has closed k (the server hung up).
func (c *Client) Closed(k *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return k.closed
}
