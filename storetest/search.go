package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// RunSearch runs the conformance group of chatr.Searcher against stores made
// by open, which must implement it.
func RunSearch(t *testing.T, open func(t *testing.T) chatr.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chatr.Store)
	}{
		{"WordsCaseAccents", testSearchWords},
		{"OnlyMemberChats", testSearchMembership},
		{"Filters", testSearchFilters},
		{"HasFile", testSearchHasFile},
		{"Pages", testSearchPages},
		{"CJK", testSearchCJK},
		{"BadQueries", testSearchBadQueries},
		{"EditsAndDeletions", testSearchEdits},
		{"Highlights", testSearchHighlights},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// searchFixture: alice and bob share "shared"; alice alone is in "secret".
func searchFixture(t *testing.T, s chatr.Store) {
	t.Helper()
	ctx := t.Context()
	for _, c := range []chatr.Chat{{ID: "shared", Name: "shared", Owner: "alice"}, {ID: "secret", Name: "secret", Owner: "alice", Private: true}} {
		if err := s.CreateChat(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.AddMember(ctx, c.ID, chatr.Member{UserID: "alice", UserName: "Alice"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddMember(ctx, "shared", chatr.Member{UserID: "bob", UserName: "Bob"}); err != nil {
		t.Fatal(err)
	}
}

var searchEpoch = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// post adds messages in order, one minute apart from the n-th minute on.
func post(t *testing.T, s chatr.Store, chatID, from string, minute int, texts ...string) []chatr.Message {
	t.Helper()
	var out []chatr.Message
	for i, text := range texts {
		m, err := s.AddMessage(t.Context(), chatr.Message{ChatID: chatID, FromUserID: from, FromUserName: from, Text: text, Time: searchEpoch.Add(time.Duration(minute+i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func search(t *testing.T, s chatr.Store, user string, q chatr.SearchQuery) chatr.SearchPage {
	t.Helper()
	if err := s.(chatr.Searcher).SyncSearch(t.Context()); err != nil {
		t.Fatal(err)
	}
	page, err := s.(chatr.Searcher).Search(t.Context(), user, q)
	if err != nil {
		t.Fatalf("Search(%q, %+v): %v", user, q, err)
	}
	if page.Results == nil {
		t.Fatalf("Search(%q, %+v): nil results, want a list", user, q)
	}
	return page
}

// texts lists the results' texts, newest first as returned.
func texts(p chatr.SearchPage) []string {
	out := []string{}
	for _, r := range p.Results {
		out = append(out, r.Text)
	}
	return out
}

func wantTexts(t *testing.T, s chatr.Store, user string, q chatr.SearchQuery, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := texts(search(t, s, user, q)); !reflect.DeepEqual(got, want) {
		t.Errorf("Search(%q, %+v): got %q, want %q", user, q, got, want)
	}
}

func testSearchWords(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	post(t, s, "shared", "alice", 0, "Meet at the Café at noon", "déjà vu all over again", "the café was closed", "nothing to see")
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"cafe", []string{"the café was closed", "Meet at the Café at noon"}},
		{"CAFÉ noon", []string{"Meet at the Café at noon"}},
		{"noon café", []string{"Meet at the Café at noon"}},
		{"deja", []string{"déjà vu all over again"}},
		{"caf", nil},        // whole words only
		{"cafe pizza", nil}, // every word must occur
		{"", nil},
	} {
		wantTexts(t, s, "bob", chatr.SearchQuery{Text: tc.q}, tc.want...)
	}
	r := search(t, s, "bob", chatr.SearchQuery{Text: "noon"}).Results
	if len(r) != 1 {
		t.Fatalf("got %d results, want 1", len(r))
	}
	want := chatr.SearchResult{ChatID: "shared", ID: 1, FromUserID: "alice", FromUserName: "alice", Text: "Meet at the Café at noon", Time: searchEpoch, Highlights: [][2]int{{20, 24}}}
	if !reflect.DeepEqual(r[0], want) {
		t.Errorf("got %+v, want %+v", r[0], want)
	}
}

func testSearchMembership(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	post(t, s, "secret", "alice", 0, "the launch code is swordfish")
	post(t, s, "shared", "alice", 1, "swordfish for dinner")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "swordfish"}, "swordfish for dinner", "the launch code is swordfish")
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "swordfish"}, "swordfish for dinner")
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "swordfish", ChatID: "secret"})
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "launch"})
	wantTexts(t, s, "mallory", chatr.SearchQuery{Text: "swordfish"})

	// A cursor alice got does not open her chat to bob.
	p := search(t, s, "alice", chatr.SearchQuery{Text: "swordfish", Limit: 1})
	if p.Cursor == "" {
		t.Fatal("no cursor after a full page")
	}
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "swordfish", Cursor: p.Cursor})
	for _, bad := range []string{"x", "AAAA", "czEuLTE", strings.Repeat("Z", 200)} {
		_, err := s.(chatr.Searcher).Search(t.Context(), "bob", chatr.SearchQuery{Text: "swordfish", Cursor: bad})
		if got := chatr.ErrorCode(err); got != chatr.EINVALID {
			t.Errorf("cursor %q: got %v, want EINVALID", bad, err)
		}
	}

	// Leaving a chat takes its messages out of the results.
	if err := s.RemoveMember(t.Context(), "shared", "bob"); err != nil {
		t.Fatal(err)
	}
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "swordfish"})
}

