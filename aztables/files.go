package aztables

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// filesPartition holds file rows in the chats table, under their own
// partition key (listings of chats filter on theirs), keyed by file ID.
// Each row remembers when its chat was created: DeleteChat leaves file rows
// behind, and a row whose chat is gone, or was created again, is treated
// as deleted. Lookups by chat, user or blob scan the partition, which suits
// the deployments Table Storage serves (the original's scale).
const filesPartition = "chatrfiles"

var _ chatr.FileStore = (*Store)(nil)

func fileEntity(f chatr.File, chat chatr.Chat) map[string]any {
	e := map[string]any{"PartitionKey": filesPartition, "RowKey": key(f.ID),
		"ChatID": f.ChatID, "UserID": f.UserID, "Name": f.Name, "Type": f.Type,
		"BlobKey": f.Key, "ThumbKey": f.ThumbKey, "Width": f.Width, "Height": f.Height}
	setInt64(e, "Size", f.Size)
	setTime(e, "Created", f.Created)
	setTime(e, "ChatCreated", chat.Created)
	return e
}

func fileOf(e entity) chatr.File {
	return chatr.File{ID: unkey(e.str("RowKey")), ChatID: e.str("ChatID"), UserID: e.str("UserID"), Name: e.str("Name"),
		Size: e.int64v("Size"), Type: e.str("Type"), Key: e.str("BlobKey"), ThumbKey: e.str("ThumbKey"),
		Width: int(e.int64v("Width")), Height: int(e.int64v("Height")), Created: e.time("Created"),
		MessageID: e.int64v("MessageID")}
}

// liveness answers whether file rows still belong to an existing chat,
// looking each chat up once.
type liveness struct {
	s     *Store
	chats map[string]*chatRow // nil: the chat does not exist
}

func (l *liveness) live(ctx context.Context, e entity) (bool, error) {
	id := e.str("ChatID")
	c, seen := l.chats[id]
	if !seen {
		var err error
		c, err = l.s.getChat(ctx, id)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			c, err = nil, nil
		}
		if err != nil {
			return false, err
		}
		l.chats[id] = c
	}
	return c != nil && c.chat.Created.Equal(e.time("ChatCreated")), nil
}

func (s *Store) liveness() *liveness { return &liveness{s: s, chats: map[string]*chatRow{}} }

// CreateFile adds the row; a row of the same ID left by a deleted chat is
// replaced.
func (s *Store) CreateFile(ctx context.Context, f chatr.File) error {
	if f.ID == "" || f.ChatID == "" || f.UserID == "" || f.Name == "" || f.Key == "" || f.Size < 0 {
		return chatr.Errorf(chatr.EINVALID, "file id, chat, user, name and key are required, size must not be negative")
	}
	if err := chatr.CheckText(f.ID, f.ChatID, f.UserID, f.Name, f.Type, f.Key, f.ThumbKey); err != nil {
		return err
	}
	for _, v := range []string{f.ID, f.ChatID, f.UserID, f.Name, f.Type, f.Key, f.ThumbKey} {
		if utf8.RuneCountInString(v) > textChunk {
			return chatr.Errorf(chatr.EINVALID, "file fields are limited to %d characters", textChunk)
		}
	}
	c, err := s.getChat(ctx, f.ChatID)
	if err != nil {
		return err
	}
	f.Created = when(orNow(f.Created))
	body := marshal(fileEntity(f, c.chat))
	_, err = s.chats.AddEntity(ctx, body, nil)
	if !conflict(err) {
		if err != nil {
			return fmt.Errorf("aztables: create file: %w", err)
		}
		return nil
	}
	old, etag, err := s.getFileEntity(ctx, f.ID)
	if err != nil {
		return err
	}
	if ok, err := s.liveness().live(ctx, old); err != nil {
		return err
	} else if ok {
		return chatr.Errorf(chatr.ECONFLICT, "file %q exists", f.ID)
	}
	_, err = s.chats.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
	if stale(err) {
		return chatr.Errorf(chatr.ECONFLICT, "file %q exists", f.ID)
	} else if err != nil {
		return fmt.Errorf("aztables: create file: %w", err)
	}
	return nil
}

func (s *Store) getFileEntity(ctx context.Context, id string) (entity, azcore.ETag, error) {
	if !textOK(id) || id == "" {
		return nil, "", chatr.Errorf(chatr.ENOTFOUND, "no such file")
	}
	r, err := s.chats.GetEntity(ctx, filesPartition, key(id), nil)
	if notFound(err) {
		return nil, "", chatr.Errorf(chatr.ENOTFOUND, "no such file")
	} else if err != nil {
		return nil, "", fmt.Errorf("aztables: get file: %w", err)
	}
	e, err := decode(r.Value)
	return e, r.ETag, err
}

