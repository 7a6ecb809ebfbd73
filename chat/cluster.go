package chat

import (
	"context"
)

// PresenceChanged announces presence changes that did not come through the
// hub's hooks: in a cluster, the users of a node that died without closing
// its connections (offline), or users a node put back after the shared
// presence lost them (online). A cluster Presence calls it, exactly once
// per change across the cluster.
//
// A user reported offline who has a live connection again by now is not
// announced; userOffline otherwise goes out, after the user's
// last-seen time is recorded, as when a last connection closes. Both go to
// the user's watchers only (see notify.go).
func (a *App) PresenceChanged(ctx context.Context, online, offline []string) {
	for _, id := range offline {
		a.announceOffline(id)
	}
	for _, id := range online {
		u, err := a.store.GetUser(ctx, id)
		if err != nil {
			a.log.Error("presence changed: load user", "user", id, "err", err)
			continue
		}
		if err := a.toWatchers(ctx, id, "online", onlineEvent(u)); err != nil {
			a.log.Error("presence changed: announce", "user", id, "err", err)
		}
	}
}
