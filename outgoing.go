package chatr

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of an outgoing webhook's settings.
const (
	MaxOutgoingTriggers   = 10   // trigger words of one webhook
	MaxOutgoingTriggerLen = 64   // bytes of one trigger word
	MaxOutgoingNameLen    = 64   // characters of a webhook's name
	MaxOutgoingURLLen     = 2048 // bytes of a webhook's URL
	MaxOutgoingPerChat    = 20   // webhooks of one chat
)

// OutgoingWebhook calls URL when a message of ChatID starts with one of its
// Triggers, and posts the answer's text back in the chat under Name. Secret
// is the HMAC-SHA256 key the calls are signed with: the server needs it to
// sign, so it is stored as it is and shown to people once, at creation.
type OutgoingWebhook struct {
	ID        string    `json:"id"`
	ChatID    string    `json:"chatId"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Triggers  []string  `json:"triggerWords"`
	Secret    string    `json:"-"`
	CreatedBy string    `json:"createdBy"`
	Created   time.Time `json:"created"`
}

// OutgoingWebhookStore keeps outgoing webhooks. It follows the general
// rules of Store (durable on nil, ENOTFOUND, ECONFLICT, EINVALID, UTF-8 text
// without NUL) and every implementation passes storetest.RunOutgoing.
// DeleteChat deletes the chat's webhooks: a chat created again under the
// same ID has none.
type OutgoingWebhookStore interface {
	// CreateOutgoingWebhook stores w (a zero Created means now). EINVALID
	// when CheckOutgoingWebhook refuses it; ENOTFOUND for a missing chat;
	// ECONFLICT if the ID exists.
	CreateOutgoingWebhook(ctx context.Context, w OutgoingWebhook) error
	// ListOutgoingWebhooks returns the chat's webhooks, secrets included,
	// ordered by Created then ID. ENOTFOUND for a missing chat.
	ListOutgoingWebhooks(ctx context.Context, chatID string) ([]OutgoingWebhook, error)
	// DeleteOutgoingWebhook removes the chat's webhook id. ENOTFOUND when
	// the chat has no webhook of that ID (one of another chat included).
	DeleteOutgoingWebhook(ctx context.Context, chatID, id string) error
}

// CheckOutgoingWebhook is the EINVALID a store returns for a webhook it
// cannot keep: an empty ID, ChatID, Name, Secret or CreatedBy, a URL that is
// not absolute http(s), trigger words that are not 1 to
// MaxOutgoingTriggers distinct words without spaces, or fields over their
// bounds. Who may call which address is the caller's business, not the
// store's.
func CheckOutgoingWebhook(w OutgoingWebhook) error {
	if err := CheckText(append([]string{w.ID, w.ChatID, w.Name, w.URL, w.Secret, w.CreatedBy}, w.Triggers...)...); err != nil {
		return err
	}
	switch {
	case w.ID == "" || w.ChatID == "" || w.Secret == "" || w.CreatedBy == "":
		return Errorf(EINVALID, "an outgoing webhook needs an id, a chat, a secret and a creator")
	case strings.TrimSpace(w.Name) == "" || utf8.RuneCountInString(w.Name) > MaxOutgoingNameLen:
		return Errorf(EINVALID, "a webhook's name is 1 to %d characters", MaxOutgoingNameLen)
	case len(w.URL) > MaxOutgoingURLLen:
		return Errorf(EINVALID, "a webhook's URL is at most %d bytes", MaxOutgoingURLLen)
	case len(w.Triggers) == 0 || len(w.Triggers) > MaxOutgoingTriggers:
		return Errorf(EINVALID, "a webhook has 1 to %d trigger words", MaxOutgoingTriggers)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return Errorf(EINVALID, "a webhook's URL is an absolute http or https URL without credentials")
	}
	for i, t := range w.Triggers {
		if t == "" || len(t) > MaxOutgoingTriggerLen || strings.IndexFunc(t, unicode.IsSpace) >= 0 {
			return Errorf(EINVALID, "a trigger word is 1 to %d bytes without spaces", MaxOutgoingTriggerLen)
		}
		for _, prev := range w.Triggers[:i] {
			if prev == t {
				return Errorf(EINVALID, "trigger word %q is listed twice", t)
			}
		}
	}
	return nil
}

// TriggerWord returns the trigger word of w that text starts with (its
// first word, compared exactly), or "" when there is none.
func (w OutgoingWebhook) TriggerWord(text string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(text), " ")
	first, _, _ = strings.Cut(first, "\n")
	for _, t := range w.Triggers {
		if first == t {
			return t
		}
	}
	return ""
}
