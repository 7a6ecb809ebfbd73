package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr"
)

var _ chatr.FileStore = (*DB)(nil)

// checkFile applies FileStore's input rules.
func checkFile(f chatr.File) error {
	if f.ID == "" || f.ChatID == "" || f.UserID == "" || f.Name == "" || f.Key == "" || f.Size < 0 {
		return chatr.Errorf(chatr.EINVALID, "file id, chat, user, name and key are required, size must not be negative")
	}
	return chatr.CheckText(f.ID, f.ChatID, f.UserID, f.Name, f.Type, f.Key, f.ThumbKey)
}

// CreateFile inserts the row only if the chat exists, in one statement;
// when nothing was inserted, a second look tells a taken ID from a missing
// chat.
func (db *DB) CreateFile(ctx context.Context, f chatr.File) error {
	if err := checkFile(f); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO files (id, chat_id, user_id, name, size, type, blob_key, thumb_key, width, height, created)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM chats WHERE id = $2)
		ON CONFLICT (id) DO NOTHING`,
		f.ID, f.ChatID, f.UserID, f.Name, f.Size, f.Type, f.Key, f.ThumbKey, f.Width, f.Height, normal(orNow(f.Created)))
	if err != nil {
		return fmt.Errorf("postgres: create file: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE id = $1)`, f.ID).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: create file: %w", err)
	}
	if exists {
		return chatr.Errorf(chatr.ECONFLICT, "file %q exists", f.ID)
	}
	return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
}

const fileColumns = `id, chat_id, user_id, name, size, type, blob_key, thumb_key, width, height, created, message_id`

func scanFile(row pgx.Row) (chatr.File, error) {
	var f chatr.File
	err := row.Scan(&f.ID, &f.ChatID, &f.UserID, &f.Name, &f.Size, &f.Type, &f.Key, &f.ThumbKey, &f.Width, &f.Height, &f.Created, &f.MessageID)
	utc(&f.Created)
	return f, err
}

// GetFile returns the file, or ENOTFOUND.
func (db *DB) GetFile(ctx context.Context, id string) (chatr.File, error) {
	f, err := scanFile(db.pool.QueryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.File{}, chatr.Errorf(chatr.ENOTFOUND, "no such file")
	} else if err != nil {
		return chatr.File{}, fmt.Errorf("postgres: get file: %w", err)
	}
	return f, nil
}

// ListChatFiles returns the chat's files by creation time, then ID.
func (db *DB) ListChatFiles(ctx context.Context, chatID string) ([]chatr.File, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+fileColumns+` FROM files WHERE chat_id = $1 ORDER BY created, id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list files: %w", err)
	}
	defer rows.Close()
	out := []chatr.File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list files: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list files: %w", err)
	}
	return out, nil
}

// DeleteFile removes the row.
func (db *DB) DeleteFile(ctx context.Context, id string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM files WHERE id = $1`, id); err != nil {
		return fmt.Errorf("postgres: delete file: %w", err)
	}
	return nil
}

// UserFileBytes sums the sizes of the user's files.
func (db *DB) UserFileBytes(ctx context.Context, userID string) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT COALESCE(SUM(size), 0)::bigint FROM files WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: file bytes: %w", err)
	}
	return n, nil
}

// AttachFiles checks and links every file in one transaction, each row
// locked, so that two messages never take the same file.
func (db *DB) AttachFiles(ctx context.Context, chatID, userID string, messageID int64, fileIDs []string) error {
	if err := chatr.CheckAttachFiles(fileIDs); err != nil {
		return err
	}
	return db.update(ctx, "attach files", func(ctx context.Context, tx pgx.Tx) error {
		for i, id := range fileIDs {
			f, err := scanFile(tx.QueryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE id = $1 FOR UPDATE`, id))
			if errors.Is(err, pgx.ErrNoRows) {
				return chatr.Errorf(chatr.ENOTFOUND, "no file %q in this chat", id)
			} else if err != nil {
				return err
			}
			if err := chatr.CheckAttachable(f, chatID, userID, messageID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE files SET message_id = $1, position = $2 WHERE id = $3`, messageID, i, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// MessageFiles reads the files of the messages in one query.
func (db *DB) MessageFiles(ctx context.Context, chatID string, messageIDs []int64) (map[int64][]chatr.File, error) {
	out := map[int64][]chatr.File{}
	if len(messageIDs) == 0 || !chatr.StorableText(chatID) {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+fileColumns+` FROM files
		WHERE chat_id = $1 AND message_id = ANY($2) AND message_id <> 0
		ORDER BY message_id, position`, chatID, messageIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: message files: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: message files: %w", err)
		}
		out[f.MessageID] = append(out[f.MessageID], f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: message files: %w", err)
	}
	return out, nil
}

// BlobReferenced looks the key up as a file's blob and as a thumbnail.
func (db *DB) BlobReferenced(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, nil
	}
	var ref bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE blob_key = $1) OR EXISTS (SELECT 1 FROM files WHERE thumb_key = $1)`, key).Scan(&ref)
	if err != nil {
		return false, fmt.Errorf("postgres: blob referenced: %w", err)
	}
	return ref, nil
}

// DeleteUnsentFiles deletes and returns the rows in one statement; a row
// an AttachFiles holds is skipped, and one it changed is checked again.
func (db *DB) DeleteUnsentFiles(ctx context.Context, before time.Time, limit int) ([]chatr.File, error) {
	if limit <= 0 {
		return nil, chatr.Errorf(chatr.EINVALID, "limit must be positive")
	}
	// Materialized: an IN (... LIMIT) may be read again, past the limit.
	rows, err := db.pool.Query(ctx, `WITH unsent AS MATERIALIZED (
			SELECT id AS unsent_id FROM files WHERE message_id = 0 AND created < $1 ORDER BY created, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		DELETE FROM files USING unsent WHERE id = unsent_id AND message_id = 0
		RETURNING `+fileColumns, before, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: delete unsent files: %w", err)
	}
	defer rows.Close()
	out := []chatr.File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: delete unsent files: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: delete unsent files: %w", err)
	}
	slices.SortFunc(out, func(a, b chatr.File) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
