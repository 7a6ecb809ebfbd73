package chat

import (
	"context"

	"github.com/chatr/chatr"
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
	return a.deliver(ctx, delivery{chatID: p.ChatID, senderID: p.FromUserID, name: p.FromUserName, text: text,
		key: p.Key, replyTo: p.ReplyTo})
}

// stored tells Config.MessageStored of a message a send stored.
func (a *App) stored(m chatr.Message) {
	if a.messageStored != nil {
		a.messageStored(m)
	}
}
