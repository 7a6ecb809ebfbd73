package chat

import (
	"context"
	"errors"
	"html"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// userOnline is the payload of the userOnline server event.
type userOnline struct {
	UserID       string `json:"userId"`
	UserName     string `json:"userName"`
	UserProvider string `json:"userProvider"`
	Idle         bool   `json:"idle"`
}

// Connect accepts connections of known users only, within the per-user
// connection limit, and joins them to the groups of every chat they are a
// member of.
func (a *App) Connect(ctx context.Context, req *hub.ConnectRequest) (err error) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	defer func() { err = timedOut(ctx, err) }()
	userID := req.Conn.UserID
	if userID == "" {
		return &hub.AckError{Name: "Unauthorized", Message: "anonymous connections are not allowed"}
	}
	u, err := a.store.GetUser(ctx, userID)
	if err != nil {
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			return &hub.AckError{Name: "Unauthorized", Message: "unknown user"}
		}
		return err
	}
	if tokenRevoked(req.Claims.IssuedAt, u.TokensRevoked) {
		return &hub.AckError{Name: "Unauthorized", Message: "access token was revoked by a sign-out"}
	}
	if n, err := a.presence.Count(ctx, userID); err != nil {
		return err
	} else if n >= a.limits.ConnectionsPerUser {
		return &hub.AckError{Name: "Forbidden", Message: "too many connections for this user"}
	}
	chats, err := a.store.ListUserChats(ctx, userID)
	if err != nil {
		return err
	}
	// The original client renders message text as HTML: its connections get
	// the text escaped. A client on the plain protocol that renders text as
	// text says so with ?render=text; the reliable protocol is spoken only
	// by the SDK and Chatr's own client, which never render it as HTML.
	req.Conn.HTMLText = req.Conn.Protocol == hub.ProtocolJSON && req.Query.Get("render") != "text"
	// Chatr's own client says with ?batch=1 that it reads batch frames:
	// presence and membership changes then reach it coalesced.
	req.Conn.Batches = req.Query.Get("batch") == "1"
	watched, err := a.watchedAtConnect(ctx, userID, chats)
	if err != nil {
		return err
	}
	req.Conn.Handoff = &connectState{user: u, watched: watched}
	// Group membership is the store's to decide, never the token's.
	req.Groups = req.Groups[:0]
	for _, c := range chats {
		req.Groups = append(req.Groups, c.ID)
	}
	for _, id := range watched {
		req.Groups = append(req.Groups, presenceGroup(id))
	}
	return nil
}

// connectState is what Connect hands Connected (hub.ConnInfo.Handoff): the
// user as read at connect and the users the connection watches.
type connectState struct {
	user    chatr.User
	watched []string
}

// Connected counts the connection for presence, tells the user's watchers
// when the user has just come online, always tells the new connection
// itself, and sends a batching connection the presence of the users it
// watches.
func (a *App) Connected(ctx context.Context, conn *hub.ConnInfo) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	state, _ := conn.Handoff.(*connectState)
	conn.Handoff = nil
	var u chatr.User
	if state != nil {
		u = state.user
	} else {
		var err error
		if u, err = a.store.GetUser(ctx, conn.UserID); err != nil {
			a.log.Error("connected: load user", "user", conn.UserID, "err", err)
			return
		}
	}
	a.names.hold(u.ID, u.Name)
	first, err := a.presence.Add(ctx, conn.UserID, conn.ID)
	if err != nil {
		a.log.Error("connected: presence", "user", conn.UserID, "err", err)
	}
	// A new connection is a person at a keyboard: a user who was idle and
	// reloads (or opens a tab while another connection or a recoverable
	// session still counts them online) is active again.
	wasIdle := u.Idle
	if wasIdle {
		if err := a.store.SetIdle(ctx, u.ID, false, a.now()); err != nil {
			a.log.Error("connected: clear idle", "user", u.ID, "err", err)
		}
		u.Idle = false
	}
	if !conn.Batches {
		if err := a.hub.AddConnectionToGroup(ctx, conn.ID, chatsGroup); err != nil {
			a.log.Error("connected: chat list", "user", u.ID, "err", err)
		}
	}
	msg := onlineEvent(u)
	// The original client waits for its own userOnline: it goes to every
	// new connection unbatched, whatever the watchers hear.
	err = a.hub.SendToConnection(ctx, conn.ID, msg)
	if err == nil && first {
		err = a.toWatchers(ctx, u.ID, "online", msg)
	} else if err == nil && wasIdle {
		err = a.toWatchers(ctx, u.ID, "idle", serverEvent("userNotIdle", u.ID))
	}
	if err != nil {
		a.log.Error("connected: announce", "user", u.ID, "err", err)
	}
	// A batching client is told who of those it shows is online in one
	// frame: after a restart, N reconnecting clients cost N frames. The
	// original client reads GET /api/users at start instead.
	if conn.Batches {
		watched := []string(nil)
		if state != nil {
			watched = state.watched
		} else {
			watched = a.connectWatched(ctx, conn)
		}
		if err := a.sendSnapshot(ctx, conn, watched); err != nil {
			a.log.Error("connected: presence snapshot", "user", u.ID, "err", err)
		}
	}
}

