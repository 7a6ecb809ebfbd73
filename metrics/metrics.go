// Package metrics exposes Chatr's Prometheus metrics: the hub's connection
// and message counters, fan-out latency, and the latency of every storage
// operation (through a Store wrapper). It is the only package that knows
// the Prometheus client.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatr/chatr/hub"
)

// Metrics is one registry of Chatr's metrics.
type Metrics struct {
	reg     *prometheus.Registry
	fanout  prometheus.Histogram
	storage *prometheus.HistogramVec
	errors  *prometheus.CounterVec
}

// New registers the metrics; stats is read at every scrape.
func New(stats func() hub.Stats) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg: reg,
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chatr_fanout_seconds",
			Help:    "Time from a message's arrival to its being queued on every local recipient.",
			Buckets: prometheus.ExponentialBuckets(20e-6, 2.5, 12),
		}),
		storage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatr_storage_seconds",
			Help:    "Latency of storage operations.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 12),
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatr_storage_errors_total",
			Help: "Storage operations that failed with an unexpected error.",
		}, []string{"op"}),
	}
	reg.MustRegister(m.fanout, m.storage, m.errors)
	gauge := func(name, help string, f func(hub.Stats) int64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(stats())) }))
	}
	counter := func(name, help string, f func(hub.Stats) int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(stats())) }))
	}
	gauge("chatr_connections", "Open WebSocket connections.", func(s hub.Stats) int64 { return s.Connections })
	gauge("chatr_sessions", "Hub sessions, including dropped ones awaiting recovery.", func(s hub.Stats) int64 { return s.Sessions })
	counter("chatr_connects_total", "Accepted WebSocket connections.", func(s hub.Stats) int64 { return s.ConnectsTotal })
	counter("chatr_messages_in_total", "Client frames processed.", func(s hub.Stats) int64 { return s.MessagesIn })
	counter("chatr_messages_out_total", "Message frames queued to sockets.", func(s hub.Stats) int64 { return s.MessagesOut })
	counter("chatr_slow_consumers_total", "Connections cut off for not reading.", func(s hub.Stats) int64 { return s.SlowConsumers })
	gauge("chatr_queued_bytes", "Bytes queued to sockets on this node, not yet written.", func(s hub.Stats) int64 { return s.QueuedBytes })
	counter("chatr_shed_total", "Connections shed because the node's queued bytes were over budget.", func(s hub.Stats) int64 { return s.Shed })
	counter("chatr_socket_writes_total", "Write system calls to sockets.", func(s hub.Stats) int64 { return s.Writes })
	return m
}

// RedisConnected exports chatr_redis_connected: 1 while connected reports
// that this node reads the cluster's bus, 0 while it is cut off from Redis.
// Only nodes of a cluster call it.
func (m *Metrics) RedisConnected(connected func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "chatr_redis_connected",
		Help: "1 while this node reads the cluster's Redis bus, 0 while it is cut off.",
	}, func() float64 {
		if connected() {
			return 1
		}
		return 0
	}))
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveFanout records one message's fan-out time (hub.Config.ObserveFanout).
func (m *Metrics) ObserveFanout(d time.Duration) { m.fanout.Observe(d.Seconds()) }
