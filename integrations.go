package chatr

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Scopes of an API token.
const (
	ScopeRead  = "read"  // reads only (GET)
	ScopeWrite = "write" // reads and writes
)

// Bots and webhooks speak under user ids of their own: a bot account's id
// starts with BotIDPrefix (its Provider is BotProvider), the messages of an
// incoming webhook carry WebhookSenderID of the webhook. No sign-in
// provider gives out such ids, so a message is a bot's when IsBotID says so
// of its sender, in storage, history, live events and dumps alike.
const (
	BotProvider      = "bot"
	BotIDPrefix      = "bot:"
	WebhookIDPrefix  = "hook:"
	OutgoingIDPrefix = "outgoing:" // an outgoing webhook's replies: "outgoing:<webhook id>"
)

// Limits of integrations.
const (
	// MaxIntegrationName bounds a token's, bot's or webhook's name in
	// characters.
	MaxIntegrationName = 64
	// MaxTokenChats bounds the chats an API token may be limited to.
	MaxTokenChats = 100
)

// IsBotID reports whether userID is a bot account's or a webhook's.
func IsBotID(userID string) bool {
	return strings.HasPrefix(userID, BotIDPrefix) || strings.HasPrefix(userID, WebhookIDPrefix) || strings.HasPrefix(userID, OutgoingIDPrefix)
}

// WebhookSenderID is the sender id of the messages a webhook posts.
func WebhookSenderID(webhookID string) string { return WebhookIDPrefix + webhookID }

// IsBot reports whether the user is a bot account.
func (u User) IsBot() bool { return IsBotID(u.ID) }

// MarshalJSON writes the message with "bot": true when a bot account or a
// webhook sent it, the fact clients show as a badge.
func (m Message) MarshalJSON() ([]byte, error) {
	type plain Message // without this method
	return json.Marshal(struct {
		plain
		Bot bool `json:"bot,omitempty"`
	}{plain(m), IsBotID(m.FromUserID)})
}

// APIToken is a personal access token or a bot's token: the bearer acts as
// UserID within Scope and, when Chats is not empty, only in those chats.
// Only the SHA-256 of the secret is stored (Hash), as for sessions; ID is
// the token's public handle, for listing and revoking.
type APIToken struct {
	ID       string    `json:"id"`
	UserID   string    `json:"userId"`
	Name     string    `json:"name"`
	Hash     string    `json:"-"`
	Scope    string    `json:"scope"`
	Chats    []string  `json:"chats,omitempty"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"lastUsed,omitzero"`
	Revoked  bool      `json:"revoked,omitempty"`
}

// AllowsChat reports whether the token may act in the chat.
func (t APIToken) AllowsChat(chatID string) bool {
	return len(t.Chats) == 0 || slices.Contains(t.Chats, chatID)
}

// Webhook is an incoming webhook: whoever knows its URL's secret (stored
// as its SHA-256, Hash) posts to ChatID under Name.
type Webhook struct {
	ID        string    `json:"id"`
	ChatID    string    `json:"chatId"`
	Name      string    `json:"name"`
	CreatedBy string    `json:"createdBy"`
	Hash      string    `json:"-"`
	Created   time.Time `json:"created"`
	Revoked   bool      `json:"revoked,omitempty"`
}