func (s *Store) GetFile(ctx context.Context, id string) (chatr.File, error) {
	e, _, err := s.getFileEntity(ctx, id)
	if err != nil {
		return chatr.File{}, err
	}
	if ok, err := s.liveness().live(ctx, e); err != nil {
		return chatr.File{}, err
	} else if !ok {
		return chatr.File{}, chatr.Errorf(chatr.ENOTFOUND, "no such file")
	}
	return fileOf(e), nil
}

// liveFiles returns the live files among the partition's rows that match
// filter.
func (s *Store) liveFiles(ctx context.Context, filter string) ([]chatr.File, error) {
	es, err := list(ctx, s.chats, "PartitionKey eq "+quote(filesPartition)+" and ("+filter+")", "", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: list files: %w", err)
	}
	l := s.liveness()
	out := []chatr.File{}
	for _, e := range es {
		ok, err := l.live(ctx, e)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, fileOf(e))
		}
	}
	return out, nil
}

func (s *Store) ListChatFiles(ctx context.Context, chatID string) ([]chatr.File, error) {
	if !textOK(chatID) {
		return []chatr.File{}, nil
	}
	fs, err := s.liveFiles(ctx, "ChatID eq "+quote(chatID))
	if err != nil {
		return nil, err
	}
	sort.Slice(fs, func(i, j int) bool {
		if !fs[i].Created.Equal(fs[j].Created) {
			return fs[i].Created.Before(fs[j].Created)
		}
		return fs[i].ID < fs[j].ID
	})
	return fs, nil
}

func (s *Store) DeleteFile(ctx context.Context, id string) error {
	if !textOK(id) || id == "" {
		return nil
	}
	if _, err := s.chats.DeleteEntity(ctx, filesPartition, key(id), nil); err != nil && !notFound(err) {
		return fmt.Errorf("aztables: delete file: %w", err)
	}
	return nil
}

func (s *Store) UserFileBytes(ctx context.Context, userID string) (int64, error) {
	if !textOK(userID) {
		return 0, nil
	}
	fs, err := s.liveFiles(ctx, "UserID eq "+quote(userID))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range fs {
		n += f.Size
	}
	return n, nil
}

// AttachFiles sets MessageID and Position on every file row in one
// transaction (they share a partition), each update conditional on the
// row read: a file taken by another message meanwhile fails it, and the
// next round sees why.
func (s *Store) AttachFiles(ctx context.Context, chatID, userID string, messageID int64, fileIDs []string) error {
	if err := chatr.CheckAttachFiles(fileIDs); err != nil {
		return err
	}
	var last error
	for range maxRetries {
		l := s.liveness()
		actions := make([]aztables.TransactionAction, 0, len(fileIDs))
		for i, id := range fileIDs {
			e, etag, err := s.getFileEntity(ctx, id)
			if chatr.ErrorCode(err) == chatr.ENOTFOUND {
				return chatr.Errorf(chatr.ENOTFOUND, "no file %q in this chat", id)
			} else if err != nil {
				return err
			}
			if ok, err := l.live(ctx, e); err != nil {
				return err
			} else if !ok {
				return chatr.Errorf(chatr.ENOTFOUND, "no file %q in this chat", id)
			}
			if err := chatr.CheckAttachable(fileOf(e), chatID, userID, messageID); err != nil {
				return err
			}
			upd := map[string]any{"PartitionKey": filesPartition, "RowKey": key(id), "Position": i}
			setInt64(upd, "MessageID", messageID)
			actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateMerge, Entity: marshal(upd), IfMatch: &etag})
		}
		// A failed transaction does not say which update failed: the next
		// round reads the rows again, and refuses a file taken meanwhile.
		if _, last = s.chats.SubmitTransaction(ctx, actions, nil); last == nil {
			return nil
		}
	}
	return fmt.Errorf("aztables: attach files: %w", last)
}

// MessageFiles scans the chat's attached files within the messages' id
// range (Table Storage's filters allow too few comparisons for a list).
func (s *Store) MessageFiles(ctx context.Context, chatID string, messageIDs []int64) (map[int64][]chatr.File, error) {
	out := map[int64][]chatr.File{}
	if len(messageIDs) == 0 || !textOK(chatID) {
		return out, nil
	}
	lo, hi := slices.Min(messageIDs), slices.Max(messageIDs)
	filter := fmt.Sprintf("ChatID eq %s and MessageID ge %dL and MessageID le %dL and MessageID gt 0L", quote(chatID), lo, hi)
	es, err := list(ctx, s.chats, "PartitionKey eq "+quote(filesPartition)+" and "+filter, "", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: message files: %w", err)
	}
	l := s.liveness()
	position := map[string]int64{}
	for _, e := range es {
		f := fileOf(e)
		if !slices.Contains(messageIDs, f.MessageID) {
			continue
		}
		if ok, err := l.live(ctx, e); err != nil {
			return nil, err
		} else if ok {
			out[f.MessageID] = append(out[f.MessageID], f)
			position[f.ID] = e.int64v("Position")
		}
	}
	for _, fs := range out {
		sort.Slice(fs, func(i, j int) bool { return position[fs[i].ID] < position[fs[j].ID] })
	}
	return out, nil
}

