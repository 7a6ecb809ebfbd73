package storetest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// runMessageFeatures is the conformance group of chatr.MessageStore and of
// what it adds to AddMessage and ListMessages (replies, mentions, Around).
func runMessageFeatures(t *testing.T, open func(t *testing.T) chatr.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chatr.Store)
	}{
		{"Replies", testReplies},
		{"Mentions", testMentions},
		{"MentionCounts", testMentionCounts},
		{"EditMessage", testEditMessage},
		{"DeleteMessage", testDeleteMessage},
		{"Reactions", testReactions},
		{"ReactionBadInput", testReactionBadInput},
		{"ReactionLimit", testReactionLimit},
		{"ReactionConcurrent", testReactionConcurrent},
		{"ReadMarkers", testReadMarkers},
		{"UnreadSkipsDeleted", testUnreadSkipsDeleted},
		{"ChatUnread", testChatUnread},
		{"ListAround", testListAround},
		{"DeleteChatForgetsFeatures", testDeleteChatForgetsFeatures},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// twoChats makes chats "a" (messages 1..3) and "b" (message 1), both with
// members alice and bob.
func twoChats(t *testing.T, s chatr.Store) (a []chatr.Message, b chatr.Message) {
	t.Helper()
	for _, id := range []string{"a", "b"} {
		mustChat(t, s, group(id, at(0)))
		mustMember(t, s, id, member("guest:alice", at(0)))
		mustMember(t, s, id, member("guest:bob", at(0)))
	}
	for i := range 3 {
		a = append(a, mustMessage(t, s, msg("a", "guest:alice", fmt.Sprint("a", i+1))))
	}
	return a, mustMessage(t, s, msg("b", "guest:bob", "b1"))
}

func getMessage(t *testing.T, s chatr.Store, chatID string, id int64) chatr.Message {
	t.Helper()
	m, err := s.GetMessage(t.Context(), chatID, id)
	ok(t, fmt.Sprintf("GetMessage %s/%d", chatID, id), err)
	return m
}

// listed returns the message as ListMessages returns it.
func listed(t *testing.T, s chatr.Store, chatID string, id int64) chatr.Message {
	t.Helper()
	ms, err := s.ListMessages(t.Context(), chatID, chatr.MessageQuery{Before: id + 1, Limit: 1})
	ok(t, "ListMessages", err)
	if len(ms) != 1 || ms[0].ID != id {
		t.Fatalf("ListMessages %s before %d: got %v", chatID, id+1, ids(ms))
	}
	return ms[0]
}

func testReplies(t *testing.T, s chatr.Store) {
	a, _ := twoChats(t, s)
	r := msg("a", "guest:bob", "answer")
	r.ReplyTo = a[1].ID
	got := mustMessage(t, s, r)
	if got.ReplyTo != a[1].ID {
		t.Fatalf("AddMessage returned ReplyTo %d, want %d", got.ReplyTo, a[1].ID)
	}
	same(t, "listed reply", listed(t, s, "a", got.ID), got)
	same(t, "GetMessage reply", getMessage(t, s, "a", got.ID), got)

	// Message 3 of chat a exists, but not in chat b; 99 nowhere.
	for _, to := range []int64{3, 99, -1} {
		bad := msg("b", "guest:bob", "lost")
		bad.ReplyTo = to
		_, err := s.AddMessage(t.Context(), bad)
		code(t, fmt.Sprintf("reply in b to %d", to), err, chatr.EINVALID)
	}
	// A refused reply used no id: the next message of b is 2.
	if m := mustMessage(t, s, msg("b", "guest:bob", "b2")); m.ID != 2 {
		t.Fatalf("next message of b has id %d, want 2", m.ID)
	}

	// A retried reply is stored once.
	k := keyed("a", "guest:bob", "reply-key", "again")
	k.ReplyTo = 1
	first := mustMessage(t, s, k)
	again := mustMessage(t, s, k)
	same(t, "retried reply", again, asDuplicate(first))
}

func testMentions(t *testing.T, s chatr.Store) {
	twoChats(t, s)
	m := msg("a", "guest:alice", "@bob @carol @bob")
	m.Mentions = chatr.Mentions{Users: []string{"guest:carol", "guest:bob", "guest:bob"}, Here: true}
	got := mustMessage(t, s, m)
	want := chatr.Mentions{Users: []string{"guest:bob", "guest:carol"}, Here: true}
	same(t, "stored mentions", got.Mentions, want)
	same(t, "listed", listed(t, s, "a", got.ID), got)

	for name, bad := range map[string]chatr.Mentions{
		"too many": {Users: make([]string, chatr.MaxMentionUsers+1)},
		"empty id": {Users: []string{""}},
		"NUL":      {Users: []string{"guest:\x00"}},
	} {
		if name == "too many" {
			for i := range bad.Users {
				bad.Users[i] = fmt.Sprint("guest:", i)
			}
		}
		m := msg("a", "guest:alice", name)
		m.Mentions = bad
		_, err := s.AddMessage(t.Context(), m)
		code(t, "AddMessage mentions "+name, err, chatr.EINVALID)
	}
}

func testMentionCounts(t *testing.T, s chatr.Store) {
	twoChats(t, s)
	mustMember(t, s, "a", member("guest:carol", at(0)))
	send := func(chatID, from string, m chatr.Mentions) chatr.Message {
		x := msg(chatID, from, "hey")
		x.Mentions = m
		return mustMessage(t, s, x)
	}
	counts := func(user string) map[string]int {
		t.Helper()
		c, err := s.MentionCounts(t.Context(), user)
		ok(t, "MentionCounts "+user, err)
		return nonZero(c)
	}
	bob := chatr.Mentions{Users: []string{"guest:bob"}}
	m4 := send("a", "guest:alice", bob)                                  // 4
	send("a", "guest:alice", chatr.Mentions{All: true})                  // 5
	send("a", "guest:bob", chatr.Mentions{Users: []string{"guest:bob"}}) // 6: own
	send("a", "guest:alice", chatr.Mentions{Here: true})                 // 7: here alone
	send("b", "guest:alice", bob)                                        // b 2
	m8 := send("a", "guest:carol", bob)                                  // 8
	same(t, "bob", counts("guest:bob"), map[string]int{"a": 3, "b": 1})
	same(t, "carol", counts("guest:carol"), map[string]int{"a": 1})
	same(t, "alice", counts("guest:alice"), map[string]int{})
	same(t, "nobody", counts("guest:nobody"), map[string]int{})

	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "a", m4.ID))
	same(t, "bob after reading 4", counts("guest:bob"), map[string]int{"a": 2, "b": 1})
	_, err := s.DeleteMessage(t.Context(), "a", m8.ID, at(time.Hour))
	ok(t, "DeleteMessage", err)
	same(t, "bob after 8 deleted", counts("guest:bob"), map[string]int{"a": 1, "b": 1})
	_, err = s.EditMessage(t.Context(), chatr.MessageEdit{ChatID: "b", ID: 2, EditorID: "guest:alice", Text: "never mind"})
	ok(t, "EditMessage", err)
	same(t, "bob after b/2 lost its mention", counts("guest:bob"), map[string]int{"a": 1})
	ok(t, "RemoveMember", s.RemoveMember(t.Context(), "a", "guest:bob"))
	same(t, "bob after leaving a", counts("guest:bob"), map[string]int{})
}

