package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/outgoing"
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

// Outgoing exports the counters of outgoing webhooks; stats is read at
// every scrape.
func (m *Metrics) Outgoing(stats func() outgoing.Stats) {
	counter := func(name, help string, f func(outgoing.Stats) int64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(stats())) }))
	}
	counter("chatr_outgoing_webhook_calls_total", "HTTP calls to outgoing webhooks, retries included.", func(s outgoing.Stats) int64 { return s.Calls })
	counter("chatr_outgoing_webhook_delivered_total", "Outgoing webhook deliveries answered 2xx.", func(s outgoing.Stats) int64 { return s.Delivered })
	counter("chatr_outgoing_webhook_failed_total", "Outgoing webhook deliveries given up (4xx, or retries spent).", func(s outgoing.Stats) int64 { return s.Failed })
	counter("chatr_outgoing_webhook_refused_total", "Outgoing webhook deliveries to an internal address that was not allowed.", func(s outgoing.Stats) int64 { return s.Refused })
	counter("chatr_outgoing_webhook_dropped_total", "Messages not checked for outgoing webhooks because the queue was full.", func(s outgoing.Stats) int64 { return s.Dropped })
	counter("chatr_outgoing_webhook_replies_total", "Outgoing webhook answers posted in their chat.", func(s outgoing.Stats) int64 { return s.Replies })
}
