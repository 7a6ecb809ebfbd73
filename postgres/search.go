package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
)

var _ chatr.Searcher = (*DB)(nil)

// tsqueryOf builds the query from the terms in the database, with the same
// fold the vectors had: each term a phrase (phraseto_tsquery reads text,
// never tsquery syntax), a one-character CJK term a prefix, all required.
// It returns two: all the terms ($1, $2), and those of them not skipped
// ($4) for the index to look up (see searchIndexed).
const tsqueryOf = `SELECT coalesce(string_agg(q, ' & '), ''), coalesce(string_agg(q, ' & ') FILTER (WHERE NOT skip), '')
	FROM (SELECT CASE WHEN p
			THEN to_tsquery('pg_catalog.simple', '''' || replace(chatr_search_fold(t), '''', '''''') || ''':*')
			ELSE phraseto_tsquery('pg_catalog.simple', chatr_search_fold(t)) END::text, skip
		FROM unnest($1::text[], $2::boolean[], $4::boolean[]) AS u (t, p, skip)) AS terms (q, skip)
	WHERE q <> ''`

// The two ways to find a page, chosen by how often the query's words occur
// in the user's chats (searchStats):
//
//   - searchRecent reads the user's chats newest message first down the
//     time index and keeps the matches: a frequent word fills a page after a
//     few hundred rows. The membership and the words are one condition
//     under IS TRUE, so that no plan takes the words' index for it and the
//     cheap membership test runs first: 95 % of the rows read are in other
//     chats, and their vectors need not be read.
//   - searchIndexed asks the chat-and-words GIN index for the matches in the
//     user's chats and sorts them: a rarer word has few of them, and the
//     index, not the rows, tells which chat each is in. The index looks up
//     only the query's rarer words ($12): beside the chats' entries, a word
//     in half the messages made it read that word's whole posting list
//     (400 ms for "lizilonu the", 2 ms without "the"); the rows found are
//     checked against every word ($1). The other conditions are under IS
//     TRUE so that the generic plan cannot AND the index with a range of
//     the time index (a range with parameters looks narrow to the planner,
//     and every message is in it).
//
// Search takes the one that reads fewer pages. Membership is read in the
// query itself, on every page.
const (
	searchRecent = `SELECT chat_id, id, from_user_id, from_user_name, text, time
	FROM messages
	WHERE (chat_id IN (SELECT chat_id FROM members WHERE user_id = $2) AND search @@ $1::tsquery) IS TRUE
		AND time < $5 AND time >= $6
		AND (time, chat_id, id) < ($7, $8, $9)
		AND $3 = '' AND $4 = ''
		AND (NOT $11 OR ` + hasFile + `)
	ORDER BY time DESC, chat_id DESC, id DESC
	LIMIT $10`
	searchIndexed = `WITH found AS MATERIALIZED (
		SELECT chat_id, id, from_user_id, from_user_name, text, time
		FROM messages
		WHERE chat_id = ANY ((SELECT array_agg(chat_id) FROM members WHERE user_id = $2 AND ($3 = '' OR chat_id = $3))::text[])
			AND search @@ $12::tsquery
			AND (search @@ $1::tsquery AND ($4 = '' OR from_user_id = $4) AND time < $5 AND time >= $6 AND (time, chat_id, id) < ($7, $8, $9)
				AND (NOT $11 OR ` + hasFile + `)) IS TRUE)
	SELECT * FROM found ORDER BY time DESC, chat_id DESC, id DESC LIMIT $10`
)

// hasFile is has:file: the message carries an attachment (files_message
// answers it).
const hasFile = `EXISTS (SELECT 1 FROM files a WHERE a.chat_id = messages.chat_id AND a.message_id = messages.id AND a.message_id <> 0)`

// memberShare is how many messages the chats of user $3 hold; it is asked
// with tsqueryOf.
const memberShare = `SELECT coalesce(sum(c.last_message_id), 0)::float8
	FROM members m JOIN chats c ON c.id = m.chat_id WHERE m.user_id = $3`

// frequentWord is the share of messages above which a word is left to the
// rows' check instead of the index's look-up, when the query has a rarer
// one.
const frequentWord = 0.02