func testEditMessage(t *testing.T, s chatr.Store) {
	a, b := twoChats(t, s)
	e := chatr.MessageEdit{ChatID: "a", ID: a[1].ID, EditorID: "guest:alice", Text: "fixed ✓", Mentions: chatr.Mentions{Users: []string{"guest:bob"}}, At: at(time.Hour)}
	got, err := s.EditMessage(t.Context(), e)
	ok(t, "EditMessage", err)
	want := a[1]
	want.Text, want.Mentions, want.Edited = e.Text, e.Mentions, at(time.Hour)
	same(t, "edited", got, want)
	same(t, "listed", listed(t, s, "a", a[1].ID), want)
	same(t, "neighbour untouched", listed(t, s, "a", a[2].ID), a[2])

	e2 := e
	e2.Text, e2.Mentions, e2.At = "fixed twice", chatr.Mentions{}, time.Time{}
	got, err = s.EditMessage(t.Context(), e2)
	ok(t, "EditMessage again", err)
	if got.Text != "fixed twice" || !got.Mentions.IsZero() {
		t.Fatalf("second edit: got %+v", got)
	}
	recent(t, "Edited with zero At", got.Edited)

	for _, c := range []struct {
		what string
		e    chatr.MessageEdit
		code string
	}{
		{"someone else's", chatr.MessageEdit{ChatID: "a", ID: 1, EditorID: "guest:bob", Text: "mine now"}, chatr.EFORBIDDEN},
		{"unknown id", chatr.MessageEdit{ChatID: "a", ID: 99, EditorID: "guest:alice", Text: "x"}, chatr.ENOTFOUND},
		{"id of another chat", chatr.MessageEdit{ChatID: "b", ID: 3, EditorID: "guest:alice", Text: "x"}, chatr.ENOTFOUND},
		{"missing chat", chatr.MessageEdit{ChatID: "nope", ID: 1, EditorID: "guest:alice", Text: "x"}, chatr.ENOTFOUND},
		{"empty text", chatr.MessageEdit{ChatID: "a", ID: 1, EditorID: "guest:alice", Text: ""}, chatr.EINVALID},
		{"NUL", chatr.MessageEdit{ChatID: "a", ID: 1, EditorID: "guest:alice", Text: "a\x00"}, chatr.EINVALID},
	} {
		_, err := s.EditMessage(t.Context(), c.e)
		code(t, "edit "+c.what, err, c.code)
	}
	same(t, "b untouched", listed(t, s, "b", 1), b)
	same(t, "refused edits changed nothing", listed(t, s, "a", 1), a[0])

	_, err = s.DeleteMessage(t.Context(), "a", 1, time.Time{})
	ok(t, "DeleteMessage", err)
	_, err = s.EditMessage(t.Context(), chatr.MessageEdit{ChatID: "a", ID: 1, EditorID: "guest:alice", Text: "back"})
	code(t, "edit deleted", err, chatr.ECONFLICT)
}

