package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr"
)

var _ chatr.Searcher = (*DB)(nil)

// tsqueryOf builds the query from the terms in the database, with the same
// fold the vectors had: each term a phrase (phraseto_tsquery reads text,
// never tsquery syntax), a one-character CJK term a prefix, all required.
const tsqueryOf = `SELECT coalesce(string_agg(CASE WHEN p
		THEN to_tsquery('pg_catalog.simple', '''' || replace(chatr_search_fold(t), '''', '''''') || ''':*')
		ELSE phraseto_tsquery('pg_catalog.simple', chatr_search_fold(t)) END::text, ' & '), '')
	FROM unnest($1::text[], $2::boolean[]) AS q (t, p)`

// searchQuery reads the user's chats newest message first; the planner
// sees the tsquery itself and picks the GIN index for rare words, the time
// index for frequent ones.
const searchQuery = `SELECT chat_id, id, from_user_id, from_user_name, text, time
	FROM messages
	WHERE search @@ $1::tsquery
		AND chat_id IN (SELECT chat_id FROM members WHERE user_id = $2)
		AND ($3 = '' OR chat_id = $3)
		AND ($4 = '' OR from_user_id = $4)
		AND time < $5 AND time >= $6
		AND (time, chat_id, id) < ($7, $8, $9)
	ORDER BY time DESC, chat_id DESC, id DESC
	LIMIT $10`

// Search finds messages with the tsvector index; see chatr.Searcher.
func (db *DB) Search(ctx context.Context, userID string, q chatr.SearchQuery) (chatr.SearchPage, error) {
	page := chatr.SearchPage{Results: []chatr.SearchResult{}}
	cur, err := decodeCursor(q.Cursor)
	if err != nil {
		return page, err
	}
	terms := chatr.SearchTerms(q.Text)
	if len(terms) == 0 || q.HasFile || !chatr.StorableText(userID, q.ChatID, q.FromUserID) {
		return page, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = chatr.DefaultSearchLimit
	}
	limit = min(limit, chatr.MaxSearchLimit)
	before, after := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	if !q.Before.IsZero() {
		before = q.Before
	}
	if !q.After.IsZero() {
		after = q.After
	}

	ctx, cancel := withDeadline(ctx)
	defer cancel()
	phrases := make([]string, len(terms))
	prefix := make([]bool, len(terms))
	for i, t := range terms {
		phrases[i], prefix[i] = t.Phrase, t.Prefix
	}
	var tsq string
	if err := db.pool.QueryRow(ctx, tsqueryOf, phrases, prefix).Scan(&tsq); err != nil {
		return page, fmt.Errorf("postgres: search: %w", err)
	}
	if tsq == "" {
		return page, nil
	}
	// QueryExecModeExec plans with this tsquery every time: a cached
	// generic plan would guess one frequency for every word.
	rows, err := db.pool.Query(ctx, searchQuery, pgx.QueryExecModeExec, tsq, userID, q.ChatID, q.FromUserID, before, after, cur.Time, cur.ChatID, cur.ID, limit+1)
	if err != nil {
		return page, fmt.Errorf("postgres: search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r chatr.SearchResult
		if err := rows.Scan(&r.ChatID, &r.ID, &r.FromUserID, &r.FromUserName, &r.Text, &r.Time); err != nil {
			return page, fmt.Errorf("postgres: search: %w", err)
		}
		if len(page.Results) == limit {
			last := page.Results[limit-1]
			page.Cursor = encodeCursor(searchCursor{last.Time, last.ChatID, last.ID})
			break
		}
		utc(&r.Time)
		r.Highlights = chatr.Highlights(r.Text, terms)
		page.Results = append(page.Results, r)
	}
	if err := rows.Err(); err != nil {
		return chatr.SearchPage{Results: []chatr.SearchResult{}}, fmt.Errorf("postgres: search: %w", err)
	}
	return page, nil
}

// SyncSearch returns at once: the vector is written with the message.
func (db *DB) SyncSearch(ctx context.Context) error { return nil }

// searchCursor is the last result shown. Membership and the filters apply
// to every page, so a forged cursor only moves where a page starts among
// the messages the user may read.
type searchCursor struct {
	Time   time.Time `json:"t"`
	ChatID string    `json:"c"`
	ID     int64     `json:"i"`
}

func encodeCursor(c searchCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(append([]byte("p1."), b...))
}

func decodeCursor(s string) (searchCursor, error) {
	if s == "" {
		return searchCursor{Time: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), ID: math.MaxInt64}, nil
	}
	var c searchCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if js, ok := strings.CutPrefix(string(b), "p1."); ok && json.Unmarshal([]byte(js), &c) == nil && chatr.StorableText(c.ChatID) && c.ID > 0 {
			return c, nil
		}
	}
	return searchCursor{}, chatr.Errorf(chatr.EINVALID, "bad search cursor")
}
