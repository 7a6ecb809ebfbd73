package memstore

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/chatr/chatr"
)

// integrationTables holds each store's tokens and webhooks beside it, under
// the store's mutex, as fileTables does for files.
var integrationTables sync.Map // *Store -> *integrations

type integrations struct {
	tokens   map[string]storedToken   // by hash
	webhooks map[string]storedWebhook // by hash
}

// storedToken and storedWebhook remember when their user or chat was
// created: one deleted and created again under the same ID does not get
// them back.
type storedToken struct {
	t           chatr.APIToken
	userCreated time.Time
}

type storedWebhook struct {
	w           chatr.Webhook
	chatCreated time.Time
}

func (s *Store) integrations() *integrations {
	t, _ := integrationTables.LoadOrStore(s, &integrations{tokens: map[string]storedToken{}, webhooks: map[string]storedWebhook{}})
	return t.(*integrations)
}

// liveToken and liveWebhook report whether the owner still exists; the
// caller holds s.mu.
func (s *Store) liveToken(st storedToken) bool {
	u, ok := s.users[st.t.UserID]
	return ok && u.Created.Equal(st.userCreated)
}

func (s *Store) liveWebhook(sw storedWebhook) bool {
	c, ok := s.chats[sw.w.ChatID]
	return ok && c.Created.Equal(sw.chatCreated)
}

func (s *Store) CreateAPIToken(_ context.Context, t chatr.APIToken) error {
	t, err := chatr.CheckAPIToken(t)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.integrations()
	u, ok := s.users[t.UserID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	for h, old := range in.tokens {
		if s.liveToken(old) && (h == t.Hash || old.t.ID == t.ID) {
			return chatr.Errorf(chatr.ECONFLICT, "token exists")
		}
	}
	t.Created, t.LastUsed, t.Revoked = now(t.Created), time.Time{}, false
	in.tokens[t.Hash] = storedToken{t: t, userCreated: u.Created}
	return nil
}

func (s *Store) GetAPIToken(_ context.Context, hash string) (chatr.APIToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.integrations().tokens[hash]
	if !ok || !s.liveToken(st) {
		return chatr.APIToken{}, chatr.Errorf(chatr.ENOTFOUND, "no such token")
	}
	return cloneToken(st.t), nil
}

func cloneToken(t chatr.APIToken) chatr.APIToken {
	t.Chats = slices.Clone(t.Chats)
	return t
}

func (s *Store) ListAPITokens(_ context.Context, userID string) ([]chatr.APIToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []chatr.APIToken
	for _, st := range s.integrations().tokens {
		if st.t.UserID == userID && s.liveToken(st) {
			out = append(out, cloneToken(st.t))
		}
	}
	slices.SortFunc(out, func(a, b chatr.APIToken) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// token finds a live token by ID; the caller holds s.mu.
func (s *Store) token(id string) (string, storedToken, bool) {
	for h, st := range s.integrations().tokens {
		if st.t.ID == id && s.liveToken(st) {
			return h, st, true
		}
	}
	return "", storedToken{}, false
}

func (s *Store) RevokeAPIToken(_ context.Context, userID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, st, ok := s.token(id)
	if !ok || st.t.UserID != userID {
		return chatr.Errorf(chatr.ENOTFOUND, "no such token")
	}
	st.t.Revoked = true
	s.integrations().tokens[h] = st
	return nil
}

func (s *Store) TouchAPIToken(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, st, ok := s.token(id)
	if !ok {
		return nil
	}
	at = now(at).Truncate(time.Millisecond)
	if at.After(st.t.LastUsed) {
		st.t.LastUsed = at
		s.integrations().tokens[h] = st
	}
	return nil
}

func (s *Store) CreateWebhook(_ context.Context, w chatr.Webhook) error {
	if err := chatr.CheckWebhook(w); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.integrations()
	for h, old := range in.webhooks {
		if s.liveWebhook(old) && (h == w.Hash || old.w.ID == w.ID) {
			return chatr.Errorf(chatr.ECONFLICT, "webhook exists")
		}
	}
	c, ok := s.chats[w.ChatID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	w.Created, w.Revoked = now(w.Created), false
	in.webhooks[w.Hash] = storedWebhook{w: w, chatCreated: c.Created}
	return nil
}

func (s *Store) GetWebhook(_ context.Context, hash string) (chatr.Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sw, ok := s.integrations().webhooks[hash]
	if !ok || !s.liveWebhook(sw) {
		return chatr.Webhook{}, chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	}
	return sw.w, nil
}

func (s *Store) ListWebhooks(_ context.Context, chatID string) ([]chatr.Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []chatr.Webhook
	for _, sw := range s.integrations().webhooks {
		if sw.w.ChatID == chatID && s.liveWebhook(sw) {
			out = append(out, sw.w)
		}
	}
	slices.SortFunc(out, func(a, b chatr.Webhook) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *Store) RevokeWebhook(_ context.Context, chatID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.integrations()
	for h, sw := range in.webhooks {
		if sw.w.ID == id && sw.w.ChatID == chatID && s.liveWebhook(sw) {
			sw.w.Revoked = true
			in.webhooks[h] = sw
			return nil
		}
	}
	return chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
}
