package chat

import (
	"context"

	"github.com/chatr/chatr"
)

// userRenamed is the payload of the userRenamed server event.
type userRenamed struct {
	UserID   string `json:"userId"`
	UserName string `json:"userName"`
}

// OnlineIDs returns the ids of the users online now, for the people
// directory.
func (a *App) OnlineIDs(ctx context.Context) (map[string]bool, error) {
	ids, err := a.presence.Online(ctx)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set, nil
}

// AllowRename reports whether the user may change their display name now:
// a rename is announced in every chat of the user, so it counts against the
// user's budget of state-changing events.
func (a *App) AllowRename(userID string) bool {
	return a.events.Allow(userID, a.now())
}

// UserRenamed announces that the user (as stored, with the new name) chose a
// new display name: userRenamed goes to the members of each of the user's
// chats (direct messages included) and to the user's own connections, and
// the user's messages sent through this node are stamped with the new name
// from now on. A node where the user is connected too picks the new name up
// on the user's next connection there.
func (a *App) UserRenamed(ctx context.Context, u chatr.User) error {
	a.names.rename(u.ID, u.Name)
	chats, err := a.store.ListUserChats(ctx, u.ID)
	if err != nil {
		return err
	}
	msg := userEvent("userRenamed", func(esc func(string) string) any { return userRenamed{u.ID, esc(u.Name)} })
	for _, c := range chats {
		if err := a.hub.SendToGroup(ctx, c.ID, msg); err != nil {
			return err
		}
	}
	return a.hub.SendToUser(ctx, u.ID, msg)
}

// rename changes the name held for a connected user.
func (n *userNames) rename(userID, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.m[userID]; e != nil {
		e.name = name
	}
}

// IsOnline reports whether the user has a live connection.
func (a *App) IsOnline(ctx context.Context, userID string) (bool, error) {
	n, err := a.presence.Count(ctx, userID)
	return n > 0, err
}
