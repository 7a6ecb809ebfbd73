// Package server assembles one Chatr node from a Config: the store, the hub,
// the chat application, sign-in and the HTTP API. It is wiring only; main
// parses flags into a Config, tests start a Server on port 0.
package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/aztables"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/metrics"
	"github.com/chatr/chatr/oauth"
	"github.com/chatr/chatr/outgoing"
	"github.com/chatr/chatr/postgres"
	"github.com/chatr/chatr/sqlite"
	"github.com/chatr/chatr/web"
)

// Timeouts of the HTTP server and of shutdown.
const (
	readHeaderTimeout = 10 * time.Second // slow-header (slowloris) clients are cut off
	// readTimeout and writeTimeout bound a whole request (a slow body) and
	// its answer. They do not reach WebSockets: net/http clears a
	// connection's deadlines when the hub hijacks it.
	readTimeout     = 30 * time.Second
	writeTimeout    = 60 * time.Second
	idleTimeout     = 120 * time.Second // keep-alive connections with no request
	shutdownTimeout = 10 * time.Second  // in-flight requests get this long at shutdown
	sessionSweep    = time.Hour         // how often expired sessions are deleted
)

// Config is a node's configuration. Zero values mean the defaults.
type Config struct {
	Addr string // listen address, default ":8080"
	// DB is a SQLite file path (default "chatr.db") or a postgres:// URL.
	DB string
	// Secret signs hub access tokens. Nodes of a cluster must share it.
	// When empty, a random one is generated on first start and kept in
	// SecretFile (default: the SQLite file's path + ".secret", or
	// "chatr.secret" with PostgreSQL).
	Secret     string
	SecretFile string

	Limits         chat.Limits
	IdleTimeout    time.Duration // client idle detection, default 60 s
	OfflineGrace   time.Duration // delay before userOffline after a user's last connection, default 3 s
	RecoveryWindow time.Duration // reliable sessions kept after a drop, default 60 s
	// MaxQueuedBytes and NodeQueuedBytes bound the bytes queued for one
	// connection and for the whole node (the slowest connections are shed
	// first); FlushWindow gathers frames for up to that long into one write.
	// Zero values mean the hub's defaults (16 MiB, 256 MiB, off).
	MaxQueuedBytes  int
	NodeQueuedBytes int
	FlushWindow     time.Duration
	SessionTTL      time.Duration // sign-in sessions, default 30 days
	// Guests is GuestsAuto (the default: guests may sign in when no external
	// provider is configured), GuestsOn or GuestsOff.
	Guests     string
	TrustProxy bool
	// NoUserTokens: only admins make API tokens (for bot accounts); users
	// may not make their own (--user-tokens=false).
	NoUserTokens bool
	// Admins names the server's administrators by user id or @handle
	// (comma- or space-separated), beside those granted in AdminsFile
	// (default: the SQLite file + ".admins", or "chatr.admins"), which
	// `chatr admin grant` writes and the node reads when it starts.
	Admins     string
	AdminsFile string
	// OnAccountDelete is what happens to a deleted account's messages:
	// "keep" (the default: shown as from "deleted user") or "remove".
	OnAccountDelete string
	// RequestsPerSecond and SignInsPerMinute limit each client IP (0 =
	// the httpapi defaults, negative = off).
	RequestsPerSecond float64
	SignInsPerMinute  float64
	// ConnectionsPerIP bounds the WebSockets open at once from one client
	// IP (0 = the httpapi default, negative = off).
	ConnectionsPerIP int
	// StoreTimeout bounds the storage work of one request or client frame
	// (default 10 s): past it a request gets 503, a frame a Timeout ack.
	StoreTimeout   time.Duration
	AllowedOrigins []string
	Logger         *slog.Logger
	// Redis (a redis:// URL) makes the node part of a cluster: the hub's
	// fan-out and presence go through it, shared with every node that uses
	// the same Redis, RedisPrefix (default "chatr:"), database and Secret.
	// Empty: the node runs alone, with in-process broker and presence.
	Redis       string
	RedisPrefix string
	// NodeID names the node in the cluster; unique per running process.
	// Default: the host name and a random suffix.
	NodeID string
	// OAuth lists the external sign-in providers (GitHub, Entra ID, X,
	// OIDC issuers); New fills in its wiring fields.
	OAuth oauth.Config
	// WebPubSub turns on the drop-in Azure Web PubSub mode (webpubsub.go).
	WebPubSub WebPubSub
	// Files configures uploaded files (files.go).
	Files Files
	// Outgoing configures outgoing webhooks (outgoing.go).
	Outgoing Outgoing

	// WrapStore, when set, wraps the store the server opened (fault
	// injection in tests, instrumentation).
	WrapStore func(chatr.Store) chatr.Store
}

