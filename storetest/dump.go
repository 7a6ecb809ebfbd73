package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// Fill writes a bit of everything a store keeps through the Store
// contract: users (one banned, one with a chosen name, one with revoked
// tokens), sessions, a public, a private and a direct chat with roles,
// messages with and without client ids (a reply with mentions, an edited
// and a deleted one, reactions), read markers, invites and moderation
// events. Copies and dumps are checked against what it wrote.
func Fill(t testing.TB, s chatr.Store) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"github:1", "guest:ann", "aad:bob"} {
		must(s.UpsertUser(ctx, chatr.User{ID: id, Name: "User " + id, Provider: id[:len(id)-2], LastSeen: base, Created: base.Add(time.Duration(i) * time.Minute)}))
	}
	must(s.SetUserName(ctx, "guest:ann", "Ann Chosen"))
	must(s.SetBanned(ctx, "aad:bob", true, "github:1", base.Add(time.Hour)))
	must(s.RevokeTokens(ctx, "github:1", base.Add(2*time.Hour)))
	must(s.SetIdle(ctx, "guest:ann", true, base.Add(3*time.Hour)))
	must(s.CreateSession(ctx, chatr.Session{TokenHash: "h1", UserID: "github:1", Created: base, Expires: base.Add(24 * 365 * 100 * time.Hour)}))
	must(s.CreateSession(ctx, chatr.Session{TokenHash: "h2", UserID: "guest:ann", Created: base, Expires: base.Add(24 * 365 * 100 * time.Hour)}))

	dm := chatr.PrivateChatID("github:1", "guest:ann")
	chats := []chatr.Chat{
		{ID: "lobby", Name: "Lobby", Owner: "github:1", Created: base, Topic: "hello"},
		{ID: "secret", Name: "Secret", Owner: "guest:ann", Created: base.Add(time.Minute), Visibility: chatr.VisibilityPrivate, InvitePolicy: chatr.InviteByModerators},
		{ID: dm, Name: "DM", Private: true, Created: base.Add(2 * time.Minute)},
	}
	for _, c := range chats {
		must(s.CreateChat(ctx, c))
	}
	must(s.AddMember(ctx, "lobby", chatr.Member{UserID: "github:1", UserName: "User github:1", Joined: base}))
	must(s.AddMember(ctx, "lobby", chatr.Member{UserID: "guest:ann", UserName: "Ann Chosen", Joined: base.Add(time.Second)}))
	must(s.AddMember(ctx, "lobby", chatr.Member{UserID: "aad:bob", UserName: "User aad:bob", Joined: base.Add(2 * time.Second)}))
	must(s.SetMemberRole(ctx, "lobby", "guest:ann", chatr.RoleModerator))
	must(s.AddMember(ctx, "secret", chatr.Member{UserID: "guest:ann", UserName: "Ann Chosen", Joined: base}))
	must(s.AddMember(ctx, dm, chatr.Member{UserID: "github:1", UserName: "User github:1", Joined: base}))
	must(s.AddMember(ctx, dm, chatr.Member{UserID: "guest:ann", UserName: "Ann Chosen", Joined: base}))
	for i := range 7 {
		chatID := []string{"lobby", "lobby", dm}[i%3]
		m := chatr.Message{ChatID: chatID, FromUserID: "github:1", FromUserName: "User github:1", Text: fmt.Sprintf("message %d ✓", i), Time: base.Add(time.Duration(i) * time.Second)}
		if i%2 == 0 {
			m.ClientID = fmt.Sprintf("c%d", i)
		}
		if i == 3 { // lobby's message 3 answers message 1 and mentions Ann
			m.ReplyTo, m.Mentions = 1, chatr.Mentions{Users: []string{"guest:ann"}, Here: true}
		}
		_, err := s.AddMessage(ctx, m)
		must(err)
	}
	_, err := s.EditMessage(ctx, chatr.MessageEdit{ChatID: "lobby", ID: 2, EditorID: "github:1", Text: "message 1, edited", Mentions: chatr.Mentions{All: true}, At: base.Add(time.Hour)})
	must(err)
	_, err = s.DeleteMessage(ctx, "lobby", 4, base.Add(2*time.Hour))
	must(err)
	for _, r := range []struct {
		id          int64
		user, emoji string
	}{{1, "guest:ann", "👍"}, {1, "aad:bob", "🎉"}, {1, "github:1", "👍"}, {5, "guest:ann", "👍"}} {
		_, _, err := s.ToggleReaction(ctx, "lobby", r.id, r.user, r.emoji)
		must(err)
	}
	must(s.MarkRead(ctx, "guest:ann", "lobby", 3))
	must(s.MarkRead(ctx, "github:1", dm, 1))
	must(s.CreateInvite(ctx, chatr.Invite{TokenHash: "inv1", ChatID: "secret", CreatedBy: "guest:ann", Created: base, Expires: base.Add(24 * time.Hour), MaxUses: 3}))
	must(s.CreateInvite(ctx, chatr.Invite{TokenHash: "inv2", ChatID: "lobby", CreatedBy: "github:1", Created: base}))
	must(s.RevokeInvite(ctx, "inv2"))
	for _, a := range []string{"ban", "setRole"} {
		_, err := s.AddModEvent(ctx, chatr.ModEvent{Actor: "github:1", Action: a, TargetUser: "aad:bob", ChatID: "lobby", Detail: a, At: base})
		must(err)
	}
	// Lobby's message 1 carries two files; one in the DM is not sent yet.
	fs := s.(chatr.FileStore)
	for _, f := range []chatr.File{
		{ID: "file1", ChatID: "lobby", UserID: "github:1", Name: "plan.png", Size: 2048, Type: "image/png", Key: "files/file1", ThumbKey: "thumbs/file1", Width: 640, Height: 480, Created: base},
		{ID: "file2", ChatID: "lobby", UserID: "github:1", Name: "notes.txt", Size: 12, Type: "text/plain; charset=utf-8", Key: "files/file2", Created: base},
		{ID: "file3", ChatID: dm, UserID: "guest:ann", Name: "draft.pdf", Size: 99, Type: "application/pdf", Key: "files/file3", Created: base.Add(time.Minute)},
	} {
		must(fs.CreateFile(ctx, f))
	}
	must(fs.AttachFiles(ctx, "lobby", "github:1", 1, []string{"file2", "file1"}))
}

