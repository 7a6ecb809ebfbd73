package hub

// Index is told of this node's connections and group memberships as they
// change, so that it can answer for the whole cluster the queries that the
// hub answers only for its node (query.go): a cluster-wide index in Redis,
// say. A Broker that also implements Index is used as the hub's index.
//
// Calls are made in the order of the changes, under the hub's lock: they
// must not block (queue the work) and must not call the hub.
type Index interface {
	Connected(conn *ConnInfo)    // a session was registered
	Disconnected(conn *ConnInfo) // a session ended, after it left its groups
	Joined(conn *ConnInfo, group string)
	Left(conn *ConnInfo, group string)
}

// Index returns the hub's index, nil when its broker is not an Index.
func (h *Hub) Index() Index { return h.index }