// Server is one running Chatr node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    chatr.Store
	files    chatr.FileStore
	blobs    chatr.Blobs
	hub      *hub.Hub
	app      *chat.App
	http     *http.Server
	ln       net.Listener
	handler  *httpapi.Handler
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	running  bool
	mu       sync.Mutex
	cluster  *cluster // nil on a node that runs alone
	dropIn   *dropIn  // nil unless Config.WebPubSub.AccessKey is set
	outgoing *outgoing.Dispatcher
}

// New opens the store, builds the node and starts listening (so that Addr
// is known), but serves nothing until Run.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
	}
	if cfg.DB == "" {
		cfg.DB = "chatr.db"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if d := cfg.OnAccountDelete; d != "" && d != "keep" && d != "remove" {
		return nil, fmt.Errorf(`on-account-delete must be "keep" or "remove", not %q`, d)
	}
	ctx := context.Background()
	secret, err := loadSecret(cfg)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	cl, err := openCluster(ctx, cfg)
	if err != nil {
		store.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{}), cluster: cl}
	var presence chat.Presence
	var broker hub.Broker
	var nodeID string
	if cl != nil {
		presence, broker, nodeID = cl.presence, cl.broker, cl.node
	}
	var h *hub.Hub
	m := metrics.New(func() hub.Stats {
		if h == nil {
			return hub.Stats{}
		}
		return h.Stats()
	})
	fileStore := store.(chatr.FileStore) // every store is one
	if s.blobs, err = openBlobs(ctx, cfg); err != nil {
		store.Close()
		return nil, err
	}
	if cl != nil {
		m.RedisConnected(cl.broker.Reading)
	}
	if cfg.WrapStore != nil {
		store = cfg.WrapStore(store)
	}
	s.store, s.files = m.Store(store), m.FileStore(fileStore)
	admins, err := loadAdmins(cfg)
	if err != nil {
		cl.close(ctx, cfg.Logger, -1)
		store.Close()
		return nil, err
	}
	if s.outgoing, err = s.openOutgoing(cfg); err != nil {
		cl.close(ctx, cfg.Logger, -1)
		store.Close()
		return nil, err
	}
	m.Outgoing(s.outgoing.Stats)
	s.app = chat.New(chat.Config{Store: s.store, Presence: presence, Limits: cfg.Limits, OfflineGrace: cfg.OfflineGrace, StoreTimeout: cfg.StoreTimeout, Admins: admins, Files: s.files, Logger: cfg.Logger,
		MessageStored: s.outgoing.MessageStored})
	sessions := auth.New(auth.Config{Store: s.store, SessionTTL: cfg.SessionTTL, TrustProxy: cfg.TrustProxy})

	oa := cfg.OAuth
	oa.SignIn, oa.Key, oa.TrustProxy, oa.Logger = sessions.SignIn, derive(secret, "oauth sign-in"), cfg.TrustProxy, cfg.Logger
	providerAuth, err := oauth.New(oa)
	if err != nil {
		store.Close()
		return nil, err
	}
	noGuests, err := guestsOff(cfg.Guests, len(providerAuth.Providers()) > 0)
	if err != nil {
		cl.close(ctx, cfg.Logger, -1)
		store.Close()
		return nil, err
	}
	warnGuestAdmins(cfg.Logger, cfg.Admins, noGuests)
	if !noGuests && (len(cfg.OAuth.AllowEmailDomains) > 0 || len(cfg.OAuth.AllowGitHubOrgs) > 0) {
		cfg.Logger.Warn("sign-in allowlists are set while guests may sign in: guests are not checked against them; turn guests off (--guests auto or off)")
	}

	// The handler's origin check is needed by the hub, and the hub by the
	// handler: build the handler around a hub that is set just below.
	hubHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.dropIn.serves(r) {
			s.dropIn.hubs.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	s.handler = httpapi.New(httpapi.Config{
		Store: s.store, Auth: sessions, App: s.app, Hub: hubHandler, HubKey: derive(secret, "hub access token"), HubName: "chat",
		CloseUserConnections: func(ctx context.Context, userID, reason string) error {
			if err := s.app.RevokeTokens(ctx, userID, time.Now()); err != nil {
				return err
			}
			return h.CloseUserConnections(ctx, userID, reason)
		},
		DeleteUser:  deleteUser(store, cfg.OnAccountDelete != "remove"),
		ShareRename: cl.publishRename, NoGuests: noGuests, NoUserTokens: cfg.NoUserTokens, Static: web.Handler(), Metrics: m.Handler(), Files: s.files, FileRoutes: s.fileRoutes(sessions),
		Providers: providerAuth.Providers(), ProviderAuth: providerAuth, Outgoing: s.outgoing,
		RequestsPerSecond: cfg.RequestsPerSecond, SignInsPerMinute: cfg.SignInsPerMinute, ConnectionsPerIP: cfg.ConnectionsPerIP,
		StoreTimeout: cfg.StoreTimeout, IdleTimeout: cfg.IdleTimeout, TrustProxy: cfg.TrustProxy, AllowedOrigins: cfg.AllowedOrigins, Logger: cfg.Logger,
	})
	h, err = hub.New(hub.Config{
		Key: derive(secret, "hub access token"), Hub: "chat", App: s.app, Logger: cfg.Logger,
		CheckOrigin: s.handler.CheckOrigin, ObserveFanout: m.ObserveFanout, RecoveryWindow: cfg.RecoveryWindow,
		Broker: broker, NodeID: nodeID,
		MaxQueuedBytes: cfg.MaxQueuedBytes, NodeQueuedBytes: cfg.NodeQueuedBytes, FlushWindow: cfg.FlushWindow,
	})
	if err != nil {
		cl.close(ctx, cfg.Logger, -1)
		store.Close()
		return nil, err
	}
	s.hub = h
	s.app.Attach(h)
	if err := errors.Join(cl.start(ctx, s.app.PresenceChanged), cl.shareRenames(ctx, s.app.RenameHeld)); err != nil {
		h.Close(ctx)
		cl.close(ctx, cfg.Logger, -1)
		store.Close()
		return nil, err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		h.Close(ctx)
		cl.close(ctx, cfg.Logger, -1)
		store.Close()
		return nil, err
	}
	if cfg.ConnectionsPerIP >= 0 && !cfg.TrustProxy {
		perIP := cfg.ConnectionsPerIP
		if perIP == 0 {
			perIP = httpapi.DefaultConnectionsPerIP
		}
		ln = newIPLimitListener(ln, perIP+tcpSlack)
	}
	ln = httpapi.Listener(ln) // net/http's own error answers as JSON with the security headers
	s.ln = ln
	if s.dropIn, err = openDropIn(cfg, "chat", ln.Addr(), cl); err != nil {
		ln.Close()
		h.Close(ctx)
		cl.close(ctx, cfg.Logger, -1)
		store.Close()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.dropIn.handler(s.handler),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    32 << 10,
		// "OPTIONS *" reaches the handler, which answers it like any request.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Addr is the address the server listens on ("127.0.0.1:41234").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done or Close is called, then shuts down
// gracefully: sockets are closed with 1001, in-flight requests finish, the
// store is flushed and closed.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	defer close(s.done)
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(s.ln) }()
	go s.sweepSessions()
	s.outgoing.Start()
	go s.sweepFiles()
	s.log.Info("chatr listening", "addr", s.Addr(), "db", redactDB(s.cfg.DB))

	var err error
	select {
	case <-ctx.Done():
	case <-s.stop:
	case err = <-serveErr:
	}
	s.stopOnce.Do(func() { close(s.stop) })
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if herr := s.hub.Close(sctx); herr != nil {
		s.log.Warn("hub shutdown", "err", herr)
	}
	s.outgoing.Close()
	if derr := s.dropIn.close(sctx); derr != nil {
		s.log.Warn("drop-in hubs shutdown", "err", derr)
	}
	if serr := s.http.Shutdown(sctx); serr != nil {
		s.log.Warn("http shutdown", "err", serr)
	}
	if cerr := s.cluster.close(sctx, s.log, s.cfg.OfflineGrace); cerr != nil {
		s.log.Warn("cluster shutdown", "err", cerr)
	}
	if cerr := s.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	s.log.Info("chatr stopped")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close stops a running server and waits for its shutdown; on a server that
// never ran it releases the listener and the store.
func (s *Server) Close() error {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.stop) })
	if running {
		<-s.done
		return nil
	}
	s.ln.Close()
	s.hub.Close(context.Background())
	s.outgoing.Close()
	s.dropIn.close(context.Background())
	s.cluster.close(context.Background(), s.log, -1)
	return s.store.Close()
}

