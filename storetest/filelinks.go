package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// withFiles returns m naming the files by ID, as AddMessage takes them.
func withFiles(m chatr.Message, ids ...string) chatr.Message {
	for _, id := range ids {
		m.Files = append(m.Files, chatr.Attachment{ID: id})
	}
	return m
}

// testAddMessageWithFiles: a message stored with its files has them from
// the start, in its order; a retry changes nothing.
func testAddMessageWithFiles(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	for _, id := range []string{"f1", "f2"} {
		mustFile(t, s, file(id, "c", "u1", 1, at(0)))
	}
	m := withFiles(msg("c", "u1", "two files"), "f2", "f1")
	m.ClientID = "k1"
	got := mustMessage(t, s, m)
	same(t, "AddMessage's Files", len(got.Files), 0)
	files, err := s.MessageFiles(t.Context(), "c", []int64{got.ID})
	ok(t, "MessageFiles", err)
	same(t, "MessageFiles", fileIDs(files[got.ID]), []string{"f2", "f1"})

	again, err := s.AddMessage(t.Context(), m)
	ok(t, "AddMessage(retry)", err)
	same(t, "AddMessage(retry).Duplicate", again.Duplicate, true)
	same(t, "AddMessage(retry).ID", again.ID, got.ID)
	files, err = s.MessageFiles(t.Context(), "c", []int64{got.ID})
	ok(t, "MessageFiles", err)
	same(t, "MessageFiles after a retry", fileIDs(files[got.ID]), []string{"f2", "f1"})
	// Deleting the message takes its files.
	_, err = s.DeleteMessage(t.Context(), "c", got.ID, time.Time{})
	ok(t, "DeleteMessage", err)
	_, err = s.GetFile(t.Context(), "f1")
	code(t, "GetFile after DeleteMessage", err, chatr.ENOTFOUND)
}

// testAddMessageFilesRefused: a message whose files cannot go with it is
// not stored at all.
func testAddMessageFilesRefused(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	mustChat(t, s, group("d", at(0)))
	mustFile(t, s, file("mine", "c", "u1", 1, at(0)))
	mustFile(t, s, file("used", "c", "u1", 1, at(0)))
	mustFile(t, s, file("theirs", "c", "u2", 1, at(0)))
	mustFile(t, s, file("elsewhere", "d", "u1", 1, at(0)))
	first := mustMessage(t, s, withFiles(msg("c", "u1", "first"), "used"))
	many := make([]string, chatr.MaxMessageFiles+1)
	for i := range many {
		many[i] = fmt.Sprintf("f%d", i)
	}
	for _, tc := range []struct {
		name string
		ids  []string
		want string
	}{
		{"missing", []string{"mine", "nofile"}, chatr.ENOTFOUND},
		{"another chat's", []string{"mine", "elsewhere"}, chatr.ENOTFOUND},
		{"another user's", []string{"mine", "theirs"}, chatr.EFORBIDDEN},
		{"attached elsewhere", []string{"mine", "used"}, chatr.ECONFLICT},
		{"repeated", []string{"mine", "mine"}, chatr.EINVALID},
		{"too many", many, chatr.EINVALID},
		{"empty id", []string{""}, chatr.EINVALID},
	} {
		m := withFiles(msg("c", "u1", "refused "+tc.name), tc.ids...)
		m.ClientID = "refused-" + strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", "-"), "'", "")
		_, err := s.AddMessage(t.Context(), m)
		code(t, "AddMessage("+tc.name+")", err, tc.want)
	}
	ms, err := s.ListMessages(t.Context(), "c", chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	same(t, "messages after refusals", len(ms), 1)
	f, err := s.GetFile(t.Context(), "mine")
	ok(t, "GetFile(mine)", err)
	same(t, "GetFile(mine).MessageID after refusals", f.MessageID, int64(0))
	next := mustMessage(t, s, withFiles(msg("c", "u1", "second"), "mine"))
	same(t, "the next message's ID", next.ID, first.ID+1)
}

// testAddMessageFilesRace: messages sent at once with the same file: one
// takes it, the others are refused.
func testAddMessageFilesRace(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	mustFile(t, s, file("f", "c", "u1", 1, at(0)))
	const n = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		won    []chatr.Message
		errors []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := withFiles(msg("c", "u1", fmt.Sprintf("race %d", i)), "f")
			got, err := s.AddMessage(t.Context(), m)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won = append(won, got)
			} else {
				errors = append(errors, err)
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d messages took the file, want 1 (errors: %v)", len(won), errors)
	}
	for _, err := range errors {
		code(t, "AddMessage(taken file)", err, chatr.ECONFLICT)
	}
	f, err := s.GetFile(t.Context(), "f")
	ok(t, "GetFile", err)
	same(t, "the file's message", f.MessageID, won[0].ID)
}