// deleteMessageFiles removes the rows of a deleted message's files.
func (s *Store) deleteMessageFiles(ctx context.Context, chatID string, messageID int64) error {
	es, err := list(ctx, s.chats, fmt.Sprintf("PartitionKey eq %s and ChatID eq %s and MessageID eq %dL", quote(filesPartition), quote(chatID), messageID), "RowKey", 0)
	if err != nil {
		return fmt.Errorf("aztables: message files: %w", err)
	}
	for _, e := range es {
		if err := s.DeleteFile(ctx, unkey(e.str("RowKey"))); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) BlobReferenced(ctx context.Context, blobKey string) (bool, error) {
	if blobKey == "" || !textOK(blobKey) {
		return false, nil
	}
	fs, err := s.liveFiles(ctx, "BlobKey eq "+quote(blobKey)+" or ThumbKey eq "+quote(blobKey))
	return len(fs) > 0, err
}

// DeleteUnsentFiles reads each unsent row again and deletes it only if it
// is unchanged (an AttachFiles in between wins). Rows of deleted chats go
// too, unreturned: nothing shows them any more.
func (s *Store) DeleteUnsentFiles(ctx context.Context, before time.Time, limit int) ([]chatr.File, error) {
	if limit <= 0 {
		return nil, chatr.Errorf(chatr.EINVALID, "limit must be positive")
	}
	filter := fmt.Sprintf("PartitionKey eq %s and Created lt datetime'%s'", quote(filesPartition), when(before).Format("2006-01-02T15:04:05.000Z"))
	es, err := list(ctx, s.chats, filter, "", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: unsent files: %w", err)
	}
	l := s.liveness()
	var unsent []chatr.File
	for _, e := range es {
		if ok, err := l.live(ctx, e); err != nil {
			return nil, err
		} else if !ok {
			if err := s.DeleteFile(ctx, unkey(e.str("RowKey"))); err != nil {
				return nil, err
			}
		} else if f := fileOf(e); f.MessageID == 0 {
			unsent = append(unsent, f)
		}
	}
	sort.Slice(unsent, func(i, j int) bool {
		if !unsent[i].Created.Equal(unsent[j].Created) {
			return unsent[i].Created.Before(unsent[j].Created)
		}
		return unsent[i].ID < unsent[j].ID
	})
	out := []chatr.File{}
	for _, f := range unsent[:min(limit, len(unsent))] {
		e, etag, err := s.getFileEntity(ctx, f.ID)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		if fileOf(e).MessageID != 0 {
			continue
		}
		_, err = s.chats.DeleteEntity(ctx, filesPartition, key(f.ID), &aztables.DeleteEntityOptions{IfMatch: &etag})
		if stale(err) || notFound(err) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("aztables: delete unsent file: %w", err)
		}
		out = append(out, fileOf(e))
	}
	return out, nil
}

// checkMessageFiles checks, before AddMessage stores m, that the files it
// names may go with it, and returns their IDs.
func (s *Store) checkMessageFiles(ctx context.Context, m chatr.Message) ([]string, error) {
	ids, err := chatr.MessageFileIDs(m)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	found := map[string]chatr.File{}
	for _, id := range ids {
		f, err := s.GetFile(ctx, id)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		found[id] = f
	}
	err = chatr.FileClaims{}.Claim(m, ids, found)
	if chatr.ErrorCode(err) == chatr.ECONFLICT && m.ClientID != "" {
		// A retried send: the files went with its first try, which
		// AddMessage finds and returns.
		if first, kerr := s.byKey(ctx, key(m.ChatID), m.ChatID, m.FromUserID, m.ClientID); kerr == nil && first != nil {
			return nil, nil
		}
	}
	return ids, err
}

// dumpFiles returns the live file rows as FileRows, by ID.
func (s *Store) dumpFiles(ctx context.Context) ([]any, error) {
	es, err := list(ctx, s.chats, "PartitionKey eq "+quote(filesPartition), "", 0)
	if err != nil {
		return nil, err
	}
	l := s.liveness()
	var rows []chatr.FileRow
	for _, e := range es {
		if ok, err := l.live(ctx, e); err != nil {
			return nil, err
		} else if ok {
			rows = append(rows, chatr.FileRow{File: fileOf(e), Position: int(e.int64v("Position"))})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out, nil
}

// loadFile writes a file row as it was, for the chat as it is now.
func (s *Store) loadFile(ctx context.Context, v chatr.FileRow) error {
	c, err := s.getChat(ctx, v.ChatID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Errorf(chatr.EINVALID, "load: chat %s is missing", v.ChatID)
	} else if err != nil {
		return err
	}
	e := fileEntity(v.File, c.chat)
	setInt64(e, "MessageID", v.MessageID)
	e["Position"] = v.Position
	return upsert(ctx, s.chats, e)
}