// Snapshot dumps every kind of d, with times normalised by
// chatr.DumpTime, so that two stores holding the same data compare equal.
func Snapshot(t testing.TB, d chatr.Dumper) map[string][]any {
	t.Helper()
	got := map[string][]any{}
	for _, kind := range chatr.DumpKinds {
		err := d.Dump(context.Background(), kind, func(r chatr.Row) error {
			if r.Kind != kind {
				return fmt.Errorf("dump %s gave a %s row", kind, r.Kind)
			}
			got[kind] = append(got[kind], NormalRow(r.Value))
			return nil
		})
		if err != nil {
			t.Fatalf("dump %s: %v", kind, err)
		}
	}
	return got
}

// NormalRow returns v with its times normalised by chatr.DumpTime.
func NormalRow(v any) any {
	n := chatr.DumpTime
	switch v := v.(type) {
	case chatr.UserRow:
		u := &v.User
		u.LastSeen, u.Created, u.TokensRevoked, u.BannedAt = n(u.LastSeen), n(u.Created), n(u.TokensRevoked), n(u.BannedAt)
		return v
	case chatr.Session:
		v.Created, v.Expires = n(v.Created), n(v.Expires)
		return v
	case chatr.ChatRow:
		v.Created, v.LastMessageAt = n(v.Created), time.Time{}
		return v
	case chatr.MemberRow:
		v.Joined = n(v.Joined)
		return v
	case chatr.Message:
		v.Time, v.Edited, v.DeletedAt = n(v.Time), n(v.Edited), n(v.DeletedAt)
		v.Mentions, v.Reactions = chatr.NormalMentions(v.Mentions), nil
		return v
	case chatr.Invite:
		v.Created, v.Expires = n(v.Created), n(v.Expires)
		return v
	case chatr.ModEvent:
		v.At = n(v.At)
		return v
	case chatr.FileRow:
		v.Created = n(v.Created)
		return v
	}
	return v
}

// Load writes every row of snap to d, kind by kind in write order.
func Load(t testing.TB, d chatr.Dumper, snap map[string][]any) {
	t.Helper()
	for _, kind := range chatr.DumpKinds {
		var rows []chatr.Row
		for _, v := range snap[kind] {
			rows = append(rows, chatr.Row{Kind: kind, Value: v})
		}
		if len(rows) == 0 {
			continue
		}
		if err := d.Load(context.Background(), rows); err != nil {
			t.Fatalf("load %s: %v", kind, err)
		}
	}
}