// testDeleteUnsentFiles: files no message took go after a while, oldest
// first; sent and recent ones stay.
func testDeleteUnsentFiles(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	mustChat(t, s, group("gone", at(0)))
	mustFile(t, s, file("old2", "c", "u1", 20, at(2*time.Minute)))
	mustFile(t, s, file("old1", "c", "u1", 10, at(time.Minute)))
	mustFile(t, s, file("old3", "c", "u2", 30, at(3*time.Minute)))
	mustFile(t, s, file("sent", "c", "u1", 100, at(0)))
	mustFile(t, s, file("fresh", "c", "u1", 1000, at(2*time.Hour)))
	mustFile(t, s, file("lost", "gone", "u1", 7, at(0)))
	ok(t, "DeleteChat(gone)", s.DeleteChat(t.Context(), "gone"))
	mustMessage(t, s, withFiles(msg("c", "u1", "sent"), "sent"))

	_, err := s.DeleteUnsentFiles(t.Context(), at(time.Hour), 0)
	code(t, "DeleteUnsentFiles(limit 0)", err, chatr.EINVALID)
	got, err := s.DeleteUnsentFiles(t.Context(), at(time.Hour), 2)
	ok(t, "DeleteUnsentFiles", err)
	same(t, "DeleteUnsentFiles(limit 2)", fileIDs(got), []string{"old1", "old2"})
	want := file("old1", "c", "u1", 10, at(time.Minute))
	same(t, "DeleteUnsentFiles(limit 2)[0]", got[0], want)
	got, err = s.DeleteUnsentFiles(t.Context(), at(time.Hour), 10)
	ok(t, "DeleteUnsentFiles", err)
	same(t, "DeleteUnsentFiles(rest)", fileIDs(got), []string{"old3"})
	got, err = s.DeleteUnsentFiles(t.Context(), at(time.Hour), 10)
	ok(t, "DeleteUnsentFiles", err)
	same(t, "DeleteUnsentFiles(again)", len(got), 0)

	for _, id := range []string{"old1", "old2", "old3"} {
		_, err := s.GetFile(t.Context(), id)
		code(t, "GetFile("+id+")", err, chatr.ENOTFOUND)
		ref, err := s.BlobReferenced(t.Context(), "f/"+id)
		ok(t, "BlobReferenced", err)
		same(t, "BlobReferenced(f/"+id+")", ref, false)
	}
	fs, err := s.ListChatFiles(t.Context(), "c")
	ok(t, "ListChatFiles", err)
	same(t, "files left", fileIDs(fs), []string{"sent", "fresh"})
	n, err := s.UserFileBytes(t.Context(), "u1")
	ok(t, "UserFileBytes", err)
	same(t, "UserFileBytes(u1) after the sweep", n, int64(1100))
	// A file removed so cannot be sent any more.
	_, err = s.AddMessage(t.Context(), withFiles(msg("c", "u1", "too late"), "old1"))
	code(t, "AddMessage(removed file)", err, chatr.ENOTFOUND)
	code(t, "AttachFiles(removed file)", s.AttachFiles(t.Context(), "c", "u1", 1, []string{"old1"}), chatr.ENOTFOUND)
}
