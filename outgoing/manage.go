package outgoing

import (
	"context"
	"strings"
	"time"

	"github.com/chatr/chatr"
)

// Create makes a webhook for w.ChatID from w's Name, URL, Triggers and
// CreatedBy, with a new ID and secret, and returns it as stored, secret
// included (the only time anyone sees it). Who may is the caller's
// business. EINVALID for bad settings or a URL the Guard refuses; ELIMIT
// past chatr.MaxOutgoingPerChat webhooks in the chat.
func (d *Dispatcher) Create(ctx context.Context, w chatr.OutgoingWebhook) (chatr.OutgoingWebhook, error) {
	w.Name, w.URL = strings.TrimSpace(w.Name), strings.TrimSpace(w.URL)
	if err := d.cfg.Guard.CheckURL(w.URL); err != nil {
		return chatr.OutgoingWebhook{}, chatr.Errorf(chatr.EINVALID, "this server does not call that URL: %v", err)
	}
	all, err := d.cfg.Store.ListOutgoingWebhooks(ctx, w.ChatID)
	if err != nil {
		return chatr.OutgoingWebhook{}, err
	}
	if len(all) >= chatr.MaxOutgoingPerChat {
		return chatr.OutgoingWebhook{}, chatr.Errorf(chatr.ELIMIT, "a chat has at most %d outgoing webhooks: delete some", chatr.MaxOutgoingPerChat)
	}
	if w.ID, err = NewID(); err != nil {
		return chatr.OutgoingWebhook{}, err
	}
	if w.Secret, err = NewSecret(); err != nil {
		return chatr.OutgoingWebhook{}, err
	}
	w.Created = d.cfg.Now().UTC().Truncate(time.Millisecond)
	if err := d.cfg.Store.CreateOutgoingWebhook(ctx, w); err != nil {
		return chatr.OutgoingWebhook{}, err
	}
	d.Forget(w.ChatID)
	return w, nil
}

// List returns the chat's webhooks.
func (d *Dispatcher) List(ctx context.Context, chatID string) ([]chatr.OutgoingWebhook, error) {
	return d.cfg.Store.ListOutgoingWebhooks(ctx, chatID)
}

// Delete removes the chat's webhook id: no call starts for it from now on
// on this node (within CacheTTL on others).
func (d *Dispatcher) Delete(ctx context.Context, chatID, id string) error {
	if err := d.cfg.Store.DeleteOutgoingWebhook(ctx, chatID, id); err != nil {
		return err
	}
	d.Forget(chatID)
	return nil
}