func testDeleteMessage(t *testing.T, s chatr.Store) {
	a, b := twoChats(t, s)
	k := keyed("a", "guest:bob", "del-key", "secret password")
	k.ReplyTo = a[0].ID
	k.Mentions = chatr.Mentions{Users: []string{"guest:alice"}, All: true}
	m := mustMessage(t, s, k)
	_, _, err := s.ToggleReaction(t.Context(), "a", m.ID, "guest:alice", "👍")
	ok(t, "ToggleReaction", err)

	got, err := s.DeleteMessage(t.Context(), "a", m.ID, at(2*time.Hour))
	ok(t, "DeleteMessage", err)
	want := m
	want.Text, want.Mentions, want.Deleted, want.DeletedAt = "", chatr.Mentions{}, true, at(2*time.Hour)
	same(t, "deleted", got, want)
	same(t, "listed", listed(t, s, "a", m.ID), want)

	again, err := s.DeleteMessage(t.Context(), "a", m.ID, at(3*time.Hour))
	ok(t, "DeleteMessage again", err)
	same(t, "deleted twice", again, want)
	retried := mustMessage(t, s, k)
	same(t, "retried send of a deleted message", retried, asDuplicate(want))
	_, _, err = s.ToggleReaction(t.Context(), "a", m.ID, "guest:bob", "👍")
	code(t, "react to deleted", err, chatr.ECONFLICT)

	for _, c := range []struct {
		chatID string
		id     int64
	}{{"a", 99}, {"b", 3}, {"nope", 1}, {"a", 0}} {
		_, err := s.DeleteMessage(t.Context(), c.chatID, c.id, time.Time{})
		code(t, fmt.Sprintf("delete %s/%d", c.chatID, c.id), err, chatr.ENOTFOUND)
	}
	same(t, "b untouched", listed(t, s, "b", 1), b)
	same(t, "others untouched", listed(t, s, "a", 3), a[2])
}

