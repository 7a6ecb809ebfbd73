package hub

// CmdResync is never published: a Broker delivers it to its subscriber when
// it finds that it lost commands (its read position fell out of what the
// cluster bus retains, or the bus itself was reset). Reason says why.
//
// The node then cannot know which joins, leaves and messages it missed, so
// every group membership it holds may be stale: a member removed elsewhere
// would still read a chat, a chat re-created under the same id would reach
// its old members. The hub therefore ends every local session (resync)
// rather than carry on.
const CmdResync CommandKind = "resync"

// resyncMessage is the reason clients see in the disconnected frame.
const resyncMessage = "the server lost track of your groups; reconnect"

// resync ends every session on this node at once, with close code 1008 and
// queued frames discarded, after taking each out of its groups so that no
// command delivered after this one reaches it.
//
// Why end the sessions instead of re-loading their groups in place: the hub
// knows nothing of chats, and the only authority on membership is the
// application, which is consulted when a client joins. 1008 is the one
// close after which the official SDK does not recover the old session but,
// with its default autoReconnect, opens a new connection and re-joins its
// groups, each join checked by Application.Join against the store; Chatr's
// client reconnects the same way and re-fetches the history of its open
// chats. A recovered session would keep the stale groups, so recovery must
// not be offered. The cost, a reconnect of this node's clients, is paid only
// when commands were lost, which a resumable bus makes rare.
func (h *Hub) resync(reason string) {
	h.log.Warn("hub: cluster bus lost commands; ending every local session so that clients re-sync", "reason", reason)
	h.mu.Lock()
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		for name := range s.groups {
			h.leaveLocked(s, name)
		}
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		s.endLocked(closePolicy, "resync: "+reason, resyncMessage, true)
		s.mu.Unlock()
	}
}
