package storetest

import (
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// testChatUnread: one chat's marker and counts, which agree with
// UnreadCounts and MentionCounts as marks, deletions and leaving change
// them; a non-member, a missing chat and bad text count nothing.
func testChatUnread(t *testing.T, s chatr.Store) {
	twoChats(t, s) // a: 1..3 from alice; b: 1 from bob
	send := func(chatID, from string, m chatr.Mentions) chatr.Message {
		x := msg(chatID, from, "hey")
		x.Mentions = m
		return mustMessage(t, s, x)
	}
	m4 := send("a", "guest:alice", chatr.Mentions{Users: []string{"guest:bob"}})
	send("a", "guest:alice", chatr.Mentions{All: true})                  // 5
	send("a", "guest:bob", chatr.Mentions{Users: []string{"guest:bob"}}) // 6: own
	get := func(user, chatID string) chatr.ChatUnread {
		t.Helper()
		u, err := s.ChatUnread(t.Context(), user, chatID)
		ok(t, "ChatUnread "+user+" "+chatID, err)
		return u
	}
	// agrees checks one chat against the counts of every chat.
	agrees := func(what, user, chatID string, want chatr.ChatUnread) {
		t.Helper()
		same(t, what, get(user, chatID), want)
		unread, err := s.UnreadCounts(t.Context(), user)
		ok(t, "UnreadCounts", err)
		mentions, err := s.MentionCounts(t.Context(), user)
		ok(t, "MentionCounts", err)
		if unread[chatID] != want.Unread || mentions[chatID] != want.Mentions {
			t.Errorf("%s: UnreadCounts %d and MentionCounts %d disagree with %+v", what, unread[chatID], mentions[chatID], want)
		}
	}
	agrees("bob in a", "guest:bob", "a", chatr.ChatUnread{Unread: 5, Mentions: 2})
	agrees("alice in a", "guest:alice", "a", chatr.ChatUnread{Unread: 1})
	agrees("alice in b", "guest:alice", "b", chatr.ChatUnread{Unread: 1})
	agrees("bob in b", "guest:bob", "b", chatr.ChatUnread{})

	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "a", 2))
	agrees("bob after reading 2", "guest:bob", "a", chatr.ChatUnread{ReadUpTo: 2, Unread: 3, Mentions: 2})
	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "a", 1))
	agrees("a marker does not go back", "guest:bob", "a", chatr.ChatUnread{ReadUpTo: 2, Unread: 3, Mentions: 2})
	_, err := s.DeleteMessage(t.Context(), "a", m4.ID, at(time.Hour))
	ok(t, "DeleteMessage", err)
	agrees("bob after 4 deleted", "guest:bob", "a", chatr.ChatUnread{ReadUpTo: 2, Unread: 2, Mentions: 1})
	ok(t, "MarkRead", s.MarkRead(t.Context(), "guest:bob", "a", 6))
	agrees("bob read everything", "guest:bob", "a", chatr.ChatUnread{ReadUpTo: 6})

	for _, c := range []struct{ what, user, chatID string }{
		{"a non-member", "guest:nobody", "a"},
		{"a missing chat", "guest:bob", "missing"},
		{"bad text", "guest:bob\x00", "a\xff"},
	} {
		same(t, c.what, get(c.user, c.chatID), chatr.ChatUnread{})
	}
	ok(t, "RemoveMember", s.RemoveMember(t.Context(), "b", "guest:alice"))
	same(t, "alice after leaving b", get("guest:alice", "b"), chatr.ChatUnread{})
}