func (s *Server) sweepSessions() {
	t := time.NewTicker(sessionSweep)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if n, err := s.store.DeleteExpiredSessions(context.Background(), time.Now()); err != nil {
				s.log.Warn("session sweep", "err", err)
			} else if n > 0 {
				s.log.Info("expired sessions deleted", "count", n)
			}
		}
	}
}

func openStore(ctx context.Context, db string) (chatr.Store, error) {
	if aztables.IsConnectionString(db) {
		st, err := aztables.Open(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("open table storage: %w", err)
		}
		return st, nil
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		st, err := postgres.Open(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", db, err)
	}
	return st, nil
}

// loadSecret returns the configured secret, or the one kept in the secret
// file, creating it (mode 0600) on first start.
func loadSecret(cfg Config) ([]byte, error) {
	if cfg.Secret != "" {
		if len(cfg.Secret) < 16 {
			return nil, errors.New("secret must be at least 16 characters")
		}
		return []byte(cfg.Secret), nil
	}
	path := cfg.SecretFile
	if path == "" {
		path = "chatr.secret"
		if !strings.Contains(cfg.DB, "://") && !aztables.IsConnectionString(cfg.DB) {
			path = cfg.DB + ".secret"
		}
	}
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 16 {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("secret file %s holds less than 16 characters", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(b)
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keep generated secret: %w", err)
	}
	return []byte(secret), nil
}

// derive gives each use of the secret a key of its own.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// redactDB hides a password in a database URL for logs.
func redactDB(db string) string {
	if aztables.IsConnectionString(db) {
		return aztables.Redact(db)
	}
	if i := strings.Index(db, "://"); i >= 0 {
		if at := strings.LastIndex(db, "@"); at > i {
			return db[:i+3] + "***" + db[at:]
		}
	}
	return db
}

// deleteUser returns the account deletion of the store, or nil when it
// cannot delete accounts.
func deleteUser(store chatr.Store, keepMessages bool) func(ctx context.Context, userID string) error {
	d, ok := store.(chatr.UserDeleter)
	if !ok {
		return nil
	}
	return func(ctx context.Context, userID string) error { return d.DeleteUser(ctx, userID, keepMessages) }
}
