package server

import (
	"context"
	"time"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/outgoing"
)

// Outgoing configures outgoing webhooks. Zero values mean the outgoing
// package's defaults.
type Outgoing struct {
	// AllowPrivate lists the internal addresses webhooks may call
	// (--allow-private-webhooks): CIDR ranges, addresses, host:port.
	AllowPrivate []string
	Workers      int           // calls in flight at once
	Queue        int           // messages waiting for a worker
	Timeout      time.Duration // one call
}

// openOutgoing makes the dispatcher of outgoing webhooks; its replies go
// through s.app, set before the first message can be stored.
func (s *Server) openOutgoing(cfg Config) (*outgoing.Dispatcher, error) {
	guard, err := outgoing.NewGuard(cfg.Outgoing.AllowPrivate)
	if err != nil {
		return nil, err
	}
	return outgoing.New(outgoing.Config{
		Store: s.store, Poster: replyPoster{s}, Guard: guard, Logger: cfg.Logger,
		Workers: cfg.Outgoing.Workers, Queue: cfg.Outgoing.Queue, Timeout: cfg.Outgoing.Timeout,
		MaxReplyBytes: cfg.Limits.MaxMessageBytes,
	}), nil
}

// replyPoster posts webhooks' replies through the chat's message path:
// stored once per key, then delivered in order like any message, from the
// sender "outgoing:<webhook id>" under the webhook's name.
type replyPoster struct{ s *Server }

func (p replyPoster) PostReply(ctx context.Context, r outgoing.Reply) error {
	_, err := p.s.app.Post(ctx, chat.ServerPost{
		ChatID: r.ChatID, FromUserID: outgoing.SenderPrefix + r.WebhookID, FromUserName: r.Name,
		Text: r.Text, ReplyTo: r.ReplyTo, Key: r.Key,
	})
	return err
}
