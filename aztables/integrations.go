package aztables

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// API tokens and incoming webhooks on Table Storage, keyed by the hash of
// their secret (the lookup every request makes):
//
//   - tokens: in the users table under their own partition (user listings
//     filter on theirs); each row remembers when its user was created, so
//     that the rows of a deleted user, or one created again, count as
//     gone.
//   - webhooks: in the chats table under their own partition, remembering
//     when their chat was created, as file rows do.
//
// Lookups by ID, user or chat scan the partition, which suits the
// deployments Table Storage serves. A taken ID is found by such a scan
// before the insert; IDs are random, so two inserts racing for one do not
// happen in practice (a taken hash is refused by the service).
const (
	tokensPartition   = "chatrtokens"
	webhooksPartition = "chatrwebhooks"
)

var _ chatr.IntegrationStore = (*Store)(nil)

func tokenEntity(t chatr.APIToken, userCreated time.Time) map[string]any {
	chats, _ := json.Marshal(t.Chats)
	e := map[string]any{"PartitionKey": tokensPartition, "RowKey": key(t.Hash), "ID": t.ID, "UserID": t.UserID,
		"Name": t.Name, "Scope": t.Scope, "Chats": string(chats), "Revoked": t.Revoked}
	setTime(e, "Created", t.Created)
	setTime(e, "UserCreated", userCreated)
	return e
}

func tokenOf(e entity) chatr.APIToken {
	t := chatr.APIToken{ID: e.str("ID"), UserID: e.str("UserID"), Name: e.str("Name"), Hash: unkey(e.str("RowKey")),
		Scope: e.str("Scope"), Created: e.time("Created"), Revoked: e.boolean("Revoked")}
	_ = json.Unmarshal([]byte(e.str("Chats")), &t.Chats)
	if e.str("LastUsed") != "" {
		t.LastUsed = e.time("LastUsed")
	}
	return t
}

// liveTokens keeps the rows whose user still exists as it was when the
// token was made, looking each user up once.
func (s *Store) liveTokens(ctx context.Context, es []entity) ([]entity, error) {
	created := map[string]time.Time{} // zero: no such user
	var out []entity
	for _, e := range es {
		id := e.str("UserID")
		c, seen := created[id]
		if !seen {
			u, err := s.GetUser(ctx, id)
			if err != nil && chatr.ErrorCode(err) != chatr.ENOTFOUND {
				return nil, err
			}
			c, created[id] = u.Created, u.Created
		}
		if !c.IsZero() && c.Equal(e.time("UserCreated")) {
			out = append(out, e)
		}
	}
	return out, nil
}

// liveWebhooks keeps the rows whose chat still exists as it was.
func (s *Store) liveWebhooks(ctx context.Context, es []entity) ([]entity, error) {
	l := s.liveness()
	var out []entity
	for _, e := range es {
		if ok, err := l.live(ctx, e); err != nil {
			return nil, err
		} else if ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// scan lists a partition's live rows that match filter (an OData filter
// on top of the partition's, or "").
func (s *Store) scan(ctx context.Context, t *aztables.Client, partitionKey, filter string) ([]entity, error) {
	f := "PartitionKey eq " + quote(partitionKey)
	if filter != "" {
		f += " and " + filter
	}
	es, err := list(ctx, t, f, "", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: list %s: %w", partitionKey, err)
	}
	if partitionKey == tokensPartition {
		return s.liveTokens(ctx, es)
	}
	return s.liveWebhooks(ctx, es)
}

// addOrReplaceDead adds a row keyed by a hash; a row of that hash left by a
// deleted owner is replaced, a live one is ECONFLICT.
func (s *Store) addOrReplaceDead(ctx context.Context, t *aztables.Client, partitionKey, hash string, body []byte) error {
	_, err := t.AddEntity(ctx, body, nil)
	if !conflict(err) {
		if err != nil {
			return fmt.Errorf("aztables: add %s: %w", partitionKey, err)
		}
		return nil
	}
	r, err := t.GetEntity(ctx, partitionKey, key(hash), nil)
	if err != nil {
		return fmt.Errorf("aztables: add %s: %w", partitionKey, err)
	}
	old, err := decode(r.Value)
	if err != nil {
		return err
	}
	live, err := s.scanOne(ctx, partitionKey, old)
	if err != nil {
		return err
	} else if live {
		return chatr.Errorf(chatr.ECONFLICT, "the hash exists")
	}
	_, err = t.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: &r.ETag, UpdateMode: aztables.UpdateModeReplace})
	if stale(err) {
		return chatr.Errorf(chatr.ECONFLICT, "the hash exists")
	} else if err != nil {
		return fmt.Errorf("aztables: add %s: %w", partitionKey, err)
	}
	return nil
}

