package metrics

import (
	"context"
	"time"

	"github.com/chatr/chatr"
)

// FileStore wraps fs so that every operation's latency is recorded under
// its name, as Store does for the rest of the store.
func (m *Metrics) FileStore(fs chatr.FileStore) chatr.FileStore {
	return &fileStore{s: fs, st: &store{m: m}}
}

type fileStore struct {
	s  chatr.FileStore
	st *store // for observe
}

func (f *fileStore) CreateFile(ctx context.Context, file chatr.File) (err error) {
	defer func(t time.Time) { f.st.observe("CreateFile", t, err) }(time.Now())
	return f.s.CreateFile(ctx, file)
}

func (f *fileStore) GetFile(ctx context.Context, id string) (file chatr.File, err error) {
	defer func(t time.Time) { f.st.observe("GetFile", t, err) }(time.Now())
	return f.s.GetFile(ctx, id)
}

func (f *fileStore) ListChatFiles(ctx context.Context, chatID string) (fs []chatr.File, err error) {
	defer func(t time.Time) { f.st.observe("ListChatFiles", t, err) }(time.Now())
	return f.s.ListChatFiles(ctx, chatID)
}

func (f *fileStore) DeleteFile(ctx context.Context, id string) (err error) {
	defer func(t time.Time) { f.st.observe("DeleteFile", t, err) }(time.Now())
	return f.s.DeleteFile(ctx, id)
}

func (f *fileStore) UserFileBytes(ctx context.Context, userID string) (n int64, err error) {
	defer func(t time.Time) { f.st.observe("UserFileBytes", t, err) }(time.Now())
	return f.s.UserFileBytes(ctx, userID)
}

func (f *fileStore) AttachFiles(ctx context.Context, chatID, userID string, messageID int64, fileIDs []string) (err error) {
	defer func(t time.Time) { f.st.observe("AttachFiles", t, err) }(time.Now())
	return f.s.AttachFiles(ctx, chatID, userID, messageID, fileIDs)
}

func (f *fileStore) MessageFiles(ctx context.Context, chatID string, messageIDs []int64) (m map[int64][]chatr.File, err error) {
	defer func(t time.Time) { f.st.observe("MessageFiles", t, err) }(time.Now())
	return f.s.MessageFiles(ctx, chatID, messageIDs)
}

func (f *fileStore) BlobReferenced(ctx context.Context, key string) (ok bool, err error) {
	defer func(t time.Time) { f.st.observe("BlobReferenced", t, err) }(time.Now())
	return f.s.BlobReferenced(ctx, key)
}

func (f *fileStore) DeleteUnsentFiles(ctx context.Context, before time.Time, limit int) (fs []chatr.File, err error) {
	defer func(t time.Time) { f.st.observe("DeleteUnsentFiles", t, err) }(time.Now())
	return f.s.DeleteUnsentFiles(ctx, before, limit)
}
