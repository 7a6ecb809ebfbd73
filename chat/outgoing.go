package chat

import (
	"context"
)

// ManageOutgoingWebhooks checks that the user may see and change the
// outgoing webhooks of the chat: its owner, moderators and the server's
// admins, in group chats only. A change (write) also spends one of the
// user's state-changing events. A chat the user may not see is ENOTFOUND.
func (a *App) ManageOutgoingWebhooks(ctx context.Context, userID, chatID string, write bool) error {
	if write {
		if err := a.allowEvent(userID); err != nil {
			return err
		}
	}
	_, err := a.roomAccess(ctx, userID, chatID, toModerate)
	return err
}
