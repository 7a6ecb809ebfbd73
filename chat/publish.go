package chat

import (
	"context"
	"encoding/json"
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// chatMessage is a chat message as clients send it and as members receive it.
type chatMessage struct {
	Message      string `json:"message"`
	FromUserID   string `json:"fromUserId"`
	FromUserName string `json:"fromUserName"`
	ID           int64  `json:"id,omitempty"`
	Time         string `json:"time,omitempty"`
	// ClientID is the sender's id for the message (Chatr's client sends a
	// random UUID and resends with the same one after a reconnect); it is
	// echoed so that the sender can match its pending message.
	ClientID string `json:"clientId,omitempty"`
	// ReplyTo is the message of the same chat this one answers; Mentions
	// are the members its @handles name, as the server found them (what a
	// client sends there is ignored).
	ReplyTo  int64          `json:"replyTo,omitempty"`
	Mentions chatr.Mentions `json:"mentions,omitzero"`
	// Files are the uploaded files the message carries.
	Files attachments `json:"files,omitempty"`
	// Bot marks a message from a bot account or a webhook (see
	// chatr.IsBotID); what a client sends there is ignored.
	Bot bool `json:"bot,omitempty"`
}

// storedMessage is the payload of the messageStored server event: a
// retried message, as it was stored the first time, to its sender.
type storedMessage struct {
	ChatID string `json:"chatId"`
	chatMessage
}

// clientIDPattern is what a client's message id may look like (a UUID, or
// any short token of these characters); ids derived from an ackId contain a
// ':' and so never collide with one.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Publish validates a chat message, stamps its sender, stores it once and
// hands it to the hub in the chat's id order (msg.Sent: the hub only acks).
// Only members may write to a chat.
//
// Every message has an idempotency key: the client's clientId, or else the
// connection id and ackId of the frame. A retry with the same key (the
// SDK's after a failed or lost ack, a client's after reconnecting) stores
// and fans out nothing new: it is acked Duplicate, which clients take for
// success, and the sender's connection is sent the first result
// (messageStored) so that it learns the message's id. The SDK's own retry
// comes with a new ackId: see unsettledSends.
func (a *App) Publish(ctx context.Context, conn *hub.ConnInfo, msg *hub.GroupMessage) (err error) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	defer func() { err = timedOut(ctx, err) }()
	// Every attempt counts, refused ones too: a flood of sends to chats one
	// is not in must not turn into unbounded store reads.
	if !a.rate.Allow(conn.UserID, a.now()) {
		return &hub.AckError{Name: "TooManyRequests", Message: "slow down: too many messages"}
	}
	if !a.inGroup(conn, msg.Group) {
		ok, err := a.store.IsMember(ctx, msg.Group, conn.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return &hub.AckError{Name: "Forbidden", Message: "you are not a member of this chat"}
		}
	}
	in, err := a.decodeMessage(msg)
	if err != nil {
		return err
	}
	key := in.ClientID
	if key == "" {
		key = a.unsettled.keyFor(conn.ID, msg.Group, msg.Data)
	}
	if key == "" && msg.HasAck {
		key = "ack:" + conn.ID + ":" + strconv.FormatUint(msg.AckID, 10)
	}
	defer func() { a.unsettled.settle(conn.ID, msg.Group, msg.Data, key, timedOut(ctx, err)) }()
	name, ok := a.names.get(conn.UserID)
	if !ok {
		u, err := a.store.GetUser(ctx, conn.UserID)
		if err != nil {
			return err
		}
		name = u.Name
	}

	files, err := a.checkFiles(ctx, msg.Group, conn.UserID, key, in.Files)
	if err != nil {
		return ackError(err)
	}
	d := delivery{chatID: msg.Group, senderID: conn.UserID, name: name, text: in.Message, key: key,
		clientID: in.ClientID, replyTo: in.ReplyTo, files: files}
	if msg.NoEcho {
		d.excludeConn = conn.ID
	}
	stored, err := a.deliver(ctx, d)
	if err != nil {
		return fileAckError(err) // a file taken meanwhile is a bad request
	}
	if stored.Duplicate {
		return a.answerRetry(ctx, conn, stored, in.ClientID)
	}
	msg.Sent = true
	return nil
}

// decodeMessage checks a chat message's form and text and returns it with
// the text trimmed.
func (a *App) decodeMessage(msg *hub.GroupMessage) (chatMessage, error) {
	bad := &hub.AckError{Name: "BadRequest", Message: `chat messages are JSON: {"message": "..."}`}
	if msg.DataType != "" && msg.DataType != "json" {
		return chatMessage{}, bad
	}
	var in chatMessage
	if err := json.Unmarshal(msg.Data, &in); err != nil {
		return chatMessage{}, bad
	}
	in.Message = strings.TrimSpace(in.Message)
	switch {
	case in.Message == "" && len(in.Files) == 0:
		return chatMessage{}, &hub.AckError{Name: "BadRequest", Message: "message must not be empty"}
	case len(in.Message) > a.limits.MaxMessageBytes:
		return chatMessage{}, &hub.AckError{Name: "BadRequest", Message: "message too long"}
	case !utf8.ValidString(in.Message):
		return chatMessage{}, &hub.AckError{Name: "BadRequest", Message: "message must be valid UTF-8"}
	case in.ClientID != "" && !clientIDPattern.MatchString(in.ClientID):
		return chatMessage{}, &hub.AckError{Name: "BadRequest", Message: "clientId must be 1-64 letters, digits, - or _"}
	case in.ReplyTo < 0:
		return chatMessage{}, &hub.AckError{Name: "BadRequest", Message: "replyTo must be a message id"}
	}
	return in, nil
}

// answerRetry answers a message that was stored already: its sender's
// connection gets the first result, and the ack says Duplicate.
func (a *App) answerRetry(ctx context.Context, conn *hub.ConnInfo, stored chatr.Message, clientID string) error {
	out := messageJSON(stored)
	out.ClientID = clientID
	m := serverEvent("messageStored", storedMessage{stored.ChatID, out})
	if conn.HTMLText {
		out.Message = html.EscapeString(out.Message)
		h := serverEvent("messageStored", storedMessage{stored.ChatID, out}).Payload
		m.HTMLPayload = &h
	}
	if err := a.hub.SendToConnection(ctx, conn.ID, m); err != nil {
		return err
	}
	return &hub.AckError{Name: "Duplicate", Message: "message " + strconv.FormatInt(stored.ID, 10) + " was stored already"}
}

// chatPayloads returns a chat message as delivered, and, when its text
// or its sender's name holds markup, the variant with both HTML-escaped for connections of
// clients that render text as HTML (nil otherwise).
func chatPayloads(out chatMessage) (hub.Payload, *hub.Payload) {
	b, _ := json.Marshal(out)
	p := hub.Payload{DataType: "json", Data: b}
	// The original client renders the sender's name as HTML too.
	msg, name := withFileLinks(out.Message, out.Files), html.EscapeString(out.FromUserName)
	if msg == out.Message && name == out.FromUserName {
		return p, nil
	}
	out.Message, out.FromUserName = msg, name
	b, _ = json.Marshal(out)
	return p, &hub.Payload{DataType: "json", Data: b}
}

// messageJSON is the wire form of a stored message.
func messageJSON(m chatr.Message) chatMessage {
	return chatMessage{
		Message: m.Text, FromUserID: m.FromUserID, FromUserName: m.FromUserName,
		ID: m.ID, Time: stamp(m.Time), ReplyTo: m.ReplyTo, Mentions: m.Mentions, Bot: chatr.IsBotID(m.FromUserID),
	}
}
