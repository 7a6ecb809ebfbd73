package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// FileStore is a store under test for RunFiles: files belong to chats, so
// the suite needs the chat methods too.
type FileStore interface {
	chatr.Store
	chatr.FileStore
}

// RunFiles runs the conformance tests of chatr.FileStore against stores
// made by open, which must return a fresh, empty store each time. Beyond
// the interface's comments it settles that a chat's files go with it:
// DeleteChat removes them, and a chat created again under the same ID has
// none.
func RunFiles(t *testing.T, open func(t *testing.T) FileStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s FileStore)
	}{
		{"CreateGet", testFileCreateGet},
		{"CreatedDefault", testFileCreatedDefault},
		{"Conflict", testFileConflict},
		{"Invalid", testFileInvalid},
		{"MissingChat", testFileMissingChat},
		{"ListChatFiles", testListChatFiles},
		{"Delete", testFileDelete},
		{"UserFileBytes", testUserFileBytes},
		{"BlobReferenced", testBlobReferenced},
		{"GoWithTheirChat", testFilesGoWithChat},
		{"AttachFiles", testAttachFiles},
		{"AttachFilesRefused", testAttachFilesRefused},
		{"GoWithTheirMessage", testFilesGoWithMessage},
		{"AddMessageWithFiles", testAddMessageWithFiles},
		{"AddMessageFilesRefused", testAddMessageFilesRefused},
		{"AddMessageFilesRace", testAddMessageFilesRace},
		{"DeleteUnsentFiles", testDeleteUnsentFiles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func file(id, chatID, userID string, size int64, created time.Time) chatr.File {
	return chatr.File{ID: id, ChatID: chatID, UserID: userID, Name: id + ".txt", Size: size,
		Type: "text/plain; charset=utf-8", Key: "f/" + id, Created: created}
}

func mustFile(t *testing.T, s FileStore, f chatr.File) {
	t.Helper()
	ok(t, "CreateFile("+f.ID+")", s.CreateFile(t.Context(), f))
}

func fileIDs(fs []chatr.File) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

func testFileCreateGet(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	want := chatr.File{ID: "f1", ChatID: "c", UserID: "u1", Name: "naïve résumé.pdf", Size: 12345,
		Type: "application/pdf", Key: "f/ab/f1", ThumbKey: "t/ab/f1", Width: 640, Height: 480,
		Created: at(1500 * time.Millisecond)}
	mustFile(t, s, want)
	got, err := s.GetFile(t.Context(), "f1")
	ok(t, "GetFile", err)
	same(t, "GetFile", got, want)
}

func testFileCreatedDefault(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	mustFile(t, s, file("f1", "c", "u1", 1, time.Time{}))
	got, err := s.GetFile(t.Context(), "f1")
	ok(t, "GetFile", err)
	recent(t, "Created", got.Created)
}

func testFileConflict(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	mustFile(t, s, file("f1", "c", "u1", 1, at(0)))
	other := file("f1", "c", "u2", 99, at(time.Second))
	code(t, "CreateFile(existing id)", s.CreateFile(t.Context(), other), chatr.ECONFLICT)
	got, err := s.GetFile(t.Context(), "f1")
	ok(t, "GetFile", err)
	same(t, "GetFile after a conflict", got, file("f1", "c", "u1", 1, at(0)))
}

func testFileInvalid(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	for name, change := range map[string]func(*chatr.File){
		"empty id":      func(f *chatr.File) { f.ID = "" },
		"empty chat":    func(f *chatr.File) { f.ChatID = "" },
		"empty user":    func(f *chatr.File) { f.UserID = "" },
		"empty name":    func(f *chatr.File) { f.Name = "" },
		"empty key":     func(f *chatr.File) { f.Key = "" },
		"negative size": func(f *chatr.File) { f.Size = -1 },
		"NUL in name":   func(f *chatr.File) { f.Name = "a\x00b" },
		"invalid UTF-8": func(f *chatr.File) { f.Name = "\xff" },
		"NUL in type":   func(f *chatr.File) { f.Type = "text/\x00" },
		"NUL in thumb":  func(f *chatr.File) { f.ThumbKey = "t\x00" },
	} {
		f := file("f1", "c", "u1", 1, at(0))
		change(&f)
		code(t, "CreateFile with "+name, s.CreateFile(t.Context(), f), chatr.EINVALID)
	}
	_, err := s.GetFile(t.Context(), "f1")
	code(t, "GetFile after invalid creates", err, chatr.ENOTFOUND)
}

func testFileMissingChat(t *testing.T, s FileStore) {
	code(t, "CreateFile in a missing chat", s.CreateFile(t.Context(), file("f1", "nochat", "u1", 1, at(0))), chatr.ENOTFOUND)
	_, err := s.GetFile(t.Context(), "f1")
	code(t, "GetFile", err, chatr.ENOTFOUND)
	_, err = s.GetFile(t.Context(), "never")
	code(t, "GetFile(never)", err, chatr.ENOTFOUND)
}

func testListChatFiles(t *testing.T, s FileStore) {
	mustChat(t, s, group("a", at(0)))
	mustChat(t, s, group("b", at(0)))
	fs, err := s.ListChatFiles(t.Context(), "a")
	ok(t, "ListChatFiles(empty)", err)
	same(t, "ListChatFiles(empty)", len(fs), 0)
	mustFile(t, s, file("f3", "a", "u1", 1, at(2*time.Second)))
	mustFile(t, s, file("f2", "a", "u1", 1, at(time.Second)))
	mustFile(t, s, file("f1", "a", "u2", 1, at(time.Second)))
	mustFile(t, s, file("f0", "b", "u1", 1, at(0)))
	fs, err = s.ListChatFiles(t.Context(), "a")
	ok(t, "ListChatFiles", err)
	same(t, "ListChatFiles order", fileIDs(fs), []string{"f1", "f2", "f3"})
	same(t, "ListChatFiles(a)[1]", fs[1], file("f2", "a", "u1", 1, at(time.Second)))
	fs, err = s.ListChatFiles(t.Context(), "nochat")
	ok(t, "ListChatFiles(missing chat)", err)
	same(t, "ListChatFiles(missing chat)", len(fs), 0)
}

func testFileDelete(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	mustFile(t, s, file("f1", "c", "u1", 1, at(0)))
	mustFile(t, s, file("f2", "c", "u1", 1, at(0)))
	ok(t, "DeleteFile", s.DeleteFile(t.Context(), "f1"))
	_, err := s.GetFile(t.Context(), "f1")
	code(t, "GetFile after delete", err, chatr.ENOTFOUND)
	ok(t, "DeleteFile(missing)", s.DeleteFile(t.Context(), "f1"))
	fs, err := s.ListChatFiles(t.Context(), "c")
	ok(t, "ListChatFiles", err)
	same(t, "ListChatFiles after delete", fileIDs(fs), []string{"f2"})
}

func testUserFileBytes(t *testing.T, s FileStore) {
	mustChat(t, s, group("a", at(0)))
	mustChat(t, s, group("b", at(0)))
	n, err := s.UserFileBytes(t.Context(), "u1")
	ok(t, "UserFileBytes(none)", err)
	same(t, "UserFileBytes(none)", n, int64(0))
	mustFile(t, s, file("f1", "a", "u1", 1000, at(0)))
	mustFile(t, s, file("f2", "b", "u1", 3<<30, at(0))) // sums past 32 bits
	mustFile(t, s, file("f3", "a", "u2", 7, at(0)))
	n, err = s.UserFileBytes(t.Context(), "u1")
	ok(t, "UserFileBytes", err)
	same(t, "UserFileBytes(u1)", n, int64(1000+3<<30))
	ok(t, "DeleteFile", s.DeleteFile(t.Context(), "f2"))
	n, _ = s.UserFileBytes(t.Context(), "u1")
	same(t, "UserFileBytes(u1) after delete", n, int64(1000))
}

func testBlobReferenced(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	f := file("f1", "c", "u1", 1, at(0))
	f.ThumbKey = "t/f1"
	mustFile(t, s, f)
	for key, want := range map[string]bool{"f/f1": true, "t/f1": true, "f/other": false, "": false} {
		got, err := s.BlobReferenced(t.Context(), key)
		ok(t, "BlobReferenced", err)
		same(t, "BlobReferenced("+key+")", got, want)
	}
	ok(t, "DeleteFile", s.DeleteFile(t.Context(), "f1"))
	for _, key := range []string{"f/f1", "t/f1"} {
		got, err := s.BlobReferenced(t.Context(), key)
		ok(t, "BlobReferenced", err)
		same(t, "BlobReferenced("+key+") after delete", got, false)
	}
}

func testFilesGoWithChat(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	mustChat(t, s, group("other", at(0)))
	mustFile(t, s, file("f1", "c", "u1", 10, at(0)))
	mustFile(t, s, file("f2", "other", "u1", 5, at(0)))
	ok(t, "DeleteChat", s.DeleteChat(t.Context(), "c"))
	_, err := s.GetFile(t.Context(), "f1")
	code(t, "GetFile after DeleteChat", err, chatr.ENOTFOUND)
	ref, err := s.BlobReferenced(t.Context(), "f/f1")
	ok(t, "BlobReferenced", err)
	same(t, "BlobReferenced after DeleteChat", ref, false)
	n, _ := s.UserFileBytes(t.Context(), "u1")
	same(t, "UserFileBytes after DeleteChat", n, int64(5))

	mustChat(t, s, group("c", at(time.Hour)))
	fs, err := s.ListChatFiles(t.Context(), "c")
	ok(t, "ListChatFiles", err)
	same(t, "files of the chat created again", len(fs), 0)
	// Its ID is free again too.
	mustFile(t, s, file("f1", "c", "u3", 1, at(time.Hour)))
	fs, _ = s.ListChatFiles(t.Context(), "other")
	if !slices.Equal(fileIDs(fs), []string{"f2"}) {
		t.Errorf("files of another chat = %v, want [f2]", fileIDs(fs))
	}
}

func testAttachFiles(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	m1 := mustMessage(t, s, msg("c", "u1", "two files"))
	m2 := mustMessage(t, s, msg("c", "u1", "one file"))
	m3 := mustMessage(t, s, msg("c", "u1", "none"))
	for _, id := range []string{"f1", "f2", "f3"} {
		mustFile(t, s, file(id, "c", "u1", 1, at(0)))
	}
	// The order of the message, not of the uploads.
	ok(t, "AttachFiles(m1)", s.AttachFiles(t.Context(), "c", "u1", m1.ID, []string{"f3", "f1"}))
	ok(t, "AttachFiles(m2)", s.AttachFiles(t.Context(), "c", "u1", m2.ID, []string{"f2"}))
	ok(t, "AttachFiles(m1) again", s.AttachFiles(t.Context(), "c", "u1", m1.ID, []string{"f3", "f1"}))
	got, err := s.MessageFiles(t.Context(), "c", []int64{m1.ID, m2.ID, m3.ID, 999})
	ok(t, "MessageFiles", err)
	same(t, "MessageFiles(m1)", fileIDs(got[m1.ID]), []string{"f3", "f1"})
	same(t, "MessageFiles(m2)", fileIDs(got[m2.ID]), []string{"f2"})
	if _, ok := got[m3.ID]; ok || len(got) != 2 {
		t.Errorf("MessageFiles = %v, want only messages %d and %d", got, m1.ID, m2.ID)
	}
	want := file("f2", "c", "u1", 1, at(0))
	want.MessageID = m2.ID
	same(t, "MessageFiles(m2)[0]", got[m2.ID][0], want)
	f, err := s.GetFile(t.Context(), "f1")
	ok(t, "GetFile", err)
	same(t, "GetFile(f1).MessageID", f.MessageID, m1.ID)
	got, err = s.MessageFiles(t.Context(), "other", []int64{m1.ID})
	ok(t, "MessageFiles(other chat)", err)
	same(t, "MessageFiles(other chat)", len(got), 0)
	got, err = s.MessageFiles(t.Context(), "c", nil)
	ok(t, "MessageFiles(no ids)", err)
	same(t, "MessageFiles(no ids)", len(got), 0)
}

func testAttachFilesRefused(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	mustChat(t, s, group("d", at(0)))
	m1 := mustMessage(t, s, msg("c", "u1", "first"))
	m2 := mustMessage(t, s, msg("c", "u1", "second"))
	mustFile(t, s, file("mine", "c", "u1", 1, at(0)))
	mustFile(t, s, file("used", "c", "u1", 1, at(0)))
	mustFile(t, s, file("theirs", "c", "u2", 1, at(0)))
	mustFile(t, s, file("elsewhere", "d", "u1", 1, at(0)))
	ok(t, "AttachFiles(used)", s.AttachFiles(t.Context(), "c", "u1", m1.ID, []string{"used"}))
	many := make([]string, chatr.MaxMessageFiles+1)
	for i := range many {
		many[i] = "mine"
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
		code(t, "AttachFiles("+tc.name+")", s.AttachFiles(t.Context(), "c", "u1", m2.ID, tc.ids), tc.want)
	}
	// Nothing changed: "mine" is free, and goes with a message of its own.
	f, err := s.GetFile(t.Context(), "mine")
	ok(t, "GetFile(mine)", err)
	same(t, "GetFile(mine).MessageID after refusals", f.MessageID, int64(0))
	got, err := s.MessageFiles(t.Context(), "c", []int64{m2.ID})
	ok(t, "MessageFiles", err)
	same(t, "MessageFiles(m2) after refusals", len(got), 0)
	ok(t, "AttachFiles(mine)", s.AttachFiles(t.Context(), "c", "u1", m2.ID, []string{"mine"}))
}

func testFilesGoWithMessage(t *testing.T, s FileStore) {
	mustChat(t, s, group("c", at(0)))
	m1 := mustMessage(t, s, msg("c", "u1", "with a file"))
	m2 := mustMessage(t, s, msg("c", "u1", "with another"))
	f := file("f1", "c", "u1", 10, at(0))
	f.ThumbKey = "t/f1"
	mustFile(t, s, f)
	mustFile(t, s, file("f2", "c", "u1", 5, at(0)))
	ok(t, "AttachFiles(m1)", s.AttachFiles(t.Context(), "c", "u1", m1.ID, []string{"f1"}))
	ok(t, "AttachFiles(m2)", s.AttachFiles(t.Context(), "c", "u1", m2.ID, []string{"f2"}))
	_, err := s.DeleteMessage(t.Context(), "c", m1.ID, time.Time{})
	ok(t, "DeleteMessage", err)
	_, err = s.GetFile(t.Context(), "f1")
	code(t, "GetFile after DeleteMessage", err, chatr.ENOTFOUND)
	for key, want := range map[string]bool{"f/f1": false, "t/f1": false, "f/f2": true} {
		ref, err := s.BlobReferenced(t.Context(), key)
		ok(t, "BlobReferenced", err)
		same(t, "BlobReferenced("+key+") after DeleteMessage", ref, want)
	}
	n, _ := s.UserFileBytes(t.Context(), "u1")
	same(t, "UserFileBytes after DeleteMessage", n, int64(5))
	got, err := s.MessageFiles(t.Context(), "c", []int64{m1.ID, m2.ID})
	ok(t, "MessageFiles", err)
	same(t, "MessageFiles after DeleteMessage", fileIDs(got[m2.ID]), []string{"f2"})
	same(t, "MessageFiles after DeleteMessage", len(got), 1)
}