// connectWatched returns the users a connection watches from its connect:
// those of its hidden presence groups, recomputed from its chats.
func (a *App) connectWatched(ctx context.Context, conn *hub.ConnInfo) []string {
	chats, err := a.store.ListUserChats(ctx, conn.UserID)
	if err != nil {
		a.log.Error("connected: list chats", "user", conn.UserID, "err", err)
		return nil
	}
	ids, err := a.watchedAtConnect(ctx, conn.UserID, chats)
	if err != nil {
		a.log.Error("connected: watched users", "user", conn.UserID, "err", err)
	}
	return ids
}

// Disconnected tells everyone when the user's last connection is gone, after
// a grace period: a reload or a quick reconnect must not flash the user
// offline, so the announcement is made only if no connection came back.
func (a *App) Disconnected(ctx context.Context, conn *hub.ConnInfo, reason string) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	a.names.release(conn.UserID)
	a.unsettled.forget(conn.ID)
	a.watching.forget(conn.ID)
	last, err := a.presence.Remove(ctx, conn.UserID, conn.ID)
	if err != nil {
		a.log.Error("disconnected: presence", "user", conn.UserID, "err", err)
		return
	}
	if !last {
		return
	}
	if a.offlineGrace <= 0 {
		a.announceOffline(conn.UserID)
		return
	}
	time.AfterFunc(a.offlineGrace, func() { a.announceOffline(conn.UserID) })
}

// announceOffline records the user's last-seen time and tells the user's
// watchers userOffline, unless the user has a live connection again.
func (a *App) announceOffline(userID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := a.presence.Count(ctx, userID); err != nil {
		a.log.Error("offline: presence", "user", userID, "err", err)
		return
	} else if n > 0 {
		return
	}
	if u, err := a.store.GetUser(ctx, userID); err == nil {
		if err := a.store.SetIdle(ctx, u.ID, u.Idle, a.now()); err != nil {
			a.log.Error("offline: last seen", "user", u.ID, "err", err)
		}
	}
	if err := a.toWatchers(ctx, userID, "online", serverEvent("userOffline", userID)); err != nil {
		a.log.Error("offline: announce", "user", userID, "err", err)
	}
}

// Join lets a connection join the group of a chat its user is a member of;
// chats are joined with the joinChat event, which records the membership.
func (a *App) Join(ctx context.Context, conn *hub.ConnInfo, group string) (err error) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	defer func() { err = timedOut(ctx, err) }()
	if hiddenGroup(group) {
		return &hub.AckError{Name: "Forbidden", Message: "this group is the server's own"}
	}
	if !a.events.Allow(conn.UserID, a.now()) {
		return &hub.AckError{Name: "TooManyRequests", Message: "slow down: too many joins"}
	}
	ok, err := a.store.IsMember(ctx, group, conn.UserID)
	if err != nil {
		return err
	}
	if !ok {
		return &hub.AckError{Name: "Forbidden", Message: "join the chat with the joinChat event first"}
	}
	return nil
}

// bounded gives a hook's work a deadline: a hung store or presence turns
// into a Timeout ack instead of a client (and its reader) waiting forever.
func (a *App) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.storeTimeout)
}

// timedOut turns an unexpected error of a hook whose deadline passed into
// the Timeout ack. The work may still have taken effect (a message may be
// stored), as with any internal error.
func timedOut(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != context.DeadlineExceeded {
		return err
	}
	var ae *hub.AckError
	if errors.As(err, &ae) && ae.Name != "InternalServerError" {
		return err
	}
	return &hub.AckError{Name: "Timeout", Message: "storage did not answer in time; the request may or may not have taken effect"}
}

// ackError maps an application error to the ack error the client sees.
func ackError(err error) error {
	if err == nil {
		return nil
	}
	name := map[string]string{
		chatr.ECONFLICT:  "Conflict",
		chatr.EGONE:      "Gone",
		chatr.EFORBIDDEN: "Forbidden",
		chatr.EINVALID:   "BadRequest",
		chatr.ELIMIT:     "TooManyRequests",
		chatr.ENOTFOUND:  "NotFound",
		chatr.EUNAUTH:    "Unauthorized",
	}[chatr.ErrorCode(err)]
	if name == "" {
		return err // internal: the hub logs it and acks InternalServerError
	}
	return &hub.AckError{Name: name, Message: chatr.ErrorMessage(err)}
}

// escape makes user-written text safe inside an announcement, which the
// original client renders as HTML.
func escape(s string) string { return html.EscapeString(s) }
