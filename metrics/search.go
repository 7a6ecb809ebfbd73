package metrics

import (
	"context"
	"time"

	"github.com/chatr/chatr"
)

var _ chatr.Searcher = (*store)(nil)

// Search passes to the wrapped store when it can search; otherwise it
// answers ENOTIMPLEMENTED, as a caller that asked the store itself would.
func (st *store) Search(ctx context.Context, userID string, q chatr.SearchQuery) (p chatr.SearchPage, err error) {
	s, ok := st.s.(chatr.Searcher)
	if !ok {
		return chatr.SearchPage{Results: []chatr.SearchResult{}}, chatr.Errorf(chatr.ENOTIMPLEMENTED, "search needs the SQLite or PostgreSQL store")
	}
	defer func(t time.Time) { st.observe("Search", t, err) }(time.Now())
	return s.Search(ctx, userID, q)
}

// SyncSearch passes to the wrapped store when it can search.
func (st *store) SyncSearch(ctx context.Context) error {
	if s, ok := st.s.(chatr.Searcher); ok {
		return s.SyncSearch(ctx)
	}
	return chatr.Errorf(chatr.ENOTIMPLEMENTED, "search needs the SQLite or PostgreSQL store")
}
