package chat

import (
	"context"
	"strconv"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// delivery is one chat message on its way from a sender to the store and
// the chat's members, whichever door it came in by: a socket (Publish),
// the REST API (SendMessage) or a webhook (PostAsBot).
type delivery struct {
	chatID, senderID, name, text string
	key                          string // idempotency key ("" for none)
	clientID                     string // echoed to the sender's client
	replyTo                      int64
	files                        attachments // checked already (checkFiles)
	excludeConn                  string      // a connection that does not get it (noEcho)
}

// deliver resolves the message's mentions, stores it once and hands it to
// the hub in the chat's id order, waiting until it is sent (or ctx ends:
// it is then stored and sent when its turn comes). A message stored
// already under the key is returned with Duplicate set and sent to no one.
func (a *App) deliver(ctx context.Context, d delivery) (chatr.Message, error) {
	mentions, err := a.mentions(ctx, d.chatID, d.senderID, d.text)
	if err != nil {
		return chatr.Message{}, err
	}
	ticket := a.order.begin(d.chatID)
	stored, err := a.store.AddMessage(ctx, chatr.Message{
		ChatID: d.chatID, FromUserID: d.senderID, FromUserName: d.name, Text: d.text, Time: a.now().UTC(), ClientID: d.key,
		ReplyTo: d.replyTo, Mentions: mentions, Files: d.files,
	})
	if err == nil && stored.Duplicate {
		// The store links a message's files with it; a message stored
		// before it did has them linked by its retry.
		err = a.attachFiles(ctx, stored, d.files)
	}
	if err != nil || stored.Duplicate {
		a.order.finish(d.chatID, ticket, 0, nil)
		return stored, err
	}
	a.stored(stored)
	out := messageJSON(stored)
	out.ClientID, out.Files = d.clientID, d.files
	m := hub.Message{FromUserID: d.senderID, ExcludeConn: d.excludeConn}
	m.Payload, m.HTMLPayload = chatPayloads(out)
	sent := a.order.finish(d.chatID, ticket, stored.ID, func() error {
		// The message may be released by another sender's call whose
		// deadline is not this one's.
		ctx, cancel := context.WithTimeout(context.Background(), a.storeTimeout)
		defer cancel()
		return a.hub.SendToGroup(ctx, d.chatID, m)
	})
	select {
	case err := <-sent:
		return stored, err
	case <-ctx.Done():
		// Stored, and sent when its turn comes; a retry gets Duplicate.
		return stored, ctx.Err()
	}
}

// Post is a chat message sent without a socket.
type Post struct {
	ChatID  string
	Text    string // Markdown, as any message
	ReplyTo int64  // the message of the chat it answers, 0 for none
	// Key is the caller's idempotency key (1-64 letters, digits, - or _):
	// a retry with the same key stores and sends nothing new and returns
	// the first message, with Duplicate set.
	Key string
}

// checkPost trims the text and checks the post as Publish checks a
// socket's message.
func (a *App) checkPost(p Post) (Post, error) {
	text, err := a.checkText(p.Text)
	if err != nil {
		return p, err
	}
	p.Text = text
	switch {
	case p.ChatID == "" || !chatr.StorableText(p.ChatID):
		return p, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	case p.Key != "" && !clientIDPattern.MatchString(p.Key):
		return p, chatr.Errorf(chatr.EINVALID, "an idempotency key is 1-64 letters, digits, - or _")
	case p.ReplyTo < 0:
		return p, chatr.Errorf(chatr.EINVALID, "replyTo must be a message id")
	}
	return p, nil
}

// SendMessage sends a message to a chat as the user, by the path of the
// messages sent over sockets: the user's message rate, membership (a chat
// the user is not in is ENOTFOUND), mentions, the idempotency key, the
// chat's order and the fan-out to its members. It returns the message as
// stored. The REST API calls it for sessions and API tokens alike.
func (a *App) SendMessage(ctx context.Context, userID string, p Post) (chatr.Message, error) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	if !a.rate.Allow(userID, a.now()) {
		return chatr.Message{}, chatr.Errorf(chatr.ELIMIT, "slow down: too many messages")
	}
	p, err := a.checkPost(p)
	if err != nil {
		return chatr.Message{}, err
	}
	if ok, err := a.store.IsMember(ctx, p.ChatID, userID); err != nil {
		return chatr.Message{}, err
	} else if !ok {
		return chatr.Message{}, chatr.Errorf(chatr.ENOTFOUND, "no such chat, or you are not a member")
	}
	u, err := a.store.GetUser(ctx, userID)
	if err != nil {
		return chatr.Message{}, err
	}
	return a.deliver(ctx, delivery{chatID: p.ChatID, senderID: userID, name: u.Name, text: p.Text,
		key: p.Key, clientID: p.Key, replyTo: p.ReplyTo})
}

// PostAsBot posts a message to a chat from senderID, a bot or webhook
// sender (chatr.IsBotID: chatr.WebhookSenderID for an incoming webhook),
// under the display name name; it needs no membership, so the caller
// decides who may post (a webhook's secret, an outgoing webhook's
// configuration). Otherwise it is SendMessage: the message is stored once
// per p.Key (keys are per sender), carries the bot marker and goes to the
// chat's members in order. Rate limits are the caller's.
func (a *App) PostAsBot(ctx context.Context, senderID, name string, p Post) (chatr.Message, error) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	if !chatr.IsBotID(senderID) {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "%s is not a bot sender", strconv.Quote(senderID))
	}
	if err := chatr.CheckIntegrationName(name); err != nil {
		return chatr.Message{}, err
	}
	p, err := a.checkPost(p)
	if err != nil {
		return chatr.Message{}, err
	}
	return a.deliver(ctx, delivery{chatID: p.ChatID, senderID: senderID, name: name, text: p.Text,
		key: p.Key, clientID: p.Key, replyTo: p.ReplyTo})
}
