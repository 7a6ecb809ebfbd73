// Package aztables is a chatr.Store on Azure Table Storage (or Azurite, or
// any service that speaks its API), through the Azure SDK for Go.
//
// It reads and writes the tables of the original Chatr as they are, so that
// Chatr can take over an existing deployment's data or share it:
//
//   - chats: PartitionKey "chatr", RowKey the chat id, and a "data" column
//     holding the JSON {id, name, members: {userId: {userId, userName}}, owner}.
//   - users: PartitionKey "chatr", RowKey the user id, and the columns
//     userName, userProvider and idle.
//
// What the original did not keep goes into extra columns that the original
// ignores (created, private and joined on chats; lastSeen and created on
// users; when missing, the entity's Timestamp stands in) and into tables of
// its own:
//
//   - chatrsessions: PartitionKey "chatr", RowKey the session's token hash.
//   - chatrmessages: PartitionKey the chat id, RowKey the message id as 19
//     digits, and one row "~counter" per chat holding the last id given. A
//     batch of messages and the counter's new value are written in one
//     entity group transaction guarded by the counter's ETag, so ids are
//     unique and increasing even with several Chatr nodes writing. Rows
//     "~key~<sender>~<clientId>" keep message idempotency keys (see
//     AddMessage).
//   - chatrreadmarkers: PartitionKey the user id, RowKey the chat id.
//
// Keys that contain characters Table Storage forbids in keys (/ \ # ? and
// control characters) are stored with those characters (and %) escaped as %XX.
//
// Open takes the storage account's connection string; an optional
// "TablePrefix=<letters and digits>" pair in it (removed before it reaches
// the SDK) puts every table name behind that prefix, for tests or several
// Chatr instances in one account.
package aztables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// Table names and keys.
const (
	partition     = "chatr"    // the original's single partition of chats and users
	counterRow    = "~counter" // sorts after every message row
	idDigits      = 19
	maxBatch      = 99      // messages per transaction (the service allows 100 operations)
	maxBatchBytes = 3 << 20 // a transaction's payload stays below the service's 4 MiB
	maxRetries    = 50      // optimistic-concurrency retries before giving up
	// textChunk bounds one string column in runes: the service allows 32K
	// UTF-16 code units per string, and a rune takes at most two.
	textChunk = 15000
)

var tablePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,30}$`)

// IsConnectionString reports whether db names a Table Storage account: an
// "aztables:" prefix, or a connection string with a table endpoint or an
// account name.
func IsConnectionString(db string) bool {
	if strings.HasPrefix(db, "aztables:") {
		return true
	}
	l := strings.ToLower(db)
	return strings.Contains(l, ";") && (strings.Contains(l, "tableendpoint=") || strings.Contains(l, "accountname="))
}

// Store is a chatr.Store on Table Storage.
type Store struct {
	svc                                      *aztables.ServiceClient
	chats, users, sessions, messages, marker *aztables.Client
	handles, names, invites, modLog          *aztables.Client // rooms.go
	outgoing                                 *aztables.Client // outgoing.go

	mu     sync.Mutex
	queues map[string]*chatQueue // AddMessage group commit, per chat
	// submit runs a transaction on the messages table (a seam for tests
	// that make the service fail).
	submit  func(ctx context.Context, actions []aztables.TransactionAction) error
	wg      sync.WaitGroup // chat writers running
	pending int            // messages queued, on all chats
	closed  bool
}

var _ chatr.Store = (*Store)(nil)

// Open connects with the connection string (see the package doc) and
// creates the tables that do not exist yet.
func Open(ctx context.Context, connStr string) (*Store, error) {
	connStr = strings.TrimPrefix(connStr, "aztables:")
	prefix := ""
	var parts []string
	for _, p := range strings.Split(connStr, ";") {
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "TablePrefix") {
			prefix = strings.TrimSpace(v)
			continue
		}
		parts = append(parts, p)
	}
	if prefix != "" && !tablePrefix.MatchString(prefix) {
		return nil, fmt.Errorf("aztables: TablePrefix %q: use a letter, then letters and digits", prefix)
	}
	svc, err := aztables.NewServiceClientFromConnectionString(strings.Join(parts, ";"), nil)
	if err != nil {
		return nil, fmt.Errorf("aztables: %w", err)
	}
	s := &Store{svc: svc, queues: map[string]*chatQueue{}}
	for _, t := range []struct {
		c    **aztables.Client
		name string
	}{
		{&s.chats, "chats"}, {&s.users, "users"}, {&s.sessions, "chatrsessions"},
		{&s.messages, "chatrmessages"}, {&s.marker, "chatrreadmarkers"},
		{&s.handles, "chatrhandles"}, {&s.names, "chatrnames"}, {&s.invites, "chatrinvites"}, {&s.modLog, "chatrmodlog"},
		{&s.outgoing, "chatroutgoing"},
	} {
		name := prefix + t.name
		if _, err := svc.CreateTable(ctx, name, nil); err != nil && !hasCode(err, string(aztables.TableAlreadyExists)) && status(err) != http.StatusConflict {
			return nil, fmt.Errorf("aztables: create table %s: %w", name, err)
		}
		*t.c = svc.NewClient(name)
	}
	s.submit = func(ctx context.Context, actions []aztables.TransactionAction) error {
		_, err := s.messages.SubmitTransaction(ctx, actions, nil)
		return err
	}
	if err := s.backfill(ctx); err != nil {
		return nil, fmt.Errorf("aztables: backfill: %w", err)
	}
	return s, nil
}

// --- errors

func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func hasCode(err error, code string) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.ErrorCode == code
}

func notFound(err error) bool { return status(err) == http.StatusNotFound }
func conflict(err error) bool { return status(err) == http.StatusConflict }
func stale(err error) bool    { return status(err) == http.StatusPreconditionFailed }

// --- keys and values

// key escapes the characters Table Storage forbids in keys (and %).
func key(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '/' || r == '\\' || r == '#' || r == '?' || r == '%' || r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			fmt.Fprintf(&b, "%%%02X", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unkey reverses key.
func unkey(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteRune(rune(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// textOK reports whether every string is valid UTF-8 without NUL bytes, as
// the contract requires of stored text.
func textOK(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

func errText() error {
	return chatr.Errorf(chatr.EINVALID, "text must be valid UTF-8 without NUL bytes")
}

// quote makes an OData string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func rowID(id int64) string { return fmt.Sprintf("%0*d", idDigits, id) }

// when is a time as stored: UTC, millisecond precision.
func when(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func setTime(e map[string]any, name string, t time.Time) {
	e[name] = when(t).Format("2006-01-02T15:04:05.000Z")
	e[name+"@odata.type"] = "Edm.DateTime"
}

func setInt64(e map[string]any, name string, v int64) {
	e[name] = strconv.FormatInt(v, 10)
	e[name+"@odata.type"] = "Edm.Int64"
}

// entity is a decoded entity: its JSON properties, whatever their types.
type entity map[string]json.RawMessage

func decode(b []byte) (entity, error) {
	var e entity
	err := json.Unmarshal(b, &e)
	return e, err
}

func (e entity) str(name string) string {
	var s string
	json.Unmarshal(e[name], &s)
	return s
}

func (e entity) boolean(name string) bool {
	var v bool
	if json.Unmarshal(e[name], &v) != nil {
		var s string // a loosely typed writer may store "true"
		json.Unmarshal(e[name], &s)
		v = strings.EqualFold(s, "true")
	}
	return v
}

func (e entity) int64v(name string) int64 {
	raw := e[name]
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var s string
	json.Unmarshal(raw, &s)
	n, _ = strconv.ParseInt(s, 10, 64)
	return n
}

// time returns a DateTime column, or the entity's Timestamp when it is missing.
func (e entity) time(name string) time.Time {
	for _, n := range []string{name, "Timestamp"} {
		if s := e.str(n); s != "" {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return when(t)
			}
		}
	}
	return time.Time{}
}

func marshal(e map[string]any) []byte {
	b, _ := json.Marshal(e) // maps of strings, bools and numbers always marshal
	return b
}

// list returns every entity of t that matches filter.
func list(ctx context.Context, t *aztables.Client, filter, sel string, top int32) ([]entity, error) {
	opts := &aztables.ListEntitiesOptions{}
	if filter != "" {
		opts.Filter = &filter
	}
	if sel != "" {
		opts.Select = &sel
	}
	if top > 0 {
		opts.Top = &top
	}
	var out []entity
	p := t.NewListEntitiesPager(opts)
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range page.Entities {
			e, err := decode(b)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		if top > 0 && int32(len(out)) >= top {
			break
		}
	}
	return out, nil
}

// --- users

// UpsertUser creates the user or updates name and provider, keeping idle,
// lastSeen and created.
func (s *Store) UpsertUser(ctx context.Context, u chatr.User) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if u.ID == "" {
		return chatr.Errorf(chatr.EINVALID, "user id is empty")
	}
	if !textOK(u.ID, u.Name, u.Provider) {
		return errText()
	}
	return s.upsertUser(ctx, u)
}

func userOf(e entity) chatr.User {
	u := chatr.User{
		ID: unkey(e.str("RowKey")), Name: e.str("userName"), Provider: e.str("userProvider"),
		Idle: e.boolean("idle"), Created: e.time("created"),
		Handle: e.str("handle"), Banned: e.boolean("banned"),
	}
	if u.Banned {
		u.BannedBy, u.BannedAt = e.str("bannedBy"), e.time("bannedAt")
	}
	if e.str("lastSeen") != "" {
		u.LastSeen = e.time("lastSeen")
	}
	if e.str("tokensRevoked") != "" {
		u.TokensRevoked = e.time("tokensRevoked")
	}
	return u
}

func (s *Store) GetUser(ctx context.Context, id string) (chatr.User, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !textOK(id) {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	r, err := s.users.GetEntity(ctx, partition, key(id), nil)
	if notFound(err) {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no user %s", id)
	}
	if err != nil {
		return chatr.User{}, fmt.Errorf("aztables: get user: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return chatr.User{}, err
	}
	return userOf(e), nil
}

func (s *Store) ListUsers(ctx context.Context) ([]chatr.User, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	es, err := list(ctx, s.users, "PartitionKey eq "+quote(partition), "", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: list users: %w", err)
	}
	users := make([]chatr.User, 0, len(es))
	for _, e := range es {
		users = append(users, userOf(e))
	}
	sort.Slice(users, func(i, j int) bool { return users[i].ID < users[j].ID })
	return users, nil
}

func (s *Store) SetIdle(ctx context.Context, userID string, idle bool, at time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !textOK(userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	e := map[string]any{"PartitionKey": partition, "RowKey": key(userID), "idle": idle}
	setTime(e, "lastSeen", at)
	_, err := s.users.UpdateEntity(ctx, marshal(e), &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge})
	if notFound(err) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %s", userID)
	}
	if err != nil {
		return fmt.Errorf("aztables: set idle: %w", err)
	}
	return nil
}

// RevokeTokens moves the user's tokensRevoked column forward to before,
// guarded by the entity's ETag so that a concurrent revocation or update is
// never overwritten with an earlier moment.
func (s *Store) RevokeTokens(ctx context.Context, userID string, before time.Time) error {
	if !textOK(userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	for range maxRetries {
		r, err := s.users.GetEntity(ctx, partition, key(userID), nil)
		if notFound(err) {
			return chatr.Errorf(chatr.ENOTFOUND, "no user %s", userID)
		}
		if err != nil {
			return fmt.Errorf("aztables: revoke tokens: %w", err)
		}
		e, err := decode(r.Value)
		if err != nil {
			return fmt.Errorf("aztables: revoke tokens: %w", err)
		}
		if !when(before).After(userOf(e).TokensRevoked) {
			return nil
		}
		upd := map[string]any{"PartitionKey": partition, "RowKey": key(userID)}
		setTime(upd, "tokensRevoked", before)
		_, err = s.users.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge, IfMatch: &r.ETag})
		if err == nil {
			return nil
		}
		if !stale(err) && !notFound(err) {
			return fmt.Errorf("aztables: revoke tokens: %w", err)
		}
	}
	return errors.New("aztables: revoke tokens: too much contention")
}

// --- sessions

func (s *Store) CreateSession(ctx context.Context, ss chatr.Session) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if ss.TokenHash == "" {
		return chatr.Errorf(chatr.EINVALID, "session hash is empty")
	}
	if !textOK(ss.TokenHash, ss.UserID) {
		return errText()
	}
	e := map[string]any{"PartitionKey": partition, "RowKey": key(ss.TokenHash), "userId": ss.UserID}
	created := ss.Created
	if created.IsZero() {
		created = time.Now()
	}
	setTime(e, "created", created)
	setTime(e, "expires", ss.Expires)
	_, err := s.sessions.AddEntity(ctx, marshal(e), nil)
	if conflict(err) {
		return chatr.Errorf(chatr.ECONFLICT, "session exists")
	}
	if err != nil {
		return fmt.Errorf("aztables: add session: %w", err)
	}
	return nil
}

func sessionOf(e entity) chatr.Session {
	return chatr.Session{TokenHash: unkey(e.str("RowKey")), UserID: e.str("userId"), Created: e.time("created"), Expires: e.time("expires")}
}

func (s *Store) GetSession(ctx context.Context, tokenHash string, now time.Time) (chatr.Session, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !textOK(tokenHash) {
		return chatr.Session{}, chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	r, err := s.sessions.GetEntity(ctx, partition, key(tokenHash), nil)
	if notFound(err) {
		return chatr.Session{}, chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	if err != nil {
		return chatr.Session{}, fmt.Errorf("aztables: get session: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return chatr.Session{}, err
	}
	ss := sessionOf(e)
	if !now.Before(ss.Expires) {
		return chatr.Session{}, chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	return ss, nil
}

func (s *Store) ExtendSession(ctx context.Context, tokenHash string, expires time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !textOK(tokenHash) {
		return chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	e := map[string]any{"PartitionKey": partition, "RowKey": key(tokenHash)}
	setTime(e, "expires", expires)
	_, err := s.sessions.UpdateEntity(ctx, marshal(e), &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge})
	if notFound(err) {
		return chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	if err != nil {
		return fmt.Errorf("aztables: extend session: %w", err)
	}
	return nil
}

func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	_, err := s.sessions.DeleteEntity(ctx, partition, key(tokenHash), nil)
	if err != nil && !notFound(err) {
		return fmt.Errorf("aztables: delete session: %w", err)
	}
	return nil
}

// deleteSessions deletes the sessions that match filter and keep.
func (s *Store) deleteSessions(ctx context.Context, filter string, keep func(entity) bool) (int, error) {
	es, err := list(ctx, s.sessions, filter, "RowKey,userId,expires", 0)
	if err != nil {
		return 0, fmt.Errorf("aztables: list sessions: %w", err)
	}
	n := 0
	for _, e := range es {
		if keep != nil && keep(e) {
			continue
		}
		if _, err := s.sessions.DeleteEntity(ctx, partition, e.str("RowKey"), nil); err != nil && !notFound(err) {
			return n, fmt.Errorf("aztables: delete session: %w", err)
		}
		n++
	}
	return n, nil
}

func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	_, err := s.deleteSessions(ctx, "PartitionKey eq "+quote(partition)+" and userId eq "+quote(userID), nil)
	return err
}

func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	return s.deleteSessions(ctx, "PartitionKey eq "+quote(partition), func(e entity) bool { return now.Before(e.time("expires")) })
}

// --- chats

// chatData is the original's JSON in the chats table's data column.
type chatData struct {
	ID      string                `json:"id"`
	Name    string                `json:"name"`
	Members map[string]memberData `json:"members"`
	Owner   string                `json:"owner"`
}

type memberData struct {
	UserID   string `json:"userId"`
	UserName string `json:"userName"`
}

// chatRow is a decoded chats entity.
type chatRow struct {
	chat   chatr.Chat
	data   chatData
	joined map[string]time.Time
	roles  map[string]string // moderators (the owner is data.Owner)
	etag   azcore.ETag
}

func chatOf(e entity) (*chatRow, error) {
	c := &chatRow{}
	if err := json.Unmarshal([]byte(e.str("data")), &c.data); err != nil {
		return nil, fmt.Errorf("aztables: chat %s: bad data column: %w", e.str("RowKey"), err)
	}
	id := unkey(e.str("RowKey"))
	c.chat = chatr.Chat{ID: id, Name: c.data.Name, Owner: c.data.Owner, Created: e.time("created"),
		Topic: e.str("topic"), Visibility: e.str("visibility"), InvitePolicy: e.str("invitePolicy")}
	if _, ok := e["private"]; ok {
		c.chat.Private = e.boolean("private")
	} else {
		c.chat.Private = strings.HasPrefix(id, "private_")
	}
	c.joined = map[string]time.Time{}
	var joined map[string]string
	json.Unmarshal([]byte(e.str("joined")), &joined)
	for uid, s := range joined {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			c.joined[uid] = when(t)
		}
	}
	if c.data.Members == nil {
		c.data.Members = map[string]memberData{}
	}
	c.readRooms(e)
	return c, nil
}

func (c *chatRow) entity() map[string]any {
	data, _ := json.Marshal(c.data)
	joined := map[string]string{}
	for uid, t := range c.joined {
		joined[uid] = when(t).Format(time.RFC3339Nano)
	}
	jb, _ := json.Marshal(joined)
	e := map[string]any{"PartitionKey": partition, "RowKey": key(c.chat.ID), "data": string(data), "private": c.chat.Private, "joined": string(jb)}
	setTime(e, "created", c.chat.Created)
	c.writeRooms(e)
	return e
}

func (s *Store) getChat(ctx context.Context, id string) (*chatRow, error) {
	if !textOK(id) {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	r, err := s.chats.GetEntity(ctx, partition, key(id), nil)
	if notFound(err) {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("aztables: get chat: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return nil, err
	}
	c, err := chatOf(e)
	if err != nil {
		return nil, err
	}
	c.etag = r.ETag
	return c, nil
}

func (s *Store) CreateChat(ctx context.Context, c chatr.Chat) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if c.ID == "" || c.Name == "" {
		return chatr.Errorf(chatr.EINVALID, "chat id and name are required")
	}
	if !textOK(c.ID, c.Name, c.Owner, c.Topic) {
		return errText()
	}
	if err := chatr.CheckChatSettings(&c); err != nil {
		return err
	}
	if c.Created.IsZero() {
		c.Created = time.Now()
	}
	if err := s.claimName(ctx, c); err != nil {
		return err
	}
	row := &chatRow{chat: c, data: chatData{ID: c.ID, Name: c.Name, Owner: c.Owner, Members: map[string]memberData{}}, joined: map[string]time.Time{}}
	_, err := s.chats.AddEntity(ctx, marshal(row.entity()), nil)
	if err != nil {
		s.releaseName(ctx, c)
	}
	if conflict(err) {
		return chatr.Errorf(chatr.ECONFLICT, "chat %s exists", c.ID)
	}
	if err != nil {
		return fmt.Errorf("aztables: add chat: %w", err)
	}
	return nil
}

func (s *Store) GetChat(ctx context.Context, id string) (chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	c, err := s.getChat(ctx, id)
	if err != nil {
		return chatr.Chat{}, err
	}
	return c.chat, nil
}

func (s *Store) allChats(ctx context.Context) ([]*chatRow, error) {
	es, err := list(ctx, s.chats, "PartitionKey eq "+quote(partition), "", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: list chats: %w", err)
	}
	rows := make([]*chatRow, 0, len(es))
	for _, e := range es {
		c, err := chatOf(e)
		if err != nil {
			return nil, err
		}
		rows = append(rows, c)
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i].chat, rows[j].chat
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ID < b.ID
	})
	return rows, nil
}

func (s *Store) ListGroupChats(ctx context.Context) ([]chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, err := s.allChats(ctx)
	if err != nil {
		return nil, err
	}
	chats := []chatr.Chat{}
	for _, c := range rows {
		if c.chat.IsPublic() {
			chats = append(chats, c.chat)
		}
	}
	return chats, nil
}

func (s *Store) ListUserChats(ctx context.Context, userID string) ([]chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, err := s.allChats(ctx)
	if err != nil {
		return nil, err
	}
	chats := []chatr.Chat{}
	for _, c := range rows {
		if _, ok := c.data.Members[userID]; ok {
			chats = append(chats, c.chat)
		}
	}
	if err := s.fillLastMessageAt(ctx, chats); err != nil {
		return nil, err
	}
	return chats, nil
}

// DeleteChat deletes the chat, then its messages and read markers.
func (s *Store) DeleteChat(ctx context.Context, id string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !textOK(id) {
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	c, err := s.getChat(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.chats.DeleteEntity(ctx, partition, key(id), nil)
	if notFound(err) {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %s", id)
	}
	if err != nil {
		return fmt.Errorf("aztables: delete chat: %w", err)
	}
	if err := s.deleteChatRooms(ctx, c.chat); err != nil {
		return err
	}
	ck := key(id)
	rows, err := list(ctx, s.messages, "PartitionKey eq "+quote(ck), "RowKey", 0)
	if err != nil {
		return fmt.Errorf("aztables: list messages: %w", err)
	}
	for len(rows) > 0 {
		n := min(len(rows), 100)
		actions := make([]aztables.TransactionAction, 0, n)
		for _, e := range rows[:n] {
			actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete,
				Entity: marshal(map[string]any{"PartitionKey": ck, "RowKey": e.str("RowKey")})})
		}
		if _, err := s.messages.SubmitTransaction(ctx, actions, nil); err != nil {
			return fmt.Errorf("aztables: delete messages: %w", err)
		}
		rows = rows[n:]
	}
	markers, err := list(ctx, s.marker, "RowKey eq "+quote(ck), "PartitionKey,RowKey", 0)
	if err != nil {
		return fmt.Errorf("aztables: list read markers: %w", err)
	}
	for _, e := range markers {
		if _, err := s.marker.DeleteEntity(ctx, e.str("PartitionKey"), ck, nil); err != nil && !notFound(err) {
			return fmt.Errorf("aztables: delete read marker: %w", err)
		}
	}
	return nil
}

// --- members

// updateChat applies change to the chat with optimistic concurrency; change
// returns false when there is nothing to write.
func (s *Store) updateChat(ctx context.Context, id string, change func(c *chatRow) bool) error {
	for range maxRetries {
		c, err := s.getChat(ctx, id)
		if err != nil {
			return err
		}
		if !change(c) {
			return nil
		}
		_, err = s.chats.UpdateEntity(ctx, marshal(c.entity()), &aztables.UpdateEntityOptions{IfMatch: &c.etag, UpdateMode: aztables.UpdateModeReplace})
		if err == nil {
			return nil
		}
		if notFound(err) {
			return chatr.Errorf(chatr.ENOTFOUND, "no chat %s", id)
		}
		if !stale(err) {
			return fmt.Errorf("aztables: update chat: %w", err)
		}
	}
	return errors.New("aztables: update chat: too much contention")
}

func (s *Store) AddMember(ctx context.Context, chatID string, m chatr.Member) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !textOK(m.UserID, m.UserName) {
		return errText()
	}
	if m.Role != "" && !chatr.ValidRole(m.Role) {
		return chatr.Errorf(chatr.EINVALID, "unknown role %q", m.Role)
	}
	if m.Joined.IsZero() {
		m.Joined = time.Now()
	}
	return s.updateChat(ctx, chatID, func(c *chatRow) bool { return c.addMember(m) })
}

func (s *Store) RemoveMember(ctx context.Context, chatID, userID string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	err := s.updateChat(ctx, chatID, func(c *chatRow) bool {
		if _, ok := c.data.Members[userID]; !ok {
			return false
		}
		delete(c.data.Members, userID)
		delete(c.joined, userID)
		return true
	})
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return nil
	}
	return err
}

func (s *Store) ListMembers(ctx context.Context, chatID string) ([]chatr.Member, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	c, err := s.getChat(ctx, chatID)
	if err != nil {
		return nil, err
	}
	members := make([]chatr.Member, 0, len(c.data.Members))
	for uid, md := range c.data.Members {
		joined, ok := c.joined[uid]
		if !ok {
			joined = c.chat.Created // written by the original, which kept no join times
		}
		members = append(members, chatr.Member{UserID: uid, UserName: md.UserName, Joined: joined, Role: c.role(uid)})
	}
	sort.Slice(members, func(i, j int) bool {
		a, b := members[i], members[j]
		if !a.Joined.Equal(b.Joined) {
			return a.Joined.Before(b.Joined)
		}
		return a.UserID < b.UserID
	})
	return members, nil
}

func (s *Store) IsMember(ctx context.Context, chatID, userID string) (bool, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	c, err := s.getChat(ctx, chatID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, ok := c.data.Members[userID]
	return ok, nil
}

// --- read markers

func (s *Store) MarkRead(ctx context.Context, userID, chatID string, messageID int64) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !textOK(userID) {
		return errText()
	}
	if _, err := s.getChat(ctx, chatID); err != nil {
		return err
	}
	uk, ck := key(userID), key(chatID)
	for range maxRetries {
		e := map[string]any{"PartitionKey": uk, "RowKey": ck}
		setInt64(e, "messageId", messageID)
		r, err := s.marker.GetEntity(ctx, uk, ck, nil)
		if notFound(err) {
			_, err = s.marker.AddEntity(ctx, marshal(e), nil)
			if err == nil {
				return nil
			}
			if conflict(err) {
				continue
			}
			return fmt.Errorf("aztables: add read marker: %w", err)
		}
		if err != nil {
			return fmt.Errorf("aztables: get read marker: %w", err)
		}
		old, err := decode(r.Value)
		if err != nil {
			return err
		}
		if old.int64v("messageId") >= messageID {
			return nil
		}
		_, err = s.marker.UpdateEntity(ctx, marshal(e), &aztables.UpdateEntityOptions{IfMatch: &r.ETag, UpdateMode: aztables.UpdateModeReplace})
		if err == nil {
			return nil
		}
		if !stale(err) && !notFound(err) {
			return fmt.Errorf("aztables: update read marker: %w", err)
		}
	}
	return errors.New("aztables: mark read: too much contention")
}

func (s *Store) UnreadCounts(ctx context.Context, userID string) (map[string]int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	chats, err := s.ListUserChats(ctx, userID)
	if err != nil {
		return nil, err
	}
	markers, err := list(ctx, s.marker, "PartitionKey eq "+quote(key(userID)), "RowKey,messageId", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: list read markers: %w", err)
	}
	read := map[string]int64{}
	for _, e := range markers {
		read[unkey(e.str("RowKey"))] = e.int64v("messageId")
	}
	counts := map[string]int{}
	for _, c := range chats {
		f := "PartitionKey eq " + quote(key(c.ID)) + " and RowKey gt " + quote(rowID(read[c.ID])) + " and RowKey lt " + quote(counterRow) +
			" and fromUserId ne " + quote(userID)
		es, err := list(ctx, s.messages, f, "RowKey,deleted", 0)
		if err != nil {
			return nil, fmt.Errorf("aztables: count messages: %w", err)
		}
		for _, e := range es {
			// A projected property a row lacks may come back as null.
			if d, ok := e["deleted"]; !ok || string(d) == "null" {
				counts[c.ID]++
			}
		}
	}
	return counts, nil
}

// --- the store

func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	top := int32(1)
	p := s.svc.NewListTablesPager(&aztables.ListTablesOptions{Top: &top})
	if _, err := p.NextPage(ctx); err != nil {
		return fmt.Errorf("aztables: ping: %w", err)
	}
	return nil
}

// Close waits for the AddMessage calls in flight; it may be called twice.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Redact hides the secrets of a connection string (AccountKey,
// SharedAccessSignature) for logs.
func Redact(connStr string) string {
	parts := strings.Split(connStr, ";")
	for i, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if ok && (strings.EqualFold(strings.TrimSpace(k), "AccountKey") || strings.EqualFold(strings.TrimSpace(k), "SharedAccessSignature")) {
			parts[i] = k + "=***"
		}
	}
	return strings.Join(parts, ";")
}

// callTimeout bounds a store call whose caller set no deadline, so that a
// stuck service answers with an error instead of holding the caller forever.
const callTimeout = 30 * time.Second

// withDeadline returns ctx with callTimeout as its deadline unless it has
// one already.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, callTimeout)
}

// GetUsers returns the users of ids that exist. Table Storage has no
// multi-entity read by key, so this is one point read per id.
func (s *Store) GetUsers(ctx context.Context, ids []string) ([]chatr.User, error) {
	if len(ids) > chatr.MaxLookupIDs {
		return nil, chatr.Errorf(chatr.EINVALID, "GetUsers takes at most %d ids", chatr.MaxLookupIDs)
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	users := []chatr.User{}
	for _, id := range ids {
		u, err := s.GetUser(ctx, id)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}

// ListMembersOf returns the members of each of chatIDs: one chat entity
// read per id (a chat entity holds its members).
func (s *Store) ListMembersOf(ctx context.Context, chatIDs []string) (map[string][]chatr.Member, error) {
	if len(chatIDs) > chatr.MaxLookupIDs {
		return nil, chatr.Errorf(chatr.EINVALID, "ListMembersOf takes at most %d ids", chatr.MaxLookupIDs)
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	out := map[string][]chatr.Member{}
	for _, id := range chatIDs {
		ms, err := s.ListMembers(ctx, id)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		if len(ms) > 0 {
			out[id] = ms
		}
	}
	return out, nil
}
