package chatr

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ENOTIMPLEMENTED is the code of a capability the configured store lacks,
// such as search on Table Storage (501).
const ENOTIMPLEMENTED = "not_implemented"

// Budgets on what a client controls in a search.
const (
	// MaxSearchText bounds the query text in bytes; the rest is ignored.
	MaxSearchText = 4096
	// MaxSearchTerms bounds the words of a query; later words are ignored,
	// which can only widen the results.
	MaxSearchTerms = 16
	// DefaultSearchLimit and MaxSearchLimit bound one page of results.
	DefaultSearchLimit = 20
	MaxSearchLimit     = 100
)

// SearchQuery selects messages for Searcher.Search. Text holds only search
// terms (ParseSearch takes the inline filters out of what a user typed):
// every word must occur, in any order; a word is matched whole, with case
// and accents ignored; a run of CJK characters matches as a phrase of its
// character pairs, and a single CJK character matches any pair it begins.
// Nothing in Text is query syntax: quotes, operators, "*", "-" and
// parentheses are punctuation.
type SearchQuery struct {
	Text       string
	ChatID     string    // only this chat ("" for every chat of the user)
	FromUserID string    // only messages this user sent ("" for anyone)
	Before     time.Time // only messages sent before (zero: no bound)
	After      time.Time // only messages sent at or after (zero: no bound)
	// HasFile asks only for messages that carry an attached file (see
	// FileStore.AttachFiles).
	HasFile bool
	Cursor  string // from the previous page; "" for the first
	Limit   int    // <= 0 means DefaultSearchLimit; capped at MaxSearchLimit
}

// PageLimit is the number of results a page holds: Limit, or
// DefaultSearchLimit when it is not positive, at most MaxSearchLimit.
func (q SearchQuery) PageLimit() int {
	if q.Limit <= 0 {
		return DefaultSearchLimit
	}
	return min(q.Limit, MaxSearchLimit)
}

// SearchResult is one message found, with the parts of its text that
// matched.
type SearchResult struct {
	ChatID       string    `json:"chatId"`
	ID           int64     `json:"id"`
	FromUserID   string    `json:"fromUserId"`
	FromUserName string    `json:"fromUserName"`
	Text         string    `json:"message"`
	Time         time.Time `json:"time"`
	// Highlights are the matching ranges of Text as [start, end) offsets in
	// UTF-16 code units, the way a browser indexes strings, in order.
	Highlights [][2]int `json:"highlights"`
}

// SearchPage is one page of results and the cursor of the next page ("" on
// the last).
type SearchPage struct {
	Results []SearchResult `json:"results"`
	Cursor  string         `json:"cursor"`
}

// Searcher is the message search of a Store that has one (sqlite and
// postgres; Table Storage has none, and callers answer ENOTIMPLEMENTED).
//
// Search returns the messages that match q in the chats userID is a member
// of at the time of the call, newest first (in the order they were stored).
// A message is found by its current text only: an edited message by its new
// text, a deleted one (its text emptied) never. Membership is checked on
// every page, so no cursor, however made, reaches a chat the user cannot
// read; a cursor that is not one Search returned is EINVALID. A query
// without any search term finds nothing (an empty page, no error).
//
// A store may index behind its writes (sqlite does, to keep its message
// throughput): a new message is found within about a second, and at once
// after SyncSearch. Edits and deletions of a message are followed at once.
type Searcher interface {
	Search(ctx context.Context, userID string, q SearchQuery) (SearchPage, error)
	// SyncSearch returns when every message stored before the call can be
	// found.
	SyncSearch(ctx context.Context) error
}

// SearchTerm is one word of a query as the stores match it.
type SearchTerm struct {
	// Phrase is the text the engine tokenizes and matches as a phrase: the
	// word with CJK runs replaced by their character pairs.
	Phrase string
	// Prefix is set for a single CJK character, matched as the beginning of
	// an indexed pair.
	Prefix bool
}

// SearchTerms splits query text into the terms the stores match: one per
// space-separated word that holds a letter or digit, at most
// MaxSearchTerms of them. Query syntax of any engine is punctuation here;
// the stores quote every term.
func SearchTerms(text string) []SearchTerm {
	if len(text) > MaxSearchText {
		text = text[:MaxSearchText]
	}
	text = strings.ToValidUTF8(text, " ")
	var terms []SearchTerm
	for _, w := range strings.Fields(text) {
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			continue
		}
		w = strings.ReplaceAll(w, "\x00", " ")
		if utf8.RuneCountInString(w) == 1 && IsCJK([]rune(w)[0]) {
			terms = append(terms, SearchTerm{Phrase: w, Prefix: true})
		} else {
			terms = append(terms, SearchTerm{Phrase: CJKNgrams(w, false)})
		}
		if len(terms) == MaxSearchTerms {
			break
		}
	}
	return terms
}

// IsCJK reports whether r is written without spaces between words (Han,
// kana, Hangul), so that the stores index it by character pairs. The ranges
// match the PostgreSQL migration's pattern.
func IsCJK(r rune) bool {
	switch {
	case r >= 0x3040 && r <= 0x30FF, // Hiragana, Katakana
		r >= 0x3400 && r <= 0x4DBF, // Han extension A
		r >= 0x4E00 && r <= 0x9FFF, // Han
		r >= 0xAC00 && r <= 0xD7AF, // Hangul syllables
		r >= 0xF900 && r <= 0xFAFF: // Han compatibility
		return true
	}
	return false
}