// IntegrationStore keeps API tokens and incoming webhooks. The general
// rules of Store apply; every implementation passes storetest's
// Integrations group.
//
// A user's tokens go with the user (UserDeleter.DeleteUser) and a chat's
// webhooks with the chat (DeleteChat): a user or chat created again under
// the same ID does not get them back.
type IntegrationStore interface {
	// CreateAPIToken stores t, not revoked, with no LastUsed (a zero Created
	// means now; Chats are kept sorted without repeats). EINVALID unless
	// CheckAPIToken accepts t; ECONFLICT if the ID or the hash exists.
	CreateAPIToken(ctx context.Context, t APIToken) error
	// GetAPIToken returns the token with that hash, revoked or not, or
	// ENOTFOUND.
	GetAPIToken(ctx context.Context, hash string) (APIToken, error)
	// ListAPITokens returns the user's tokens, revoked ones included,
	// ordered by Created then ID.
	ListAPITokens(ctx context.Context, userID string) ([]APIToken, error)
	// RevokeAPIToken revokes the user's token for good (again: no error).
	// ENOTFOUND when the user has no token with that ID.
	RevokeAPIToken(ctx context.Context, userID, id string) error
	// TouchAPIToken records that the token was used at at. LastUsed only
	// moves forward; callers coalesce (a store write per use is not
	// wanted). An unknown ID is not an error.
	TouchAPIToken(ctx context.Context, id string, at time.Time) error

	// CreateWebhook stores w, not revoked (a zero Created means now).
	// EINVALID unless CheckWebhook accepts w; ENOTFOUND for a missing chat;
	// ECONFLICT if the ID or the hash exists.
	CreateWebhook(ctx context.Context, w Webhook) error
	// GetWebhook returns the webhook with that hash, revoked or not, or
	// ENOTFOUND (also once its chat is deleted).
	GetWebhook(ctx context.Context, hash string) (Webhook, error)
	// ListWebhooks returns the chat's webhooks, revoked ones included,
	// ordered by Created then ID (none for a missing chat).
	ListWebhooks(ctx context.Context, chatID string) ([]Webhook, error)
	// RevokeWebhook revokes the chat's webhook for good (again: no error).
	// ENOTFOUND when the chat has no webhook with that ID.
	RevokeWebhook(ctx context.Context, chatID, id string) error
}

// CheckIntegrationName is the EINVALID for a bad token, bot or webhook
// name: 1 to MaxIntegrationName characters of storable text.
func CheckIntegrationName(name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > MaxIntegrationName {
		return Errorf(EINVALID, "a name is 1 to %d characters", MaxIntegrationName)
	}
	return CheckText(name)
}

// CheckAPIToken is the EINVALID a store returns for a token it cannot
// store: an empty ID, user, hash or name, an unknown scope, more than
// MaxTokenChats chats or an empty chat id. It returns t with its Chats in
// the stored form (sorted, no repeats, nil for none).
func CheckAPIToken(t APIToken) (APIToken, error) {
	if t.ID == "" || t.UserID == "" || t.Hash == "" {
		return t, Errorf(EINVALID, "a token has an id, a user and a hash")
	}
	if t.Scope != ScopeRead && t.Scope != ScopeWrite {
		return t, Errorf(EINVALID, "scope must be %q or %q", ScopeRead, ScopeWrite)
	}
	if len(t.Chats) > MaxTokenChats {
		return t, Errorf(EINVALID, "a token is limited to at most %d chats", MaxTokenChats)
	}
	if slices.Contains(t.Chats, "") {
		return t, Errorf(EINVALID, "a chat id is empty")
	}
	if err := CheckIntegrationName(t.Name); err != nil {
		return t, err
	}
	if err := CheckText(append([]string{t.ID, t.UserID, t.Hash}, t.Chats...)...); err != nil {
		return t, err
	}
	if len(t.Chats) == 0 {
		t.Chats = nil
	} else {
		t.Chats = slices.Compact(slices.Sorted(slices.Values(t.Chats)))
	}
	return t, nil
}

// CheckWebhook is the EINVALID a store returns for a webhook it cannot
// store: an empty ID, chat, creator or hash, or a bad name.
func CheckWebhook(w Webhook) error {
	if w.ID == "" || w.ChatID == "" || w.CreatedBy == "" || w.Hash == "" {
		return Errorf(EINVALID, "a webhook has an id, a chat, a creator and a hash")
	}
	if err := CheckIntegrationName(w.Name); err != nil {
		return err
	}
	return CheckText(w.ID, w.ChatID, w.CreatedBy, w.Hash)
}
