package metrics

import (
	"context"
	"time"

	"github.com/chatr/chatr"
)

func (st *store) ChatUnread(ctx context.Context, userID, chatID string) (u chatr.ChatUnread, err error) {
	defer func(t time.Time) { st.observe("ChatUnread", t, err) }(time.Now())
	return st.s.ChatUnread(ctx, userID, chatID)
}