// scanOne reports whether one row of the partition is live.
func (s *Store) scanOne(ctx context.Context, partitionKey string, e entity) (bool, error) {
	var live []entity
	var err error
	if partitionKey == tokensPartition {
		live, err = s.liveTokens(ctx, []entity{e})
	} else {
		live, err = s.liveWebhooks(ctx, []entity{e})
	}
	return len(live) == 1, err
}

// getByHash returns the live row of that hash with its ETag.
func (s *Store) getByHash(ctx context.Context, t *aztables.Client, partitionKey, hash string) (entity, azcore.ETag, error) {
	if hash == "" || !textOK(hash) {
		return nil, "", chatr.Errorf(chatr.ENOTFOUND, "not found")
	}
	r, err := t.GetEntity(ctx, partitionKey, key(hash), nil)
	if notFound(err) {
		return nil, "", chatr.Errorf(chatr.ENOTFOUND, "not found")
	} else if err != nil {
		return nil, "", fmt.Errorf("aztables: get %s: %w", partitionKey, err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return nil, "", err
	}
	if live, err := s.scanOne(ctx, partitionKey, e); err != nil {
		return nil, "", err
	} else if !live {
		return nil, "", chatr.Errorf(chatr.ENOTFOUND, "not found")
	}
	return e, r.ETag, nil
}

func (s *Store) CreateAPIToken(ctx context.Context, t chatr.APIToken) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	t, err := chatr.CheckAPIToken(t)
	if err != nil {
		return err
	}
	u, err := s.GetUser(ctx, t.UserID)
	if err != nil {
		return err
	}
	if same, err := s.scan(ctx, s.users, tokensPartition, "ID eq "+quote(t.ID)); err != nil {
		return err
	} else if len(same) > 0 {
		return chatr.Errorf(chatr.ECONFLICT, "token exists")
	}
	t.Created, t.LastUsed, t.Revoked = when(orNow(t.Created)), time.Time{}, false
	return s.addOrReplaceDead(ctx, s.users, tokensPartition, t.Hash, marshal(tokenEntity(t, u.Created)))
}

func (s *Store) GetAPIToken(ctx context.Context, hash string) (chatr.APIToken, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	e, _, err := s.getByHash(ctx, s.users, tokensPartition, hash)
	if err != nil {
		return chatr.APIToken{}, err
	}
	return tokenOf(e), nil
}

func (s *Store) ListAPITokens(ctx context.Context, userID string) ([]chatr.APIToken, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	es, err := s.scan(ctx, s.users, tokensPartition, "UserID eq "+quote(userID))
	if err != nil {
		return nil, err
	}
	var out []chatr.APIToken
	for _, e := range es {
		out = append(out, tokenOf(e))
	}
	slices.SortFunc(out, func(a, b chatr.APIToken) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// updateToken applies change to the live token of that ID (and user, when
// userID is not ""), retrying on concurrent writes; change reports whether
// there is anything to write.
func (s *Store) updateToken(ctx context.Context, id, userID string, change func(e map[string]any, t chatr.APIToken) bool) error {
	filter := "ID eq " + quote(id)
	if userID != "" {
		filter += " and UserID eq " + quote(userID)
	}
	for range maxRetries {
		es, err := s.scan(ctx, s.users, tokensPartition, filter)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return chatr.Errorf(chatr.ENOTFOUND, "no such token")
		}
		t := tokenOf(es[0])
		e, etag, err := s.getByHash(ctx, s.users, tokensPartition, t.Hash)
		if err != nil {
			return err
		}
		upd := map[string]any{"PartitionKey": tokensPartition, "RowKey": key(t.Hash)}
		if !change(upd, tokenOf(e)) {
			return nil
		}
		_, err = s.users.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeMerge})
		if stale(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("aztables: update token: %w", err)
		}
		return nil
	}
	return fmt.Errorf("aztables: update token: too much contention")
}

