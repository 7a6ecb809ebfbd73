package httpapi

import (
	"net/http"
	"strconv"

	"github.com/chatr/chatr"
)

// Page size bounds of the history API.
const (
	defaultPage = 50
	maxPage     = 200
)

// messages pages through a chat's history; members only, and a chat the
// caller may not read is reported as not found. Each message carries its
// current text, edited time, deleted flag, reactions, reply and mentions.
// The first page and a page around a message also carry the caller's read
// marker (lastRead), from which the client draws its "New messages" line.
func (h *Handler) messages(w http.ResponseWriter, r *http.Request, u chatr.User) {
	ctx := r.Context()
	chatID := r.PathValue("id")
	ok, err := h.cfg.Store.IsMember(ctx, chatID, u.ID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if !ok {
		h.Error(w, r, chatr.Errorf(chatr.ENOTFOUND, "no such chat, or you are not a member"))
		return
	}
	page, err := messageQuery(r)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	out := map[string]any{}
	if page.Before == 0 && page.After == 0 {
		markers, err := h.cfg.Store.ReadMarkers(ctx, u.ID)
		if err != nil {
			h.Error(w, r, err)
			return
		}
		out["lastRead"] = markers[chatID]
	}
	var msgs []chatr.Message
	if page.Around != 0 {
		msgs, out["hasMore"], out["hasNewer"], err = h.around(r, chatID, page)
	} else {
		msgs, out["hasMore"], err = h.page(r, chatID, page)
	}
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if msgs == nil {
		msgs = []chatr.Message{}
	}
	out["messages"] = msgs
	writeJSON(w, http.StatusOK, out)
}

// messageQuery reads before, after, around and limit.
func messageQuery(r *http.Request) (chatr.MessageQuery, error) {
	q := r.URL.Query()
	var page chatr.MessageQuery
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"before", &page.Before}, {"after", &page.After}, {"around", &page.Around}} {
		if s := q.Get(f.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return page, chatr.Errorf(chatr.EINVALID, "%s must be a message id", f.name)
			}
			*f.dst = n
		}
	}
	if page.Around != 0 && (page.Before != 0 || page.After != 0) {
		return page, chatr.Errorf(chatr.EINVALID, "around goes without before and after")
	}
	page.Limit = defaultPage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			return page, chatr.Errorf(chatr.EINVALID, "limit must be 1 to %d", maxPage)
		}
		page.Limit = n
	}
	return page, nil
}

// page answers before/after: the messages and whether there are more in
// the direction of paging.
func (h *Handler) page(r *http.Request, chatID string, page chatr.MessageQuery) ([]chatr.Message, bool, error) {
	// One more than asked tells whether there is more.
	want := page.Limit
	page.Limit++
	msgs, err := h.cfg.Store.ListMessages(r.Context(), chatID, page)
	if err != nil {
		return nil, false, err
	}
	hasMore := len(msgs) > want
	if hasMore {
		if page.After != 0 && page.Before == 0 {
			msgs = msgs[:want] // oldest first: the extra one is the newest
		} else {
			msgs = msgs[1:] // newest page: the extra one is the oldest
		}
	}
	return msgs, hasMore, nil
}

// around answers around: the page centred on a message (which need not
// exist: the page is then the messages near that id), whether there are
// older messages and whether there are newer ones.
func (h *Handler) around(r *http.Request, chatID string, page chatr.MessageQuery) (msgs []chatr.Message, older, newer bool, err error) {
	msgs, err = h.cfg.Store.ListMessages(r.Context(), chatID, page)
	if err != nil || len(msgs) == 0 {
		return msgs, false, false, err
	}
	// Ids are dense from 1: a first id above 1 has older ones before it.
	older = msgs[0].ID > 1
	next, err := h.cfg.Store.ListMessages(r.Context(), chatID, chatr.MessageQuery{After: msgs[len(msgs)-1].ID, Limit: 1})
	return msgs, older, len(next) > 0, err
}
