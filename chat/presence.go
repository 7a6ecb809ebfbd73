package chat

import (
	"context"
	"sort"
	"sync"
)

// LocalPresence is the Presence of a single node: connection sets in memory.
type LocalPresence struct {
	mu    sync.Mutex
	users map[string]map[string]struct{} // userID -> connIDs
}

var _ Presence = (*LocalPresence)(nil)

// NewLocalPresence returns an empty LocalPresence.
func NewLocalPresence() *LocalPresence {
	return &LocalPresence{users: make(map[string]map[string]struct{})}
}

func (p *LocalPresence) Add(_ context.Context, userID, connID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	conns := p.users[userID]
	if conns == nil {
		conns = make(map[string]struct{})
		p.users[userID] = conns
	}
	conns[connID] = struct{}{}
	return len(conns) == 1, nil
}

func (p *LocalPresence) Remove(_ context.Context, userID, connID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	conns := p.users[userID]
	if _, ok := conns[connID]; !ok {
		return false, nil
	}
	delete(conns, connID)
	if len(conns) == 0 {
		delete(p.users, userID)
		return true, nil
	}
	return false, nil
}

func (p *LocalPresence) Online(context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.users))
	for id := range p.users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

func (p *LocalPresence) Count(_ context.Context, userID string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.users[userID]), nil
}