func testSearchFilters(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	post(t, s, "shared", "alice", 0, "report one")     // 12:00
	post(t, s, "shared", "bob", 60, "report two")      // 13:00
	post(t, s, "secret", "alice", 120, "report three") // 14:00
	at := func(h int) time.Time { return searchEpoch.Add(time.Duration(h) * time.Hour) }
	for _, tc := range []struct {
		name string
		q    chatr.SearchQuery
		want []string
	}{
		{"chat", chatr.SearchQuery{ChatID: "shared"}, []string{"report two", "report one"}},
		{"from", chatr.SearchQuery{FromUserID: "alice"}, []string{"report three", "report one"}},
		{"before", chatr.SearchQuery{Before: at(1)}, []string{"report one"}},
		{"after", chatr.SearchQuery{After: at(1)}, []string{"report three", "report two"}},
		{"window", chatr.SearchQuery{After: at(1), Before: at(2)}, []string{"report two"}},
		{"all", chatr.SearchQuery{FromUserID: "bob", ChatID: "shared", After: at(0)}, []string{"report two"}},
		{"none", chatr.SearchQuery{FromUserID: "carol"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Text = "report"
			wantTexts(t, s, "alice", tc.q, tc.want...)
		})
	}
}

// testSearchHasFile: has:file keeps the messages that carry attachments,
// with the other filters, and only in the user's chats.
func testSearchHasFile(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	fs, ok := s.(chatr.FileStore)
	if !ok {
		t.Fatal("a store with search keeps files")
	}
	attach := func(m chatr.Message, id string) {
		t.Helper()
		f := chatr.File{ID: id, ChatID: m.ChatID, UserID: m.FromUserID, Name: id + ".png", Size: 1, Type: "image/png", Key: "f/" + id}
		if err := fs.CreateFile(t.Context(), f); err != nil {
			t.Fatal(err)
		}
		if err := fs.AttachFiles(t.Context(), m.ChatID, m.FromUserID, m.ID, []string{id}); err != nil {
			t.Fatal(err)
		}
	}
	plain := post(t, s, "shared", "alice", 0, "diagram draft", "diagram final", "diagram notes")
	attach(plain[0], "draft")
	attach(plain[1], "final")
	secret := post(t, s, "secret", "alice", 10, "diagram private")
	attach(secret[0], "private")
	other := post(t, s, "shared", "bob", 20, "diagram by bob")
	attach(other[0], "bobs")
	// A file uploaded but sent with no message does not count.
	if err := fs.CreateFile(t.Context(), chatr.File{ID: "unsent", ChatID: "shared", UserID: "alice", Name: "u.png", Size: 1, Type: "image/png", Key: "f/unsent"}); err != nil {
		t.Fatal(err)
	}

	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "diagram", HasFile: true}, "diagram by bob", "diagram final", "diagram draft")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "diagram", HasFile: true}, "diagram by bob", "diagram private", "diagram final", "diagram draft")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "diagram", HasFile: true, FromUserID: "alice", ChatID: "shared"}, "diagram final", "diagram draft")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "notes", HasFile: true})
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "notes"}, "diagram notes")

	// Pages of has:file results follow each other.
	first := search(t, s, "alice", chatr.SearchQuery{Text: "diagram", HasFile: true, Limit: 2})
	if got, want := texts(first), []string{"diagram by bob", "diagram private"}; !reflect.DeepEqual(got, want) || first.Cursor == "" {
		t.Fatalf("first page: got %q (cursor %q), want %q and a cursor", got, first.Cursor, want)
	}
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "diagram", HasFile: true, Limit: 2, Cursor: first.Cursor}, "diagram final", "diagram draft")

	// A deleted message's files go with it.
	if _, err := s.DeleteMessage(t.Context(), "shared", plain[1].ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "diagram", HasFile: true}, "diagram by bob", "diagram draft")
}