func testReactions(t *testing.T, s chatr.Store) {
	a, _ := twoChats(t, s)
	toggle := func(user, emoji string, wantOn bool) []chatr.Reaction {
		t.Helper()
		on, rs, err := s.ToggleReaction(t.Context(), "a", a[0].ID, user, emoji)
		ok(t, "ToggleReaction "+user+" "+emoji, err)
		if on != wantOn {
			t.Fatalf("ToggleReaction %s %s: on = %v, want %v", user, emoji, on, wantOn)
		}
		return rs
	}
	toggle("guest:bob", "🎉", true)
	toggle("guest:alice", "👍", true)
	rs := toggle("guest:alice", "🎉", true)
	want := []chatr.Reaction{{Emoji: "🎉", Count: 2, Users: []string{"guest:bob", "guest:alice"}}, {Emoji: "👍", Count: 1, Users: []string{"guest:alice"}}}
	same(t, "reactions", rs, want)
	same(t, "listed", listed(t, s, "a", a[0].ID).Reactions, want)
	same(t, "GetMessage", getMessage(t, s, "a", a[0].ID).Reactions, want)

	rs = toggle("guest:bob", "🎉", false)
	// The order of emoji is that of the first reaction still there.
	same(t, "after bob's off", rs, []chatr.Reaction{{Emoji: "👍", Count: 1, Users: []string{"guest:alice"}}, {Emoji: "🎉", Count: 1, Users: []string{"guest:alice"}}})
	toggle("guest:alice", "🎉", false)
	rs = toggle("guest:alice", "👍", false)
	same(t, "all off", len(rs), 0)
	if got := listed(t, s, "a", a[0].ID); got.Reactions != nil {
		t.Fatalf("listed after all off: %+v", got.Reactions)
	}

	// Count counts everyone; Users lists the first MaxReactionUsers.
	n := chatr.MaxReactionUsers + 7
	var users []string
	for i := range n {
		users = append(users, fmt.Sprintf("guest:u%03d", i))
		rs = toggle(users[i], "❤️", true)
	}
	same(t, "many users", rs, []chatr.Reaction{{Emoji: "❤️", Count: n, Users: users[:chatr.MaxReactionUsers]}})
	rs = toggle(users[0], "❤️", false)
	same(t, "first user off", rs, []chatr.Reaction{{Emoji: "❤️", Count: n - 1, Users: users[1 : chatr.MaxReactionUsers+1]}})
	same(t, "other messages bare", listed(t, s, "a", a[1].ID), a[1])
}

func testReactionBadInput(t *testing.T, s chatr.Store) {
	twoChats(t, s)
	for _, c := range []struct {
		what, chatID string
		id           int64
		emoji, code  string
	}{
		{"10 KB emoji", "a", 1, strings.Repeat("😀", 2500), chatr.EINVALID},
		{"65 bytes", "a", 1, strings.Repeat("x", chatr.MaxEmoji+1), chatr.EINVALID},
		{"empty", "a", 1, "", chatr.EINVALID},
		{"NUL", "a", 1, "\x00", chatr.EINVALID},
		{"bad UTF-8", "a", 1, "\xff", chatr.EINVALID},
		{"unknown id", "a", 99, "👍", chatr.ENOTFOUND},
		{"id of another chat", "b", 3, "👍", chatr.ENOTFOUND},
		{"missing chat", "nope", 1, "👍", chatr.ENOTFOUND},
	} {
		_, _, err := s.ToggleReaction(t.Context(), c.chatID, c.id, "guest:bob", c.emoji)
		code(t, "react "+c.what, err, c.code)
	}
	if on, rs, err := s.ToggleReaction(t.Context(), "a", 1, "guest:bob", strings.Repeat("x", chatr.MaxEmoji)); err != nil || !on || len(rs) != 1 {
		t.Fatalf("react with %d bytes: on %v, %v, %v", chatr.MaxEmoji, on, rs, err)
	}
	if got := listed(t, s, "b", 1); got.Reactions != nil {
		t.Fatalf("b/1 got reactions %+v", got.Reactions)
	}
}

