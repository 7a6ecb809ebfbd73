package chat

import (
	"context"
	"sync"
	"time"

	"github.com/chatr/chatr/hub"
)

// crowdWindow is how long the joins and leaves of a large chat gather
// before its members hear of them, once, as membersChanged.
const crowdWindow = 200 * time.Millisecond

// membersChanged is the payload of membersChanged: a large chat's member
// count after the joins and leaves of a window. Its members refetch the
// list (GET /api/chats/{id}/members) when they show it.
type membersChanged struct {
	ChatID      string `json:"chatId"`
	MemberCount int    `json:"memberCount"`
}

// crowds gathers the membership changes of large chats. Telling every
// member of a chat of N about each of N joins costs N² items however they
// are batched (a join storm of 10,000 is 50 million); a window's changes
// instead cost each member one small frame, whatever their number.
type crowds struct {
	mu      sync.Mutex
	pending map[string]bool // chat id -> a flush is scheduled
}

// crowdChanged schedules the chat's membersChanged at the end of the current
// window (a window opens with the first change after the last flush).
func (a *App) crowdChanged(chatID string) {
	a.crowd.mu.Lock()
	defer a.crowd.mu.Unlock()
	if a.crowd.pending[chatID] {
		return
	}
	if a.crowd.pending == nil {
		a.crowd.pending = map[string]bool{}
	}
	a.crowd.pending[chatID] = true
	time.AfterFunc(crowdWindow, func() { a.flushCrowd(chatID) })
}

// flushCrowd tells the chat's members its member count now. The count is
// read after the window closes, so it includes every change of the window.
func (a *App) flushCrowd(chatID string) {
	a.crowd.mu.Lock()
	delete(a.crowd.pending, chatID)
	a.crowd.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), a.storeTimeout)
	defer cancel()
	ms, err := a.store.ListMembers(ctx, chatID)
	if err != nil {
		a.log.Debug("membersChanged: no member list", "chat", chatID, "err", err)
		return
	}
	m := serverEvent("membersChanged", membersChanged{chatID, len(ms)})
	m.AsServer = true
	if err := a.hub.SendToGroup(ctx, chatID, m); err != nil {
		a.log.Debug("membersChanged not sent", "chat", chatID, "err", err)
	}
}

// toSelf sends a membership event about the user to the user's own
// connections only: in a large chat the others hear membersChanged.
func (a *App) toSelf(ctx context.Context, userID string, m hub.Message) error {
	m.AsServer = true
	return a.hub.SendToUser(ctx, userID, m)
}
