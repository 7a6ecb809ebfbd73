package metrics

import (
	"context"
	"time"

	"github.com/chatr/chatr"
)

// The MessageStore methods, observed like the others.

func (st *store) GetMessage(ctx context.Context, chatID string, id int64) (m chatr.Message, err error) {
	defer func(t time.Time) { st.observe("GetMessage", t, err) }(time.Now())
	return st.s.GetMessage(ctx, chatID, id)
}

func (st *store) EditMessage(ctx context.Context, e chatr.MessageEdit) (m chatr.Message, err error) {
	defer func(t time.Time) { st.observe("EditMessage", t, err) }(time.Now())
	return st.s.EditMessage(ctx, e)
}

func (st *store) DeleteMessage(ctx context.Context, chatID string, id int64, at time.Time) (m chatr.Message, err error) {
	defer func(t time.Time) { st.observe("DeleteMessage", t, err) }(time.Now())
	return st.s.DeleteMessage(ctx, chatID, id, at)
}

func (st *store) ToggleReaction(ctx context.Context, chatID string, id int64, userID, emoji string) (on bool, rs []chatr.Reaction, err error) {
	defer func(t time.Time) { st.observe("ToggleReaction", t, err) }(time.Now())
	return st.s.ToggleReaction(ctx, chatID, id, userID, emoji)
}

func (st *store) MentionCounts(ctx context.Context, userID string) (c map[string]int, err error) {
	defer func(t time.Time) { st.observe("MentionCounts", t, err) }(time.Now())
	return st.s.MentionCounts(ctx, userID)
}

func (st *store) ReadMarkers(ctx context.Context, userID string) (m map[string]int64, err error) {
	defer func(t time.Time) { st.observe("ReadMarkers", t, err) }(time.Now())
	return st.s.ReadMarkers(ctx, userID)
}