// testReactionLimit attempts 10,000 distinct reactions on one message:
// exactly MaxReactionKinds are taken, the rest are ELIMIT, and emoji
// already there still take more users.
func testReactionLimit(t *testing.T, s chatr.Store) {
	twoChats(t, s)
	const attempts, workers = 10_000, 8
	var taken, limited atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < attempts; i += workers {
				_, _, err := s.ToggleReaction(t.Context(), "a", 1, "guest:bob", fmt.Sprint("e", i))
				switch chatr.ErrorCode(err) {
				case "":
					taken.Add(1)
				case chatr.ELIMIT:
					limited.Add(1)
				default:
					t.Errorf("reaction %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if taken.Load() != chatr.MaxReactionKinds || limited.Load() != attempts-chatr.MaxReactionKinds {
		t.Fatalf("taken %d, limited %d; want %d and %d", taken.Load(), limited.Load(), chatr.MaxReactionKinds, attempts-chatr.MaxReactionKinds)
	}
	rs := listed(t, s, "a", 1).Reactions
	if len(rs) != chatr.MaxReactionKinds {
		t.Fatalf("listed %d emoji, want %d", len(rs), chatr.MaxReactionKinds)
	}
	on, rs2, err := s.ToggleReaction(t.Context(), "a", 1, "guest:alice", rs[0].Emoji)
	ok(t, "another user on an emoji at the limit", err)
	if !on || len(rs2) != chatr.MaxReactionKinds || rs2[0].Count != 2 {
		t.Fatalf("at the limit: on %v, %d emoji, first %+v", on, len(rs2), rs2[0])
	}
}

func testReactionConcurrent(t *testing.T, s chatr.Store) {
	twoChats(t, s)
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, err := s.ToggleReaction(t.Context(), "a", 2, fmt.Sprintf("guest:u%02d", i), "👍")
			if err != nil {
				t.Errorf("user %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	rs := listed(t, s, "a", 2).Reactions
	if len(rs) != 1 || rs[0].Count != n || len(rs[0].Users) != n {
		t.Fatalf("after %d users reacted at once: %+v", n, rs)
	}
	// Two users toggling twice at once end where they began.
	for range 2 {
		for _, u := range []string{"guest:alice", "guest:bob"} {
			wg.Go(func() {
				if _, _, err := s.ToggleReaction(t.Context(), "a", 3, u, "🔥"); err != nil {
					t.Errorf("%s: %v", u, err)
				}
			})
		}
	}
	wg.Wait()
	if rs := listed(t, s, "a", 3).Reactions; rs != nil {
		t.Fatalf("after toggling twice: %+v", rs)
	}
}

func testReadMarkers(t *testing.T, s chatr.Store) {
	twoChats(t, s)
	markers := func(user string) map[string]int64 {
		t.Helper()
		m, err := s.ReadMarkers(t.Context(), user)
		ok(t, "ReadMarkers", err)
		return m
	}
	same(t, "none yet", markers("guest:bob"), map[string]int64{})
	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "a", 2))
	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "a", 1))
	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "b", 1))
	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:alice", "a", 3))
	same(t, "bob", markers("guest:bob"), map[string]int64{"a": 2, "b": 1})
	same(t, "alice", markers("guest:alice"), map[string]int64{"a": 3})
	unread, err := s.UnreadCounts(t.Context(), "guest:bob")
	ok(t, "UnreadCounts", err)
	same(t, "unread agrees", nonZero(unread), map[string]int{"a": 1})
	ok(t, "RemoveMember", s.RemoveMember(t.Context(), "b", "guest:bob"))
	same(t, "bob after leaving b", markers("guest:bob"), map[string]int64{"a": 2})
}

