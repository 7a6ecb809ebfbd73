package chat

import (
	"context"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// ServerPost is a message the server posts in a chat for an integration
// (an outgoing webhook's answer): it comes from no connection, and its
// sender is the integration, not a member.
type ServerPost struct {
	ChatID       string
	FromUserID   string // the integration's sender ID ("outgoing:<webhook id>")
	FromUserName string // the name shown as the sender's
	Text         string
	ReplyTo      int64 // the message it answers, 0 for none
	// Key is the idempotency key: a second post with the same FromUserID
	// and Key stores and delivers nothing.
	Key string
}

// Post stores p and delivers it to the chat's members in id order, as
// Publish does a member's message (text checked and trimmed, mentions
// resolved). It returns the stored message, with Duplicate set when the
// key was used before. ENOTFOUND for a missing chat, EINVALID for bad
// text or a ReplyTo that is not a message of the chat.
func (a *App) Post(ctx context.Context, p ServerPost) (chatr.Message, error) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	text, err := a.checkText(p.Text)
	if err != nil {
		return chatr.Message{}, err
	}
	if p.FromUserID == "" || p.FromUserName == "" || p.Key == "" {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "a server post needs a sender, a name and a key")
	}
	mentions, err := a.mentions(ctx, p.ChatID, p.FromUserID, text)
	if err != nil {
		return chatr.Message{}, err
	}
	ticket := a.order.begin(p.ChatID)
	stored, err := a.store.AddMessage(ctx, chatr.Message{
		ChatID: p.ChatID, FromUserID: p.FromUserID, FromUserName: p.FromUserName, Text: text, Time: a.now().UTC(),
		ClientID: p.Key, ReplyTo: p.ReplyTo, Mentions: mentions,
	})
	if err != nil || stored.Duplicate {
		a.order.finish(p.ChatID, ticket, 0, nil)
		return stored, err
	}
	a.stored(stored)
	m := hub.Message{FromUserID: p.FromUserID}
	m.Payload, m.HTMLPayload = chatPayloads(messageJSON(stored))
	return stored, a.release(ctx, p.ChatID, ticket, stored.ID, m)
}

// stored tells Config.MessageStored of a message a send stored.
func (a *App) stored(m chatr.Message) {
	if a.messageStored != nil {
		a.messageStored(m)
	}
}

// release hands a stored message to the hub when its turn in the chat's
// order comes, and waits for that until ctx ends (the message is then
// sent later all the same).
func (a *App) release(ctx context.Context, chatID string, ticket uint64, id int64, m hub.Message) error {
	sent := a.order.finish(chatID, ticket, id, func() error {
		// The message may be released by another sender's call whose
		// deadline is not this one's.
		ctx, cancel := context.WithTimeout(context.Background(), a.storeTimeout)
		defer cancel()
		return a.hub.SendToGroup(ctx, chatID, m)
	})
	select {
	case err := <-sent:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