func testSearchPages(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	var want []string
	for i := 0; i < 25; i++ {
		chat := "shared"
		if i%3 == 0 {
			chat = "secret"
		}
		text := fmt.Sprintf("status update %d", i)
		post(t, s, chat, "alice", i, text)
		want = append([]string{text}, want...)
	}
	post(t, s, "shared", "alice", 100, "unrelated")
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages of 4")
		}
		p := search(t, s, "alice", chatr.SearchQuery{Text: "status", Limit: 4, Cursor: cursor})
		if len(p.Results) > 4 {
			t.Fatalf("page of %d, want at most 4", len(p.Results))
		}
		got = append(got, texts(p)...)
		if p.Cursor == "" {
			break
		}
		cursor = p.Cursor
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pages: got %q, want %q", got, want)
	}
}

func testSearchCJK(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	post(t, s, "shared", "alice", 0, "明日は東京都に行きます", "서울에서 만나요", "Tokyo東京")
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"東京", []string{"Tokyo東京", "明日は東京都に行きます"}},
		{"京都", []string{"明日は東京都に行きます"}},
		{"東京都", []string{"明日は東京都に行きます"}},
		{"都", []string{"明日は東京都に行きます"}},
		{"京", []string{"Tokyo東京", "明日は東京都に行きます"}},
		{"都東", nil},
		{"서울", []string{"서울에서 만나요"}},
		{"tokyo", []string{"Tokyo東京"}},
	} {
		wantTexts(t, s, "bob", chatr.SearchQuery{Text: tc.q}, tc.want...)
	}
}

// badQueries is text that is query syntax in some engine; each must give
// results or an empty list, never an error.
var badQueries = []string{
	`"`, `""`, `"unclosed`, `'`, `''`, `'single'`, `*`, `**`, `cat*`, `*cat`, `-`, `-cat`, `--`, `+cat`,
	`(`, `)`, `(cat`, `cat)`, `()`, `(cat OR dog)`, `cat AND dog`, `cat OR`, `OR`, `AND`, `NOT`, `NOT cat`,
	`NEAR`, `NEAR(cat dog)`, `NEAR(cat dog, 2)`, `cat NEAR dog`, `body:cat`, `{body}: cat`, `^cat`, `cat^`,
	`cat:*`, `cat & dog`, `cat | dog`, `!cat`, `cat <-> dog`, `cat <2> dog`, `\`, `\\cat`, `cat\`, `%`, `_`,
	`%cat%`, `;DROP TABLE messages;--`, `$1`, `?`, `:cat`, `@cat`, `#cat`, "cat\tdog\n", "\u00a0cat",
	"\u200bcat", "cat\u0301", "ﬁsh", "ǅ", "İstanbul", "🐈", "🐈 cat", "\U0001F3F3\uFE0F\u200D\U0001F308",
	strings.Repeat("cat ", 250), strings.Repeat("x", 1000), strings.Repeat("東", 1000), strings.Repeat(`"(*`, 334),
	strings.Repeat("a", 100000), "\xff\xfe", "cat\x00dog",
}

