package restapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/chatr/chatr/hub"
)

// DefaultMaxHubs bounds how many hubs a HubSet starts.
const DefaultMaxHubs = 100

// hubName is what the service accepts as a hub name.
var hubName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)

// HubSet starts one *hub.Hub per hub name on first use, the way the service
// serves any hub an application names, and serves their client endpoints.
// Hub names are case-insensitive.
type HubSet struct {
	key      []byte
	newHub   func(name string) (*hub.Hub, error)
	reserved map[string]bool
	max      int

	mu   sync.Mutex
	hubs map[string]*hub.Hub
}

// NewHubSet returns a set that builds a hub with newHub (given the
// lowercased name); key checks the access token of a client that would
// start a hub. Reserved names are never served (Chatr's own hub).
func NewHubSet(key []byte, newHub func(name string) (*hub.Hub, error), reserved ...string) *HubSet {
	s := &HubSet{key: key, newHub: newHub, reserved: map[string]bool{}, max: DefaultMaxHubs, hubs: map[string]*hub.Hub{}}
	for _, r := range reserved {
		s.reserved[strings.ToLower(r)] = true
	}
	return s
}

// Serves reports whether name is a hub name the set serves.
func (s *HubSet) Serves(name string) bool {
	return hubName.MatchString(name) && !s.reserved[strings.ToLower(name)]
}

// Get returns the hub if it has been started, else nil.
func (s *HubSet) Get(name string) *hub.Hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hubs[strings.ToLower(name)]
}

// Open returns the hub, starting it on first use.
func (s *HubSet) Open(name string) (*hub.Hub, error) {
	if !s.Serves(name) {
		return nil, fmt.Errorf("hub name %q is not served: use a letter then letters, digits or underscores", name)
	}
	key := strings.ToLower(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hubs[key]; h != nil {
		return h, nil
	}
	if len(s.hubs) >= s.max {
		return nil, errors.New("too many hubs")
	}
	h, err := s.newHub(key)
	if err != nil {
		return nil, err
	}
	s.hubs[key] = h
	return h, nil
}

// ServeHTTP serves GET /client/hubs/{hub} for the set's hubs.
func (s *HubSet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, _ := strings.CutPrefix(r.URL.Path, "/client/hubs/")
	name = strings.TrimSuffix(name, "/")
	h := s.Get(name)
	if h == nil {
		// Only a client with a valid token starts a hub, so that strangers
		// cannot use up the set's hubs.
		if !s.Serves(name) {
			http.NotFound(w, r)
			return
		}
		tok := r.URL.Query().Get("access_token")
		if a := r.Header.Get("Authorization"); tok == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			tok = strings.TrimSpace(a[7:])
		}
		if _, err := hub.ParseToken(s.key, tok, time.Now()); err != nil {
			http.Error(w, "invalid access token", http.StatusUnauthorized)
			return
		}
		var err error
		if h, err = s.Open(name); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	h.ServeHTTP(w, r)
}

// Close closes every hub (sockets get 1001).
func (s *HubSet) Close(ctx context.Context) error {
	s.mu.Lock()
	hubs := make([]*hub.Hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		hubs = append(hubs, h)
	}
	s.mu.Unlock()
	var errs []error
	for _, h := range hubs {
		errs = append(errs, h.Close(ctx))
	}
	return errors.Join(errs...)
}