// testUnreadSkipsDeleted: a deleted message is no longer unread, for any
// member, while the read marker and the other counts stay as they were.
func testUnreadSkipsDeleted(t *testing.T, s chatr.Store) {
	a, _ := twoChats(t, s)
	unread := func(user string) map[string]int {
		t.Helper()
		c, err := s.UnreadCounts(t.Context(), user)
		ok(t, "UnreadCounts "+user, err)
		return nonZero(c)
	}
	same(t, "bob before", unread("guest:bob"), map[string]int{"a": 3})
	_, err := s.DeleteMessage(t.Context(), "a", a[1].ID, at(time.Hour))
	ok(t, "DeleteMessage", err)
	same(t, "bob after a/2 deleted", unread("guest:bob"), map[string]int{"a": 2})
	same(t, "alice sees b/1", unread("guest:alice"), map[string]int{"b": 1})
	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "a", a[0].ID))
	same(t, "bob after reading a/1", unread("guest:bob"), map[string]int{"a": 1})
	_, err = s.DeleteMessage(t.Context(), "a", a[2].ID, at(time.Hour))
	ok(t, "DeleteMessage", err)
	same(t, "bob after every unread deleted", unread("guest:bob"), map[string]int{})
	_, err = s.DeleteMessage(t.Context(), "b", 1, at(time.Hour))
	ok(t, "DeleteMessage", err)
	same(t, "alice after b/1 deleted", unread("guest:alice"), map[string]int{})
}

func testListAround(t *testing.T, s chatr.Store) {
	mustChat(t, s, group("c", at(0)))
	for i := range 20 {
		mustMessage(t, s, msg("c", "guest:alice", fmt.Sprint(i+1)))
	}
	for _, c := range []struct {
		around int64
		limit  int
		want   []int64
	}{
		{10, 6, span(7, 12)},
		{10, 5, span(8, 12)},
		{10, 1, span(10, 10)},
		{1, 6, span(1, 6)},
		{2, 6, span(1, 6)},
		{19, 6, span(16, 20)},
		{25, 6, span(18, 20)},
		{10, 0, span(1, 20)},
	} {
		ms, err := s.ListMessages(t.Context(), "c", chatr.MessageQuery{Around: c.around, Limit: c.limit, Before: 3, After: 15})
		ok(t, "ListMessages around", err)
		same(t, fmt.Sprintf("around %d limit %d", c.around, c.limit), ids(ms), c.want)
	}
	_, err := s.ListMessages(t.Context(), "nope", chatr.MessageQuery{Around: 3})
	code(t, "around in a missing chat", err, chatr.ENOTFOUND)
}

func testDeleteChatForgetsFeatures(t *testing.T, s chatr.Store) {
	twoChats(t, s)
	m := msg("a", "guest:alice", "hi @bob")
	m.Mentions = chatr.Mentions{Users: []string{"guest:bob"}}
	mustMessage(t, s, m)
	_, _, err := s.ToggleReaction(t.Context(), "a", 1, "guest:bob", "👍")
	ok(t, "ToggleReaction", err)
	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "a", 1))
	ok(t, "DeleteChat", s.DeleteChat(t.Context(), "a"))
	mustChat(t, s, group("a", at(0)))
	mustMember(t, s, "a", member("guest:bob", at(0)))
	fresh := mustMessage(t, s, msg("a", "guest:alice", "new"))
	same(t, "fresh message", listed(t, s, "a", 1), fresh)
	markers, err := s.ReadMarkers(t.Context(), "guest:bob")
	ok(t, "ReadMarkers", err)
	same(t, "markers", markers, map[string]int64{})
	counts, err := s.MentionCounts(t.Context(), "guest:bob")
	ok(t, "MentionCounts", err)
	same(t, "mentions", nonZero(counts), map[string]int{})
}
