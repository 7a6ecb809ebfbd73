package chatr

import (
	"context"
	"time"
)

// File is an uploaded file: its metadata here, its bytes in Blobs under Key
// (and a server-made thumbnail under ThumbKey, for images).
type File struct {
	ID       string // random, unguessable; the public handle
	ChatID   string // the chat it was uploaded to: only its members see it
	UserID   string // who uploaded it
	Name     string // the name to download it under, already made safe
	Size     int64
	Type     string // the content type the server sniffed, never the client's
	Key      string // the blob with the bytes
	ThumbKey string // the thumbnail's blob, "" when there is none
	Width    int    // pixels, for images; 0 otherwise
	Height   int
	Created  time.Time
}

// FileStore keeps file metadata. It follows the general rules of Store
// (durable on nil, ENOTFOUND, ECONFLICT, EINVALID, UTF-8 text without NUL)
// and every implementation passes storetest.RunFiles.
type FileStore interface {
	// CreateFile stores f. ECONFLICT if the ID exists; ENOTFOUND if the chat
	// does not exist; EINVALID for an empty ID, ChatID, UserID, Name or Key,
	// or a negative Size. A zero Created means now.
	CreateFile(ctx context.Context, f File) error
	// GetFile returns the file, or ENOTFOUND.
	GetFile(ctx context.Context, id string) (File, error)
	// ListChatFiles returns the chat's files ordered by Created then ID.
	ListChatFiles(ctx context.Context, chatID string) ([]File, error)
	// DeleteFile removes the file's row (its blobs are the caller's, or
	// the sweep's, to remove); deleting a missing file is not an error.
	DeleteFile(ctx context.Context, id string) error
	// UserFileBytes returns the total Size of the user's files, for quotas.
	UserFileBytes(ctx context.Context, userID string) (int64, error)
	// BlobReferenced reports whether any file has key as its Key or
	// ThumbKey; the blob sweep deletes blobs for which it is false.
	BlobReferenced(ctx context.Context, key string) (bool, error)
}
