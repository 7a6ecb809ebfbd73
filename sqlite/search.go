package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"modernc.org/sqlite"

	"github.com/chatr/chatr"
)

var _ chatr.Searcher = (*DB)(nil)

// The triggers of migration 0006 index chatr_search_doc(text); the driver
// makes a function registered here available to every connection it opens.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("chatr_search_doc", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		return chatr.CJKNgrams(s, true), nil
	})
}

// searchQuery walks the index newest doc first and keeps the rows of the
// user's chats that pass the filters; CROSS JOIN keeps FTS5 the outer loop,
// so a page of a frequent word stops after a few rows. Every filter is a
// parameter (an empty one passes) so that one prepared statement serves all;
// has:file looks the message up among the attachments (files_message).
const searchQuery = `SELECT d.doc, m.chat_id, m.id, m.from_user_id, m.from_user_name, m.text, m.time
	FROM search_fts f
	CROSS JOIN search_docs d ON d.doc = f.rowid
	CROSS JOIN messages m ON m.chat_id = d.chat_id AND m.id = d.message_id
	WHERE search_fts MATCH ?1 AND f.rowid < ?2
		AND d.chat_id IN (SELECT chat_id FROM members WHERE user_id = ?3)
		AND (?4 = '' OR d.chat_id = ?4)
		AND (?5 = '' OR m.from_user_id = ?5)
		AND m.time < ?6 AND m.time >= ?7
		AND m.text <> ''
		AND (?9 = 0 OR EXISTS (SELECT 1 FROM files a WHERE a.chat_id = m.chat_id AND a.message_id = m.id AND a.message_id <> 0))
	ORDER BY f.rowid DESC
	LIMIT ?8`

// Search finds messages with FTS5; see chatr.Searcher.
func (db *DB) Search(ctx context.Context, userID string, q chatr.SearchQuery) (chatr.SearchPage, error) {
	page := chatr.SearchPage{Results: []chatr.SearchResult{}}
	before, err := decodeCursor(q.Cursor)
	if err != nil {
		return page, err
	}
	terms := chatr.SearchTerms(q.Text)
	if len(terms) == 0 || !chatr.StorableText(userID, q.ChatID, q.FromUserID) {
		return page, nil
	}
	limit := q.PageLimit()
	timeBefore, timeAfter := int64(math.MaxInt64), int64(math.MinInt64)
	if !q.Before.IsZero() {
		timeBefore = stamp(q.Before)
	}
	if !q.After.IsZero() {
		timeAfter = stamp(q.After)
	}

	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, err := db.query(ctx, searchQuery, matchExpr(terms), before, userID, q.ChatID, q.FromUserID, timeBefore, timeAfter, limit+1, boolInt(q.HasFile))
	if err != nil {
		return page, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		var (
			r   chatr.SearchResult
			doc int64
			at  int64
		)
		if err := rows.Scan(&doc, &r.ChatID, &r.ID, &r.FromUserID, &r.FromUserName, &r.Text, &at); err != nil {
			return page, fmt.Errorf("sqlite: search: %w", err)
		}
		if len(page.Results) == limit {
			page.Cursor = encodeCursor(last)
			break
		}
		r.Time = unstamp(at)
		r.Highlights = chatr.Highlights(r.Text, terms)
		page.Results = append(page.Results, r)
		last = doc
	}
	if err := rows.Err(); err != nil {
		return chatr.SearchPage{Results: []chatr.SearchResult{}}, fmt.Errorf("sqlite: search: %w", err)
	}
	return page, nil
}

// matchExpr writes terms as an FTS5 query in which every term is a quoted
// string (a phrase), so nothing a user types is FTS5 syntax; a one-character
// CJK term is a prefix.
func matchExpr(terms []chatr.SearchTerm) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + strings.ReplaceAll(t.Phrase, `"`, `""`) + `"`
		if t.Prefix {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " ")
}

// A cursor is the doc number of the last result shown. Membership and the
// filters apply to every page, so a forged number only moves where a page
// starts among the messages the user may read.
const cursorPrefix = "s1."

func encodeCursor(doc int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(doc, 10)))
}

func decodeCursor(c string) (int64, error) {
	if c == "" {
		return math.MaxInt64, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if s, ok := strings.CutPrefix(string(b), cursorPrefix); ok {
			if doc, err := strconv.ParseInt(s, 10, 64); err == nil && doc > 0 {
				return doc, nil
			}
		}
	}
	return 0, chatr.Errorf(chatr.EINVALID, "bad search cursor")
}
