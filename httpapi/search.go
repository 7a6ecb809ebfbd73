package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
)

// SearchConfig configures NewSearch.
type SearchConfig struct {
	Store  chatr.Store // searched when it is a chatr.Searcher; 501 otherwise
	Auth   *auth.Service
	Logger *slog.Logger // nil: slog.Default()
}

// NewSearch returns the handler of
//
//	GET /api/search?q=&chat=&from=&before=&after=&cursor=&limit=
//
// which answers {"results": [...], "cursor": "..."} with the messages of the
// caller's chats that match q, newest first. q may carry filters inline:
// in:#chat (a chat of the caller by name or ID), from:@handle, has:file,
// before:YYYY-MM-DD and after:YYYY-MM-DD (UTC; before exclusive, after
// inclusive); the parameters chat (an ID), from (a user ID, or @handle),
// before and after say the same and win over inline ones. A filter naming a
// chat or person that is not there finds nothing. Errors are JSON: 400 for
// a bad date, limit or cursor, 401 without a session, 501 when the store
// cannot search.
func NewSearch(cfg SearchConfig) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &searchHandler{cfg: cfg}
}

type searchHandler struct{ cfg SearchConfig }

func (h *searchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, _, err := h.cfg.Auth.Authenticate(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	searcher, ok := h.cfg.Store.(chatr.Searcher)
	if !ok {
		h.fail(w, r, chatr.Errorf(chatr.ENOTIMPLEMENTED, "search needs the SQLite or PostgreSQL store"))
		return
	}
	q, found, err := h.query(r.Context(), r, u)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page := chatr.SearchPage{Results: []chatr.SearchResult{}}
	if found {
		page, err = searcher.Search(r.Context(), u.ID, q)
		if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, page)
}

// query reads the request into a SearchQuery; found is false when a filter
// names a chat or person that is not there, so nothing can match.
func (h *searchHandler) query(ctx context.Context, r *http.Request, u chatr.User) (q chatr.SearchQuery, found bool, err error) {
	v := r.URL.Query()
	p, err := chatr.ParseSearch(v.Get("q"))
	if err != nil {
		return q, false, err
	}
	q = chatr.SearchQuery{Text: p.Text, HasFile: p.HasFile, Before: p.Before, After: p.After, Cursor: v.Get("cursor")}
	for name, to := range map[string]*time.Time{"before": &q.Before, "after": &q.After} {
		if s := v.Get(name); s != "" {
			if *to, err = chatr.ParseSearchDate(s); err != nil {
				return q, false, err
			}
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > chatr.MaxSearchLimit {
			return q, false, chatr.Errorf(chatr.EINVALID, "limit must be 1 to %d", chatr.MaxSearchLimit)
		}
		q.Limit = n
	}

	q.ChatID = v.Get("chat")
	if q.ChatID == "" && p.ChatName != "" {
		if q.ChatID, err = h.chatNamed(ctx, u.ID, p.ChatName); err != nil || q.ChatID == "" {
			return q, false, err
		}
	}
	from := v.Get("from")
	if from == "" && p.FromHandle != "" {
		from = "@" + p.FromHandle
	}
	if handle, ok := strings.CutPrefix(from, "@"); ok {
		who, err := h.cfg.Store.GetUserByHandle(ctx, handle)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			return q, false, nil
		}
		if err != nil {
			return q, false, err
		}
		from = who.ID
	}
	q.FromUserID = from
	return q, true, nil
}

// chatNamed finds the caller's chat whose ID is name or whose name is name
// under chatr.NameKey; "" when there is none.
func (h *searchHandler) chatNamed(ctx context.Context, userID, name string) (string, error) {
	chats, err := h.cfg.Store.ListUserChats(ctx, userID)
	if err != nil {
		return "", err
	}
	for _, c := range chats {
		if c.ID == name {
			return c.ID, nil
		}
	}
	for _, c := range chats {
		if chatr.NameKey(c.Name) == chatr.NameKey(name) {
			return c.ID, nil
		}
	}
	return "", nil
}

// fail writes err as {"error": code, "message": text}: the statuses of
// Handler.Error plus 501 for a store without search.
func (h *searchHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := chatr.ErrorCode(err)
	status, ok := statusOf[code]
	if code == chatr.ENOTIMPLEMENTED {
		status, ok = http.StatusNotImplemented, true
	}
	if !ok || code == chatr.EINTERNAL {
		h.cfg.Logger.Error("search failed", "path", r.URL.Path, "err", err)
		code, status = chatr.EINTERNAL, http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]string{"error": code, "message": chatr.ErrorMessage(err)})
}
