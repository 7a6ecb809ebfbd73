package metrics

import (
	"context"
	"time"

	"github.com/chatr/chatr"
)

// The OutgoingWebhookStore methods, observed like the others.

func (st *store) CreateOutgoingWebhook(ctx context.Context, w chatr.OutgoingWebhook) (err error) {
	defer func(t time.Time) { st.observe("CreateOutgoingWebhook", t, err) }(time.Now())
	return st.s.CreateOutgoingWebhook(ctx, w)
}

func (st *store) ListOutgoingWebhooks(ctx context.Context, chatID string) (l []chatr.OutgoingWebhook, err error) {
	defer func(t time.Time) { st.observe("ListOutgoingWebhooks", t, err) }(time.Now())
	return st.s.ListOutgoingWebhooks(ctx, chatID)
}

func (st *store) DeleteOutgoingWebhook(ctx context.Context, chatID, id string) (err error) {
	defer func(t time.Time) { st.observe("DeleteOutgoingWebhook", t, err) }(time.Now())
	return st.s.DeleteOutgoingWebhook(ctx, chatID, id)
}
