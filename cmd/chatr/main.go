// Command chatr runs a Chatr node: the chat server, its WebSocket hub and the
// browser app, on SQLite by default or PostgreSQL.
//
// Every flag has an environment fallback: --max-message-bytes is
// CHATR_MAX_MESSAGE_BYTES, and so on. Run chatr --help for the list.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/files"
	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/server"
	"github.com/chatr/chatr/upstream"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chatr:", err)
		os.Exit(1)
	}
}

// options are the parsed command line: the node's Config and the logging
// settings main applies itself.
type options struct {
	server    server.Config
	logFormat string
	logLevel  string
	origins   string
	oauthDone func() error // moves the parsed OIDC provider lists into server.OAuth
	pprofAddr string
}

// newFlagSet defines every flag; parse fills the returned options.
func newFlagSet() (*flag.FlagSet, *options) {
	fs := flag.NewFlagSet("chatr", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: chatr [flags]\n\nRuns a Chatr node. Every flag can also be set by the environment variable shown.\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(fs.Output(), "  --%s (%s)\n    \t%s", f.Name, envName(f.Name), f.Usage)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
			}
			fmt.Fprintln(fs.Output())
		})
	}
	o := &options{}
	cfg := &o.server
	fs.StringVar(&cfg.Addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&cfg.DB, "db", "chatr.db", "SQLite file, a postgres:// URL, or an Azure Table Storage connection string (aztables:<connection string>)")
	fs.StringVar(&cfg.Secret, "secret", "", "secret that signs access tokens, 16+ characters; nodes of a cluster share it (default: generated and kept in --secret-file)")
	fs.StringVar(&cfg.SecretFile, "secret-file", "", "where a generated secret is kept (default: the SQLite file + .secret, or chatr.secret)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", chat.DefaultIdleTimeout, "inactivity after which a user shows as idle")
	fs.DurationVar(&cfg.OfflineGrace, "offline-grace", chat.DefaultOfflineGrace, "how long a user's last connection must stay gone before they show as offline")
	fs.DurationVar(&cfg.RecoveryWindow, "recovery-window", 60*time.Second, "how long a dropped reliable connection can recover its session")
	fs.IntVar(&cfg.MaxQueuedBytes, "max-queued-bytes", 16<<20, "bytes queued for one connection before it is cut off as a slow consumer")
	fs.IntVar(&cfg.NodeQueuedBytes, "node-queued-bytes", 256<<20, "bytes queued for all connections of the node; over it the connections holding the most are shed first")
	fs.DurationVar(&cfg.FlushWindow, "flush-window", 0, "gather a connection's frames for up to this long into one write (0: write at once; at most 20ms)")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", 30*24*time.Hour, "lifetime of an unused sign-in session (renewed on use)")
	fs.IntVar(&cfg.Limits.MaxMessageBytes, "max-message-bytes", chat.DefaultMaxMessageBytes, "largest chat message, in bytes")
	fs.IntVar(&cfg.Limits.MaxChatNameLength, "max-chat-name", chat.DefaultMaxChatNameLength, "longest chat name, in characters")
	fs.Float64Var(&cfg.Limits.MessagesPerSecond, "messages-per-second", chat.DefaultMessagesPerSecond, "chat messages a user may send per second, sustained")
	fs.IntVar(&cfg.Limits.MessageBurst, "message-burst", chat.DefaultMessageBurst, "chat messages a user may send at once")
	fs.IntVar(&cfg.Limits.ConnectionsPerUser, "connections-per-user", chat.DefaultConnectionsPerUser, "live connections one user may hold on a node")
	fs.Float64Var(&cfg.Limits.EventsPerSecond, "events-per-second", chat.DefaultEventsPerSecond, "state-changing events (createChat, joinChat, markRead, ...) a user may send per second, sustained")
	fs.IntVar(&cfg.Limits.EventBurst, "event-burst", chat.DefaultEventBurst, "state-changing events a user may send at once")
	fs.IntVar(&cfg.Limits.MentionAllMax, "mention-all-max", chat.DefaultMentionAllMax, "members of the largest chat in which anyone may mention @all; in larger ones only the owner and moderators may")
	fs.Float64Var(&cfg.RequestsPerSecond, "requests-per-second", httpapi.DefaultRequestsPerSecond, "HTTP requests per client IP and second, sustained (negative: no limit)")
	fs.IntVar(&cfg.ConnectionsPerIP, "connections-per-ip", httpapi.DefaultConnectionsPerIP, "WebSockets open at once from one client IP (an IPv6 /64), and, without --trust-proxy, TCP connections up to 64 more (negative: no limit)")
	fs.Float64Var(&cfg.SignInsPerMinute, "sign-ins-per-minute", httpapi.DefaultSignInsPerMinute, "sign-in attempts per client IP and minute (negative: no limit)")
	fs.StringVar(&cfg.Guests, "guests", server.GuestsAuto, "guest sign-in: auto (on when no external sign-in provider is configured, off as soon as one is), on or off")
	fs.BoolFunc("no-guests", "the same as --guests off (kept for existing setups)", func(string) error {
		cfg.Guests = server.GuestsOff
		return nil
	})
	fs.BoolFunc("user-tokens", "whether users may make their own API tokens (default true; false leaves tokens to administrators, for bot accounts)", func(v string) error {
		on, err := strconv.ParseBool(v)
		cfg.NoUserTokens = !on
		return err
	})
	fs.StringVar(&cfg.Admins, "admins", "", "the server's administrators: user ids (github:123) or handles (@alice), comma-separated; they moderate every chat and may ban users")
	fs.StringVar(&cfg.AdminsFile, "admins-file", "", "file of administrators granted with `chatr admin grant`, read at start beside --admins (default: the SQLite file + .admins, or chatr.admins)")
	fs.StringVar(&cfg.OnAccountDelete, "on-account-delete", "keep", `what happens to the messages of a deleted account: "keep" (shown as from "deleted user") or "remove"`)
	fs.StringVar(&cfg.Files.Dir, "files-dir", "", "folder that keeps uploaded files (default: beside the SQLite file, its path + .files; chatr-files with another store)")
	fs.StringVar(&cfg.Files.S3, "files-s3", "", "keep uploaded files in an S3-compatible bucket instead: https://[ACCESS:SECRET@]host[:port]/bucket[/prefix] (http:// for plain HTTP; credentials otherwise from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	fs.Int64Var(&cfg.Files.MaxUploadBytes, "max-upload-bytes", files.DefaultMaxUploadBytes, "largest uploaded file, in bytes")
	fs.Int64Var(&cfg.Files.QuotaBytes, "file-quota-bytes", 1<<30, "total size of one user's uploaded files, in bytes (0: no quota)")
	fs.DurationVar(&cfg.Files.SweepEvery, "file-sweep", time.Hour, "how often stored files that nothing refers to any more are deleted (also at start)")
	fs.DurationVar(&cfg.Files.SweepGrace, "file-sweep-grace", time.Hour, "how old such a file, or an upload's leftover, must be to be deleted: longer than any upload in flight takes")
	fs.DurationVar(&cfg.Files.UnsentAfter, "unsent-file-age", 24*time.Hour, "how long a file uploaded but never sent with a message is kept (it counts against its uploader's quota) before the file sweep deletes it")
	fs.Float64Var(&cfg.Files.UploadsPerMinute, "uploads-per-minute", files.DefaultUploadsPerMinute, "uploads per user, and per client IP, and minute (negative: no limit)")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", false, "trust X-Forwarded-Proto and X-Forwarded-Host (only behind a proxy that sets them)")
	fs.StringVar(&o.origins, "allowed-origins", "", "comma-separated extra origins allowed to sign in and connect (e.g. https://chat.example.com)")
	fs.StringVar(&cfg.Redis, "redis", "", "redis:// URL that makes this node part of a cluster (fan-out and presence shared through Redis); empty: the node runs alone")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", "chatr:", "prefix of the cluster's Redis keys and channels (clusters sharing a Redis need different ones)")
	fs.StringVar(&cfg.NodeID, "node-id", "", "this node's name in the cluster, unique per running process (default: host name and a random suffix)")
	wps := &cfg.WebPubSub
	wps.UserEvents, wps.SystemEvents = []string{"*"}, []string{"connect", "connected", "disconnected"}
	fs.StringVar(&wps.AccessKey, "webpubsub-access-key", "", "turns on the drop-in Azure Web PubSub mode: every hub but chat is served for an external app, with the service REST API at /api/hubs/; this key signs client tokens and the REST API's tokens")
	fs.StringVar(&wps.UpstreamURL, "upstream-url-template", "", "drop-in mode: the external event handler's URL, with {hub} and {event} (e.g. http://localhost:3000/eventhandler/{hub}/{event}); empty: no upstream events")
	fs.Func("upstream-events", "drop-in mode: user events sent upstream, * or a comma list (default *)", func(v string) error {
		wps.UserEvents = upstream.SplitList(v)
		return nil
	})
	fs.Func("upstream-system-events", "drop-in mode: system events sent upstream, a comma list of connect, connected, disconnected (default all three)", func(v string) error {
		wps.SystemEvents = upstream.SplitList(v)
		return nil
	})
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "debug only: serve net/http/pprof on this address (e.g. 127.0.0.1:6060); empty: off")
	o.oauthDone = oauthFlags(fs, &cfg.OAuth)
	outgoingFlags(fs, &cfg.Outgoing)
	return fs, o
}

// parse applies the CHATR_* environment fallbacks, then the command line,
// so that flags win over the environment.
func parse(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s: %w", envName(f.Name), err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	return fs.Parse(args)
}

func run(args []string) error {
	if cmd, ok := subcommand(args); ok {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return cmd(ctx)
	}
	fs, o := newFlagSet()
	if err := parse(fs, args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if err := o.oauthDone(); err != nil {
		return err
	}
	cfg := o.server
	for _, origin := range strings.Split(o.origins, ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, origin)
		}
	}
	logger, err := newLogger(o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	slog.SetDefault(logger)

	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if o.pprofAddr != "" {
		if err := servePprof(o.pprofAddr, logger); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
}

// envName is the environment variable of a flag: --max-message-bytes is
// CHATR_MAX_MESSAGE_BYTES.
func envName(flagName string) string {
	return "CHATR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", format)
}
