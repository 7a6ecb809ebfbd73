package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatr/chatr"
)

var _ chatr.FileStore = (*DB)(nil)

// checkFile applies FileStore's input rules, shared by every store.
func checkFile(f chatr.File) error {
	if f.ID == "" || f.ChatID == "" || f.UserID == "" || f.Name == "" || f.Key == "" || f.Size < 0 {
		return chatr.Errorf(chatr.EINVALID, "file id, chat, user, name and key are required, size must not be negative")
	}
	return chatr.CheckText(f.ID, f.ChatID, f.UserID, f.Name, f.Type, f.Key, f.ThumbKey)
}

// CreateFile inserts the row only if the chat exists; when nothing was
// inserted, a second look tells a taken ID from a missing chat.
func (db *DB) CreateFile(ctx context.Context, f chatr.File) error {
	if err := checkFile(f); err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO files (id, chat_id, user_id, name, size, type, blob_key, thumb_key, width, height, created)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chats WHERE id = ?)
		ON CONFLICT (id) DO NOTHING`,
		f.ID, f.ChatID, f.UserID, f.Name, f.Size, f.Type, f.Key, f.ThumbKey, f.Width, f.Height, stamp(orNow(f.Created)), f.ChatID)
	if err != nil {
		return fmt.Errorf("sqlite: create file: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create file: %w", err)
	} else if n == 1 {
		return nil
	}
	var exists bool
	if err := db.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE id = ?)`, f.ID).Scan(&exists); err != nil {
		return fmt.Errorf("sqlite: create file: %w", err)
	}
	if exists {
		return chatr.Errorf(chatr.ECONFLICT, "file %q exists", f.ID)
	}
	return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
}

const fileColumns = `id, chat_id, user_id, name, size, type, blob_key, thumb_key, width, height, created, message_id`

func scanFile(row interface{ Scan(...any) error }) (chatr.File, error) {
	var (
		f       chatr.File
		created int64
	)
	err := row.Scan(&f.ID, &f.ChatID, &f.UserID, &f.Name, &f.Size, &f.Type, &f.Key, &f.ThumbKey, &f.Width, &f.Height, &created, &f.MessageID)
	f.Created = unstamp(created)
	return f, err
}

// GetFile returns the file, or ENOTFOUND.
func (db *DB) GetFile(ctx context.Context, id string) (chatr.File, error) {
	f, err := scanFile(db.queryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.File{}, chatr.Errorf(chatr.ENOTFOUND, "no such file")
	} else if err != nil {
		return chatr.File{}, fmt.Errorf("sqlite: get file: %w", err)
	}
	return f, nil
}

// ListChatFiles returns the chat's files by creation time, then ID.
func (db *DB) ListChatFiles(ctx context.Context, chatID string) ([]chatr.File, error) {
	rows, err := db.query(ctx, `SELECT `+fileColumns+` FROM files WHERE chat_id = ? ORDER BY created, id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list files: %w", err)
	}
	defer rows.Close()
	out := []chatr.File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list files: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list files: %w", err)
	}
	return out, nil
}

// DeleteFile removes the row.
func (db *DB) DeleteFile(ctx context.Context, id string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM files WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlite: delete file: %w", err)
	}
	return nil
}

// UserFileBytes sums the sizes of the user's files.
func (db *DB) UserFileBytes(ctx context.Context, userID string) (int64, error) {
	var n int64
	if err := db.queryRow(ctx, `SELECT COALESCE(SUM(size), 0) FROM files WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: file bytes: %w", err)
	}
	return n, nil
}

// AttachFiles checks and links every file in one transaction.
func (db *DB) AttachFiles(ctx context.Context, chatID, userID string, messageID int64, fileIDs []string) error {
	if err := chatr.CheckAttachFiles(fileIDs); err != nil {
		return err
	}
	return db.update(ctx, "attach files", func(ctx context.Context, tx *sql.Tx) error {
		for i, id := range fileIDs {
			f, err := scanFile(tx.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files WHERE id = ?`, id))
			if errors.Is(err, sql.ErrNoRows) {
				return chatr.Errorf(chatr.ENOTFOUND, "no file %q in this chat", id)
			} else if err != nil {
				return err
			}
			if err := chatr.CheckAttachable(f, chatID, userID, messageID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE files SET message_id = ?, position = ? WHERE id = ?`, messageID, i, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// MessageFiles reads the files of the messages in one query.
func (db *DB) MessageFiles(ctx context.Context, chatID string, messageIDs []int64) (map[int64][]chatr.File, error) {
	out := map[int64][]chatr.File{}
	if len(messageIDs) == 0 {
		return out, nil
	}
	ids, err := json.Marshal(messageIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: message files: %w", err)
	}
	rows, err := db.query(ctx, `SELECT `+fileColumns+` FROM files
		WHERE chat_id = ? AND message_id IN (SELECT value FROM json_each(?)) AND message_id <> 0
		ORDER BY message_id, position`, chatID, string(ids))
	if err != nil {
		return nil, fmt.Errorf("sqlite: message files: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: message files: %w", err)
		}
		out[f.MessageID] = append(out[f.MessageID], f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: message files: %w", err)
	}
	return out, nil
}

// BlobReferenced looks the key up as a file's blob and as a thumbnail.
func (db *DB) BlobReferenced(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, nil
	}
	var ref bool
	err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE blob_key = ?) OR EXISTS (SELECT 1 FROM files WHERE thumb_key = ?)`, key, key).Scan(&ref)
	if err != nil {
		return false, fmt.Errorf("sqlite: blob referenced: %w", err)
	}
	return ref, nil
}

// DeleteUnsentFiles deletes and returns the rows in one statement on the
// single writer, so no AttachFiles comes between.
func (db *DB) DeleteUnsentFiles(ctx context.Context, before time.Time, limit int) ([]chatr.File, error) {
	if limit <= 0 {
		return nil, chatr.Errorf(chatr.EINVALID, "limit must be positive")
	}
	rows, err := db.write.QueryContext(ctx, `DELETE FROM files WHERE id IN (
			SELECT id FROM files WHERE message_id = 0 AND created < ? ORDER BY created, id LIMIT ?)
		RETURNING `+fileColumns, stamp(before), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete unsent files: %w", err)
	}
	defer rows.Close()
	out := []chatr.File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: delete unsent files: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: delete unsent files: %w", err)
	}
	slices.SortFunc(out, func(a, b chatr.File) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
