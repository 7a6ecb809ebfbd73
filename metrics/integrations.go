package metrics

import (
	"context"
	"time"

	"github.com/chatr/chatr"
)

// The IntegrationStore methods, observed like the others.

func (st *store) CreateAPIToken(ctx context.Context, t chatr.APIToken) (err error) {
	defer func(start time.Time) { st.observe("CreateAPIToken", start, err) }(time.Now())
	return st.s.CreateAPIToken(ctx, t)
}

func (st *store) GetAPIToken(ctx context.Context, hash string) (t chatr.APIToken, err error) {
	defer func(start time.Time) { st.observe("GetAPIToken", start, err) }(time.Now())
	return st.s.GetAPIToken(ctx, hash)
}

func (st *store) ListAPITokens(ctx context.Context, userID string) (ts []chatr.APIToken, err error) {
	defer func(start time.Time) { st.observe("ListAPITokens", start, err) }(time.Now())
	return st.s.ListAPITokens(ctx, userID)
}

func (st *store) RevokeAPIToken(ctx context.Context, userID, id string) (err error) {
	defer func(start time.Time) { st.observe("RevokeAPIToken", start, err) }(time.Now())
	return st.s.RevokeAPIToken(ctx, userID, id)
}

func (st *store) TouchAPIToken(ctx context.Context, id string, at time.Time) (err error) {
	defer func(start time.Time) { st.observe("TouchAPIToken", start, err) }(time.Now())
	return st.s.TouchAPIToken(ctx, id, at)
}

func (st *store) CreateWebhook(ctx context.Context, w chatr.Webhook) (err error) {
	defer func(start time.Time) { st.observe("CreateWebhook", start, err) }(time.Now())
	return st.s.CreateWebhook(ctx, w)
}

func (st *store) GetWebhook(ctx context.Context, hash string) (w chatr.Webhook, err error) {
	defer func(start time.Time) { st.observe("GetWebhook", start, err) }(time.Now())
	return st.s.GetWebhook(ctx, hash)
}

func (st *store) ListWebhooks(ctx context.Context, chatID string) (ws []chatr.Webhook, err error) {
	defer func(start time.Time) { st.observe("ListWebhooks", start, err) }(time.Now())
	return st.s.ListWebhooks(ctx, chatID)
}

func (st *store) RevokeWebhook(ctx context.Context, chatID, id string) (err error) {
	defer func(start time.Time) { st.observe("RevokeWebhook", start, err) }(time.Now())
	return st.s.RevokeWebhook(ctx, chatID, id)
}