func testSearchBadQueries(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	post(t, s, "shared", "alice", 0, "the cat and the dog")
	if err := s.(chatr.Searcher).SyncSearch(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, q := range badQueries {
		page, err := s.(chatr.Searcher).Search(t.Context(), "bob", chatr.SearchQuery{Text: q})
		if err != nil {
			t.Errorf("Search(%.40q): %v", q, err)
			continue
		}
		for _, r := range page.Results {
			if r.Text != "the cat and the dog" {
				t.Errorf("Search(%.40q): found %q", q, r.Text)
			}
		}
	}
	// Operators are words: they must occur like any other.
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "cat OR pizza"})
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "-cat"}, "the cat and the dog")
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: "(cat AND dog)"}, "the cat and the dog")
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: `"dog cat"`}, "the cat and the dog")
	wantTexts(t, s, "bob", chatr.SearchQuery{Text: strings.Repeat("cat ", 250)}, "the cat and the dog")
}

func testSearchEdits(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	ms := post(t, s, "shared", "alice", 0, "the old plan", "a plan to delete", "plan in a doomed chat")
	ctx := t.Context()
	edit := func(id int64, text string) {
		t.Helper()
		if _, err := s.EditMessage(ctx, chatr.MessageEdit{ChatID: "shared", ID: id, EditorID: "alice", Text: text, At: searchEpoch.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	edit(ms[0].ID, "the new idea")
	if _, err := s.DeleteMessage(ctx, "shared", ms[1].ID, searchEpoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "old"})
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "idea"}, "the new idea")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "delete"})
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "plan"}, "plan in a doomed chat")

	// An edit keeps the message's place among the results, and a second
	// edit leaves the first one's words behind too.
	edit(ms[0].ID, "the new plan")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "plan"}, "plan in a doomed chat", "the new plan")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "idea"})

	// A message edited or deleted before the index caught up with it is
	// found by its current text only, too.
	late := post(t, s, "shared", "alice", 5, "quick draft", "quick mistake")
	edit(late[0].ID, "quick final")
	if _, err := s.DeleteMessage(ctx, "shared", late[1].ID, searchEpoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "quick"}, "quick final")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "draft"})
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "mistake"})

	// A deleted chat takes its messages along, and one created again
	// under its ID does not inherit them.
	if err := s.DeleteChat(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "plan"})
	searchFixtureAgain(t, s)
	post(t, s, "shared", "alice", 10, "a fresh plan")
	wantTexts(t, s, "alice", chatr.SearchQuery{Text: "plan"}, "a fresh plan")
}

func searchFixtureAgain(t *testing.T, s chatr.Store) {
	t.Helper()
	if err := s.CreateChat(t.Context(), chatr.Chat{ID: "shared", Name: "shared", Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(t.Context(), "shared", chatr.Member{UserID: "alice", UserName: "Alice"}); err != nil {
		t.Fatal(err)
	}
}

func testSearchHighlights(t *testing.T, s chatr.Store) {
	searchFixture(t, s)
	post(t, s, "shared", "alice", 0, "Déjà vu: 🐈 DEJA-vu, déjàvu", "明日は東京都に行きます")
	for _, tc := range []struct {
		q    string
		want [][2]int
	}{
		{"deja", [][2]int{{0, 4}, {12, 16}}},
		{"deja vu", [][2]int{{0, 4}, {5, 7}, {12, 16}, {17, 19}}},
		{"東京都", [][2]int{{3, 6}}},
	} {
		r := search(t, s, "alice", chatr.SearchQuery{Text: tc.q}).Results
		if len(r) != 1 {
			t.Errorf("%q: got %d results, want 1", tc.q, len(r))
			continue
		}
		if !reflect.DeepEqual(r[0].Highlights, tc.want) {
			t.Errorf("%q: highlights of %q: got %v, want %v", tc.q, r[0].Text, r[0].Highlights, tc.want)
		}
	}
}
