package chat

import (
	"sync"

	"github.com/chatr/chatr/hub"
)

// userNames keeps the display name of every user with a live connection on
// this node, so that stamping a chat message needs no store read. Each new
// connection reloads the user and refreshes the name (a renamed user's next
// connection renames all their connections here); the entry goes with the
// user's last connection. A miss falls back to the store.
type userNames struct {
	mu sync.Mutex
	m  map[string]*heldName
}

type heldName struct {
	name  string
	conns int
}

func (n *userNames) hold(userID, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = make(map[string]*heldName)
	}
	e := n.m[userID]
	if e == nil {
		e = &heldName{}
		n.m[userID] = e
	}
	e.name = name
	e.conns++
}

func (n *userNames) release(userID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.m[userID]; e != nil {
		if e.conns--; e.conns <= 0 {
			delete(n.m, userID)
		}
	}
}

func (n *userNames) get(userID string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.m[userID]; e != nil {
		return e.name, true
	}
	return "", false
}

// groupChecker is the hub's view of which groups a connection is in.
type groupChecker interface {
	InGroup(connID, group string) bool
}

var _ groupChecker = (*hub.Hub)(nil)

// inGroup reports whether the connection is in the chat's group on this
// node. The chat puts a connection in a group only for a member (Connect,
// joinChat, createPrivateChat, and the Join hook's check), and leaveChat,
// deleteChat and a member's removal take it out on every node through the
// broker, so a connection in the group may write to the chat without a
// store read: the check is as fresh as delivery itself. A connection not in
// the group is checked against the store.
func (a *App) inGroup(conn *hub.ConnInfo, group string) bool {
	g, ok := a.hub.(groupChecker)
	return ok && g.InGroup(conn.ID, group)
}
