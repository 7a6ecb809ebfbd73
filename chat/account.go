package chat

import (
	"context"

	"github.com/chatr/chatr"
)

// AccountDeleted tells the members of the chats a deleted user belonged to
// that the user has left them (memberLeft), and takes the chats' groups
// from the user. The store has removed the memberships already; the user's
// sockets are closed by the caller.
func (a *App) AccountDeleted(ctx context.Context, u chatr.User, chats []chatr.Chat) error {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	for _, c := range chats {
		if err := a.hub.RemoveUserFromGroup(ctx, u.ID, c.ID); err != nil {
			return err
		}
		if err := a.toMembers(ctx, c.ID, u.ID, membership("memberLeft", c.ID, u.ID, u.Name)); err != nil {
			return err
		}
	}
	return nil
}