// CJKNgrams returns s with each run of CJK characters replaced by its
// overlapping character pairs, separated by spaces (a run of one character
// stays itself). For a document (tail set) a run's last character is added
// on its own, so that a one-character query finds every character of it.
func CJKNgrams(s string, tail bool) string {
	if !strings.ContainsFunc(s, IsCJK) {
		return s
	}
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if !IsCJK(rs[i]) {
			b.WriteRune(rs[i])
			i++
			continue
		}
		j := i
		for j < len(rs) && IsCJK(rs[j]) {
			j++
		}
		b.WriteByte(' ')
		if j-i == 1 {
			b.WriteRune(rs[i])
		} else {
			for k := i; k+1 < j; k++ {
				b.WriteRune(rs[k])
				b.WriteRune(rs[k+1])
				b.WriteByte(' ')
			}
			if tail {
				b.WriteRune(rs[j-1])
			}
		}
		b.WriteByte(' ')
		i = j
	}
	return b.String()
}

// fold returns r in lower case without diacritics, as both engines compare.
func fold(r rune) string {
	var b strings.Builder
	for _, c := range norm.NFD.String(string(r)) {
		if !unicode.Is(unicode.Mn, c) {
			b.WriteRune(unicode.ToLower(c))
		}
	}
	return b.String()
}

// Highlights returns the ranges of text (UTF-16 offsets) where a word of the
// query occurs: a token of text equal to a query token, ignoring case and
// accents, or a CJK substring equal to a CJK run of the query. It is
// computed from the text alone, the same for every store.
func Highlights(text string, terms []SearchTerm) [][2]int {
	want := map[string]bool{}
	var cjk []string
	for _, t := range terms {
		for _, w := range strings.FieldsFunc(t.Phrase, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) }) {
			if strings.ContainsFunc(w, IsCJK) {
				cjk = append(cjk, w)
				continue
			}
			var f strings.Builder
			for _, r := range w {
				f.WriteString(fold(r))
			}
			want[f.String()] = true
		}
	}
	var out [][2]int
	var cur strings.Builder
	start, pos := -1, 0
	flush := func() {
		if start >= 0 && want[cur.String()] {
			out = append(out, [2]int{start, pos})
		}
		cur.Reset()
		start = -1
	}
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if IsCJK(r) {
			flush()
			for _, w := range cjk {
				wr := []rune(w)
				if i+len(wr) <= len(rs) && string(rs[i:i+len(wr)]) == w {
					out = append(out, [2]int{pos, pos + utf16Len(wr)})
				}
			}
		} else if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) {
			if start < 0 {
				start = pos
			}
			cur.WriteString(fold(r))
		} else {
			flush()
		}
		pos += utf16.RuneLen(r)
	}
	flush()
	return mergeRanges(out)
}

func utf16Len(rs []rune) int {
	n := 0
	for _, r := range rs {
		n += utf16.RuneLen(r)
	}
	return n
}

// mergeRanges joins overlapping ranges (CJK pairs of one run overlap).
func mergeRanges(rs [][2]int) [][2]int {
	var out [][2]int
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// ParsedSearch is what a user typed in the search box, its inline filters
// taken out: in:#chat, from:@handle, has:file, before:DATE and after:DATE
// (dates as YYYY-MM-DD, in UTC; before is exclusive, after inclusive).
type ParsedSearch struct {
	Text       string
	ChatName   string // from in:#name (without "#")
	FromHandle string // from from:@handle (without "@")
	HasFile    bool
	Before     time.Time
	After      time.Time
}

// ParseSearch takes the inline filters out of q. A word that looks like a
// filter but is not one (an unknown key, "in:" alone) stays a search word;
// a malformed date is EINVALID.
func ParseSearch(q string) (ParsedSearch, error) {
	var p ParsedSearch
	var words []string
	for _, w := range strings.Fields(q) {
		key, val, ok := strings.Cut(w, ":")
		if !ok || val == "" {
			words = append(words, w)
			continue
		}
		switch strings.ToLower(key) {
		case "in":
			if p.ChatName = strings.TrimPrefix(val, "#"); p.ChatName == "" {
				words = append(words, w)
			}
		case "from":
			if p.FromHandle = strings.TrimPrefix(val, "@"); p.FromHandle == "" {
				words = append(words, w)
			}
		case "has":
			if strings.ToLower(val) != "file" {
				words = append(words, w)
				continue
			}
			p.HasFile = true
		case "before", "after":
			t, err := ParseSearchDate(val)
			if err != nil {
				return ParsedSearch{}, err
			}
			if strings.ToLower(key) == "before" {
				p.Before = t
			} else {
				p.After = t
			}
		default:
			words = append(words, w)
		}
	}
	p.Text = strings.Join(words, " ")
	return p, nil
}

// ParseSearchDate reads a date filter: YYYY-MM-DD (midnight UTC) or an
// RFC 3339 time. EINVALID otherwise.
func ParseSearchDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, Errorf(EINVALID, "bad date %q: use YYYY-MM-DD", s)
}