// Search finds messages with the tsvector index; see chatr.Searcher.
func (db *DB) Search(ctx context.Context, userID string, q chatr.SearchQuery) (chatr.SearchPage, error) {
	page := chatr.SearchPage{Results: []chatr.SearchResult{}}
	cur, err := decodeCursor(q.Cursor)
	if err != nil {
		return page, err
	}
	terms := chatr.SearchTerms(q.Text)
	if len(terms) == 0 || !chatr.StorableText(userID, q.ChatID, q.FromUserID) {
		return page, nil
	}
	limit := q.PageLimit()
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
	freqs, rows, perPage := db.search.frequency(ctx, db.pool, terms)
	skip := skipFrequent(freqs)
	var tsq, tsqIndex string
	var mine float64
	if err := db.pool.QueryRow(ctx, `SELECT t.*, (`+memberShare+`) FROM (`+tsqueryOf+`) AS t`, phrases, prefix, userID, skip).Scan(&tsq, &tsqIndex, &mine); err != nil {
		return page, fmt.Errorf("postgres: search: %w", err)
	}
	if tsq == "" {
		return page, nil
	}
	if tsqIndex == "" {
		tsqIndex = tsq
	}
	recent := q.ChatID == "" && q.FromUserID == "" && db.search.recent
	if !recent && q.ChatID == "" && q.FromUserID == "" && rows > 0 && mine > 0 {
		// Pages each way: newest first reads (limit+1) over the share of
		// all messages that are in the user's chats and match, in time
		// order, many to a page; the index way reads a page for each
		// message in the user's chats that has the words it looks up.
		all, looked := product(freqs, nil), product(freqs, skip)
		recent = float64(limit+1)*rows/(all*mine)/perPage <= looked*mine
	}
	query, args := searchIndexed, []any{tsq, userID, q.ChatID, q.FromUserID, before, after, cur.Time, cur.ChatID, cur.ID, limit + 1, q.HasFile, tsqIndex}
	if recent {
		query, args = searchRecent, args[:11]
	}
	found, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return page, fmt.Errorf("postgres: search: %w", err)
	}
	defer found.Close()
	for found.Next() {
		var r chatr.SearchResult
		if err := found.Scan(&r.ChatID, &r.ID, &r.FromUserID, &r.FromUserName, &r.Text, &r.Time); err != nil {
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
	if err := found.Err(); err != nil {
		return chatr.SearchPage{Results: []chatr.SearchResult{}}, fmt.Errorf("postgres: search: %w", err)
	}
	return page, nil
}

// searchStats are the planner's statistics of the search column: the
// frequent words and the share of messages holding each, read again every
// statsEvery.
type searchStats struct {
	mu      sync.Mutex
	at      time.Time
	freq    map[string]float64
	floor   float64 // below the rarest frequent word: any other word
	rows    float64 // messages in the table
	perPage float64 // messages in a table page

	recent bool // the tests' way to the recent plan whatever the words
}

const statsEvery = 10 * time.Minute

// frequency estimates the share of all messages that match each term, and
// returns them with the number of messages and of messages to a page; all
// are 0 without statistics (a new table). A term that repeats an earlier
// one is given 1: it narrows nothing.
func (s *searchStats) frequency(ctx context.Context, pool *pgxpool.Pool, terms []chatr.SearchTerm) (freqs []float64, rows, perPage float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.at) > statsEvery {
		s.at = time.Now()
		s.load(ctx, pool)
	}
	freqs = make([]float64, len(terms))
	if s.rows == 0 {
		return freqs, 0, 0
	}
	seen := map[string]bool{}
	for i, t := range terms {
		tf := 1.0
		for _, w := range strings.FieldsFunc(strings.ToLower(t.Phrase), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			f, ok := s.freq[w]
			if !ok {
				f = s.floor
			}
			tf = min(tf, f)
		}
		if seen[t.Phrase] {
			tf = 1
		}
		seen[t.Phrase] = true
		freqs[i] = tf
	}
	return freqs, s.rows, s.perPage
}

// skipFrequent marks the terms the index need not look up: those in more
// than frequentWord of the messages, but never the rarest term. Without
// statistics (all 0) it skips none.
func skipFrequent(freqs []float64) []bool {
	skip := make([]bool, len(freqs))
	rarest := 0
	for i, f := range freqs {
		if f < freqs[rarest] {
			rarest = i
		}
	}
	for i, f := range freqs {
		skip[i] = i != rarest && f > frequentWord
	}
	return skip
}

// product multiplies the frequencies of the terms not skipped, as if their
// words occurred independently.
func product(freqs []float64, skip []bool) float64 {
	p := 1.0
	for i, f := range freqs {
		if skip == nil || !skip[i] {
			p *= f
		}
	}
	return p
}

// load reads the statistics; on an error it keeps none, which sends every
// search to the index.
func (s *searchStats) load(ctx context.Context, pool *pgxpool.Pool) {
	var (
		words []string
		freqs []float64
		rows  float64
		pages float64
	)
	err := pool.QueryRow(ctx, `SELECT coalesce(st.most_common_elems::text::text[], '{}'), coalesce(st.most_common_elem_freqs, '{}'), c.reltuples::float8, c.relpages::float8
		FROM pg_class c LEFT JOIN pg_stats st ON st.schemaname = current_schema() AND st.tablename = 'messages' AND st.attname = 'search'
		WHERE c.oid = to_regclass('messages')`).Scan(&words, &freqs, &rows, &pages)
	s.freq, s.floor, s.rows, s.perPage = map[string]float64{}, 0, 0, 0
	// most_common_elem_freqs ends with the minimum and maximum frequencies
	// (and, for arrays but not tsvector, the share of nulls).
	if err != nil || len(freqs) < len(words)+2 || len(words) == 0 || rows <= 0 || pages <= 0 {
		return
	}
	for i, w := range words {
		s.freq[w] = freqs[i]
	}
	s.floor, s.rows, s.perPage = freqs[len(words)]/2, rows, rows/pages
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