// RunDump checks a store's chatr.Dumper: what Fill wrote dumps with every
// kind present, loads into a fresh store (twice: nothing doubles) to the
// same dump, and the copy goes on as the original would (the next message
// id follows the copied ones; a retried client id is still a duplicate).
func RunDump(t *testing.T, open func(t *testing.T) chatr.Store) {
	ctx := context.Background()
	src := open(t)
	Fill(t, src)
	want := Snapshot(t, dumper(t, src))
	for _, kind := range chatr.DumpKinds {
		if len(want[kind]) == 0 {
			t.Errorf("dump has no %s", kind)
		}
	}
	if got := len(want[chatr.KindMessages]); got != 7 {
		t.Errorf("dumped %d messages, want 7", got)
	}

	dst := open(t)
	for range 2 {
		Load(t, dumper(t, dst), want)
		if got := Snapshot(t, dumper(t, dst)); !reflect.DeepEqual(got, want) {
			for _, kind := range chatr.DumpKinds {
				if !reflect.DeepEqual(got[kind], want[kind]) {
					t.Errorf("%s after load:\n got %+v\nwant %+v", kind, got[kind], want[kind])
				}
			}
			t.FailNow()
		}
	}
	// What users see of the copied messages: reactions in order, the
	// reply, the edit and deletion, and mention counts.
	history := func(s chatr.Store) []chatr.Message {
		ms, err := s.ListMessages(ctx, "lobby", chatr.MessageQuery{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for i := range ms {
			ms[i] = NormalRow(ms[i]).(chatr.Message) // reactions are compared below
		}
		return ms
	}
	withReactions := func(s chatr.Store) [][]chatr.Reaction {
		ms, err := s.ListMessages(ctx, "lobby", chatr.MessageQuery{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var out [][]chatr.Reaction
		for _, m := range ms {
			out = append(out, m.Reactions)
		}
		return out
	}
	if got, want := history(dst), history(src); !reflect.DeepEqual(got, want) {
		t.Errorf("history of the copy:\n got %+v\nwant %+v", got, want)
	}
	if got, want := withReactions(dst), withReactions(src); !reflect.DeepEqual(got, want) || len(want[0]) != 2 || want[0][0].Count != 2 {
		t.Errorf("reactions of the copy:\n got %+v\nwant %+v (lobby 1: 👍 ×2 then 🎉)", got, want)
	}
	for _, uid := range []string{"guest:ann", "aad:bob"} {
		got, err1 := dst.MentionCounts(ctx, uid)
		want, err2 := src.MentionCounts(ctx, uid)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("mention counts of %s in the copy: %v %v, want %v %v", uid, got, err1, want, err2)
		}
	}
	m, err := dst.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "guest:ann", FromUserName: "Ann", Text: "after"})
	if err != nil || m.ID != 6 {
		t.Errorf("next message in the copy: id %d, %v; want 6", m.ID, err)
	}
	dup, err := dst.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "github:1", Text: "again", ClientID: "c0"})
	if err != nil || !dup.Duplicate || dup.ID != 1 {
		t.Errorf("retried client id in the copy: %+v, %v; want the duplicate of message 1", dup, err)
	}
	if u, err := dst.GetUserByHandle(ctx, handleOf(t, src, "guest:ann")); err != nil || u.ID != "guest:ann" {
		t.Errorf("handle in the copy: %+v, %v", u, err)
	}
	if s, err := dst.GetSession(ctx, "h1", time.Now()); err != nil || s.UserID != "github:1" {
		t.Errorf("session in the copy: %+v, %v", s, err)
	}

	orphan := chatr.Row{Kind: chatr.KindMessages, Value: chatr.Message{ChatID: "nowhere", ID: 1, FromUserID: "x", Text: "x", Time: time.Now()}}
	if err := dumper(t, open(t)).Load(ctx, []chatr.Row{orphan}); chatr.ErrorCode(err) != chatr.EINVALID {
		t.Errorf("load a message of a missing chat: %v, want EINVALID", err)
	}
	if err := dumper(t, dst).Dump(ctx, "nothing", func(chatr.Row) error { return nil }); chatr.ErrorCode(err) != chatr.EINVALID {
		t.Errorf("dump an unknown kind: %v, want EINVALID", err)
	}
}

func handleOf(t *testing.T, s chatr.Store, id string) string {
	u, err := s.GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Handle
}

func dumper(t *testing.T, s chatr.Store) chatr.Dumper {
	d, ok := s.(chatr.Dumper)
	if !ok {
		t.Fatalf("%T is not a chatr.Dumper", s)
	}
	return d
}

// RunDeleteUser checks a store's chatr.UserDeleter on what Fill wrote.
func RunDeleteUser(t *testing.T, open func(t *testing.T) chatr.Store) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			s := open(t)
			Fill(t, s)
			d, ok := s.(chatr.UserDeleter)
			if !ok {
				t.Fatalf("%T is not a chatr.UserDeleter", s)
			}
			if err := d.DeleteUser(ctx, "github:1", keep); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetUser(ctx, "github:1"); chatr.ErrorCode(err) != chatr.ENOTFOUND {
				t.Errorf("GetUser after delete: %v, want ENOTFOUND", err)
			}
			if _, err := s.GetSession(ctx, "h1", time.Now()); chatr.ErrorCode(err) != chatr.ENOTFOUND {
				t.Errorf("session after delete: %v, want ENOTFOUND", err)
			}
			if ok, _ := s.IsMember(ctx, "lobby", "github:1"); ok {
				t.Error("still a member after delete")
			}
			ms, err := s.ListMessages(ctx, "lobby", chatr.MessageQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if keep {
				want = 5
			}
			if len(ms) != want {
				t.Fatalf("lobby has %d messages after delete, want %d", len(ms), want)
			}
			for _, m := range ms {
				if m.FromUserID != chatr.DeletedUserID || m.FromUserName != chatr.DeletedUserName || m.ClientID != "" {
					t.Errorf("kept message: %+v", m)
				}
			}
			if u, err := s.GetUser(ctx, "guest:ann"); err != nil || u.Name != "Ann Chosen" {
				t.Errorf("another user after delete: %+v, %v", u, err)
			}
			if err := d.DeleteUser(ctx, "github:1", keep); chatr.ErrorCode(err) != chatr.ENOTFOUND {
				t.Errorf("delete again: %v, want ENOTFOUND", err)
			}
		})
	}
}