func (s *Store) RevokeAPIToken(ctx context.Context, userID, id string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	return s.updateToken(ctx, id, userID, func(e map[string]any, t chatr.APIToken) bool {
		e["Revoked"] = true
		return !t.Revoked
	})
}

func (s *Store) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	at = when(orNow(at))
	err := s.updateToken(ctx, id, "", func(e map[string]any, t chatr.APIToken) bool {
		setTime(e, "LastUsed", at)
		return at.After(t.LastUsed)
	})
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return nil
	}
	return err
}

func webhookEntity(w chatr.Webhook, chatCreated time.Time) map[string]any {
	e := map[string]any{"PartitionKey": webhooksPartition, "RowKey": key(w.Hash), "ID": w.ID, "ChatID": w.ChatID,
		"Name": w.Name, "CreatedBy": w.CreatedBy, "Revoked": w.Revoked}
	setTime(e, "Created", w.Created)
	setTime(e, "ChatCreated", chatCreated)
	return e
}

func webhookOf(e entity) chatr.Webhook {
	return chatr.Webhook{ID: e.str("ID"), ChatID: e.str("ChatID"), Name: e.str("Name"), CreatedBy: e.str("CreatedBy"),
		Hash: unkey(e.str("RowKey")), Created: e.time("Created"), Revoked: e.boolean("Revoked")}
}

func (s *Store) CreateWebhook(ctx context.Context, w chatr.Webhook) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if err := chatr.CheckWebhook(w); err != nil {
		return err
	}
	if same, err := s.scan(ctx, s.chats, webhooksPartition, "ID eq "+quote(w.ID)); err != nil {
		return err
	} else if len(same) > 0 {
		return chatr.Errorf(chatr.ECONFLICT, "webhook exists")
	}
	c, err := s.getChat(ctx, w.ChatID)
	if err != nil {
		return err
	}
	w.Created, w.Revoked = when(orNow(w.Created)), false
	return s.addOrReplaceDead(ctx, s.chats, webhooksPartition, w.Hash, marshal(webhookEntity(w, c.chat.Created)))
}

func (s *Store) GetWebhook(ctx context.Context, hash string) (chatr.Webhook, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	e, _, err := s.getByHash(ctx, s.chats, webhooksPartition, hash)
	if err != nil {
		return chatr.Webhook{}, err
	}
	return webhookOf(e), nil
}

func (s *Store) ListWebhooks(ctx context.Context, chatID string) ([]chatr.Webhook, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	es, err := s.scan(ctx, s.chats, webhooksPartition, "ChatID eq "+quote(chatID))
	if err != nil {
		return nil, err
	}
	var out []chatr.Webhook
	for _, e := range es {
		out = append(out, webhookOf(e))
	}
	slices.SortFunc(out, func(a, b chatr.Webhook) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *Store) RevokeWebhook(ctx context.Context, chatID, id string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	es, err := s.scan(ctx, s.chats, webhooksPartition, "ID eq "+quote(id)+" and ChatID eq "+quote(chatID))
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	}
	upd := map[string]any{"PartitionKey": webhooksPartition, "RowKey": es[0].str("RowKey"), "Revoked": true}
	if _, err := s.chats.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge}); err != nil {
		return fmt.Errorf("aztables: revoke webhook: %w", err)
	}
	return nil
}
