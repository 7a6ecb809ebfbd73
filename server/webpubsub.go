package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/restapi"
	"github.com/chatr/chatr/upstream"
)

// WebPubSub configures the drop-in mode: with AccessKey set, every hub name
// other than Chatr's own "chat" is served as an Azure Web PubSub hub for an
// external application: clients connect at /client/hubs/{hub} with tokens
// signed by the access key, the application drives the hubs through the
// service REST API at /api/hubs/ (the official server SDK works unchanged)
// and, with UpstreamURL set, receives the hubs' events over HTTP with the
// CloudEvents protocol (the official Express handler works unchanged).
// In a cluster each drop-in hub carries its commands over Redis; the REST
// API's queries (existence, group listings) see this node's connections.
type WebPubSub struct {
	AccessKey string
	// UpstreamURL is the event handler's URL template, with {hub} and
	// {event} placeholders; empty: no upstream events.
	UpstreamURL string
	// UserEvents ("*" or names) and SystemEvents (connect, connected,
	// disconnected) select the events sent upstream.
	UserEvents   []string
	SystemEvents []string
	// Origin is sent as WebHook-Request-Origin; default the host and port
	// this node listens on ("localhost:8080").
	Origin string
}

// dropIn is the running drop-in mode: its hubs, their upstream handlers and
// the REST API.
type dropIn struct {
	hubs *restapi.HubSet
	api  *restapi.Handler

	mu        sync.Mutex
	upstreams []*upstream.Handler
}

// openDropIn starts the drop-in mode when cfg.WebPubSub.AccessKey is set;
// it returns nil otherwise. addr is the node's listen address.
func openDropIn(cfg Config, ownHub string, addr net.Addr, cl *cluster) (*dropIn, error) {
	w := cfg.WebPubSub
	if w.AccessKey == "" {
		return nil, nil
	}
	if len(w.AccessKey) < 16 {
		return nil, errors.New("webpubsub access key must be at least 16 characters")
	}
	if w.Origin == "" {
		w.Origin = "localhost"
		if ta, ok := addr.(*net.TCPAddr); ok {
			w.Origin = net.JoinHostPort("localhost", strconv.Itoa(ta.Port))
		}
	}
	key := []byte(w.AccessKey)
	d := &dropIn{}
	if w.UpstreamURL != "" {
		// Checked once now, so that a bad template fails at start-up.
		if _, err := upstream.New(upstream.Config{URLTemplate: w.UpstreamURL, UserEvents: w.UserEvents, SystemEvents: w.SystemEvents}); err != nil {
			return nil, err
		}
	}
	d.hubs = restapi.NewHubSet(key, func(name string) (*hub.Hub, error) {
		var app hub.Application
		if w.UpstreamURL != "" {
			up, err := upstream.New(upstream.Config{
				URLTemplate: w.UpstreamURL, UserEvents: w.UserEvents, SystemEvents: w.SystemEvents,
				AccessKey: key, Origin: w.Origin, Logger: cfg.Logger,
			})
			if err != nil {
				return nil, err
			}
			d.mu.Lock()
			d.upstreams = append(d.upstreams, up)
			d.mu.Unlock()
			app = up
		}
		// In a cluster each drop-in hub has a Redis channel of its own.
		broker, node := cl.hubBroker(name)
		return hub.New(hub.Config{Key: key, Hub: name, App: app, Logger: cfg.Logger, RecoveryWindow: cfg.RecoveryWindow,
			Broker: broker, NodeID: node})
	}, ownHub)
	d.api = restapi.New(restapi.Config{AccessKey: key, Hubs: d.hubs, Logger: cfg.Logger})
	return d, nil
}

// serves reports whether the drop-in mode serves the hub a client asks for.
func (d *dropIn) serves(r *http.Request) bool {
	if d == nil {
		return false
	}
	name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/client/hubs/"), "/")
	return d.hubs.Serves(name)
}

// handler routes /api/hubs/ to the REST API and the rest to next.
func (d *dropIn) handler(next http.Handler) http.Handler {
	if d == nil {
		return next
	}
	mux := http.NewServeMux()
	mux.Handle("/api/hubs/", d.api)
	mux.Handle("/", next)
	return mux
}

// close closes the drop-in hubs and waits for their last upstream events.
func (d *dropIn) close(ctx context.Context) error {
	if d == nil {
		return nil
	}
	err := d.hubs.Close(ctx)
	d.mu.Lock()
	ups := d.upstreams
	d.mu.Unlock()
	for _, up := range ups {
		err = errors.Join(err, up.Close(ctx))
	}
	return err
}
