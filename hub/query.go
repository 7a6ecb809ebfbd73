package hub

// Existence queries, for the service REST API's HEAD requests (package
// restapi). They answer for this node only: in a cluster a connection, user
// or group that lives only on another node is reported as absent. A
// cluster-wide answer needs the broker to carry queries, which it does not.

// ConnectionExists reports whether the connection has a session on this
// node (a reliable session awaiting recovery counts).
func (h *Hub) ConnectionExists(connID string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, ok := h.sessions[connID]
	return ok
}

// UserExists reports whether the user has at least one session on this node.
func (h *Hub) UserExists(userID string) bool {
	if userID == "" {
		return false
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users[userID]) > 0
}

// GroupExists reports whether the group has at least one member on this node.
func (h *Hub) GroupExists(group string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	g := h.groups[group]
	return g != nil && len(g.members) > 0
}

// UserGroups returns the groups that any of the user's sessions on this node
// belongs to, for removing a user from every group.
func (h *Hub) UserGroups(userID string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	seen := make(map[string]struct{})
	var l []string
	for s := range h.users[userID] {
		for g := range s.groups {
			if _, ok := seen[g]; !ok {
				seen[g] = struct{}{}
				l = append(l, g)
			}
		}
	}
	return l
}

// ConnectionGroups returns the groups the connection belongs to on this node.
func (h *Hub) ConnectionGroups(connID string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s := h.sessions[connID]
	if s == nil {
		return nil
	}
	l := make([]string, 0, len(s.groups))
	for g := range s.groups {
		l = append(l, g)
	}
	return l
}

// ConnectionIDs returns the ids of the group's members on this node, or of
// every session when group is "", for closing all connections but some.
func (h *Hub) ConnectionIDs(group string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var l []string
	if group != "" {
		if g := h.groups[group]; g != nil {
			for _, s := range g.members {
				l = append(l, s.info.ID)
			}
		}
		return l
	}
	for id := range h.sessions {
		l = append(l, id)
	}
	return l
}

// UserConnectionIDs returns the ids of the user's sessions on this node.
func (h *Hub) UserConnectionIDs(userID string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	l := make([]string, 0, len(h.users[userID]))
	for s := range h.users[userID] {
		l = append(l, s.info.ID)
	}
	return l
}

// GroupMembers returns the connections of the group's members on this node
// (the ConnInfo values are immutable; do not modify them).
func (h *Hub) GroupMembers(group string) []*ConnInfo {
	h.mu.RLock()
	defer h.mu.RUnlock()
	g := h.groups[group]
	if g == nil {
		return nil
	}
	l := make([]*ConnInfo, 0, len(g.members))
	for _, s := range g.members {
		l = append(l, s.info)
	}
	return l
}
