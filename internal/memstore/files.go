package memstore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chatr/chatr"
)

var _ chatr.FileStore = (*Store)(nil)

// fileTables holds each store's files beside it, under the store's mutex,
// so that the FileStore methods come without a change to the Store type.
var fileTables sync.Map // *Store -> map[string]storedFile

// storedFile remembers which chat a file was uploaded to: a chat deleted
// and created again under the same ID is another chat, and its files are
// gone with the first.
type storedFile struct {
	file        chatr.File
	chatCreated time.Time
	position    int // among its message's files
}

func (s *Store) files() map[string]storedFile {
	t, _ := fileTables.LoadOrStore(s, map[string]storedFile{})
	return t.(map[string]storedFile)
}

// live reports whether sf's chat still exists; the caller holds s.mu.
func (s *Store) live(sf storedFile) bool {
	c, ok := s.chats[sf.file.ChatID]
	return ok && c.Created.Equal(sf.chatCreated)
}

func (s *Store) CreateFile(_ context.Context, f chatr.File) error {
	if f.ID == "" || f.ChatID == "" || f.UserID == "" || f.Name == "" || f.Key == "" || f.Size < 0 {
		return chatr.Errorf(chatr.EINVALID, "file id, chat, user, name and key are required")
	}
	if err := badText(f.ID, f.ChatID, f.UserID, f.Name, f.Type, f.Key, f.ThumbKey); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	files := s.files()
	if old, ok := files[f.ID]; ok && s.live(old) {
		return chatr.Errorf(chatr.ECONFLICT, "file exists")
	}
	c, ok := s.chats[f.ChatID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	f.Created = now(f.Created)
	files[f.ID] = storedFile{file: f, chatCreated: c.Created}
	return nil
}

func (s *Store) GetFile(_ context.Context, id string) (chatr.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sf, ok := s.files()[id]
	if !ok || !s.live(sf) {
		return chatr.File{}, chatr.Errorf(chatr.ENOTFOUND, "no such file")
	}
	return sf.file, nil
}

func (s *Store) ListChatFiles(_ context.Context, chatID string) ([]chatr.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []chatr.File{}
	for _, sf := range s.files() {
		if sf.file.ChatID == chatID && s.live(sf) {
			out = append(out, sf.file)
		}
	}
	slices.SortFunc(out, func(a, b chatr.File) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *Store) DeleteFile(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files(), id)
	return nil
}

func (s *Store) UserFileBytes(_ context.Context, userID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	for _, sf := range s.files() {
		if sf.file.UserID == userID && s.live(sf) {
			total += sf.file.Size
		}
	}
	return total, nil
}

func (s *Store) BlobReferenced(_ context.Context, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sf := range s.files() {
		if (sf.file.Key == key || sf.file.ThumbKey == key) && s.live(sf) {
			return true, nil
		}
	}
	return false, nil
}

func (s *Store) AttachFiles(_ context.Context, chatID, userID string, messageID int64, fileIDs []string) error {
	if err := chatr.CheckAttachFiles(fileIDs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	files := s.files()
	for _, id := range fileIDs {
		sf, ok := files[id]
		if !ok || !s.live(sf) {
			return chatr.Errorf(chatr.ENOTFOUND, "no file %q in this chat", id)
		}
		if err := chatr.CheckAttachable(sf.file, chatID, userID, messageID); err != nil {
			return err
		}
	}
	for i, id := range fileIDs {
		sf := files[id]
		sf.file.MessageID, sf.position = messageID, i
		files[id] = sf
	}
	return nil
}

func (s *Store) MessageFiles(_ context.Context, chatID string, messageIDs []int64) (map[int64][]chatr.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []storedFile
	for _, sf := range s.files() {
		if sf.file.ChatID == chatID && sf.file.MessageID != 0 && slices.Contains(messageIDs, sf.file.MessageID) && s.live(sf) {
			found = append(found, sf)
		}
	}
	slices.SortFunc(found, func(a, b storedFile) int { return a.position - b.position })
	out := map[int64][]chatr.File{}
	for _, sf := range found {
		out[sf.file.MessageID] = append(out[sf.file.MessageID], sf.file)
	}
	return out, nil
}

// deleteMessageFiles removes the files of a deleted message; the caller
// holds s.mu.
func (s *Store) deleteMessageFiles(chatID string, messageID int64) {
	files := s.files()
	for id, sf := range files {
		if sf.file.ChatID == chatID && sf.file.MessageID == messageID {
			delete(files, id)
		}
	}
}

// DeleteUnsentFiles also drops the rows of deleted chats' files, which no
// method shows any more.
func (s *Store) DeleteUnsentFiles(_ context.Context, before time.Time, limit int) ([]chatr.File, error) {
	if limit <= 0 {
		return nil, chatr.Errorf(chatr.EINVALID, "limit must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	files := s.files()
	out := []chatr.File{}
	for id, sf := range files {
		if !s.live(sf) {
			delete(files, id)
		} else if sf.file.MessageID == 0 && sf.file.Created.Before(before) {
			out = append(out, sf.file)
		}
	}
	slices.SortFunc(out, func(a, b chatr.File) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out = out[:min(limit, len(out))]
	for _, f := range out {
		delete(files, f.ID)
	}
	return out, nil
}

// claimFiles checks that the files m names may go with it; the caller
// holds s.mu.
func (s *Store) claimFiles(m chatr.Message) ([]string, error) {
	ids, err := chatr.MessageFileIDs(m)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	found := map[string]chatr.File{}
	for _, id := range ids {
		if sf, ok := s.files()[id]; ok && s.live(sf) {
			found[id] = sf.file
		}
	}
	return ids, chatr.FileClaims{}.Claim(m, ids, found)
}

// linkFiles makes the files the attachments of the stored message m; the
// caller holds s.mu.
func (s *Store) linkFiles(m chatr.Message, ids []string) {
	files := s.files()
	for i, id := range ids {
		sf := files[id]
		sf.file.MessageID, sf.position = m.ID, i
		files[id] = sf
	}
}
