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
	// MessageID is the message that carries the file (0 until one does);
	// see FileStore.AttachFiles.
	MessageID int64
}

// MaxMessageFiles bounds the files one message carries.
const MaxMessageFiles = 10

// FileURL is where a file's bytes are served to members of its chat.
func FileURL(id string) string { return "/api/files/" + id }

// Attachment is a file as a message carries it to clients.
type Attachment struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Type     string `json:"type"`
	ThumbURL string `json:"thumbUrl,omitempty"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
}

// Attachment returns f as messages carry it.
func (f File) Attachment() Attachment {
	a := Attachment{ID: f.ID, URL: FileURL(f.ID), Name: f.Name, Size: f.Size, Type: f.Type, Width: f.Width, Height: f.Height}
	if f.ThumbKey != "" {
		a.ThumbURL = FileURL(f.ID) + "/thumb"
	}
	return a
}

// AddAttachments sets the Files of msgs, messages of one chat, from fs.
func AddAttachments(ctx context.Context, fs FileStore, chatID string, msgs []Message) error {
	ids := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		if !m.Deleted {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	byMsg, err := fs.MessageFiles(ctx, chatID, ids)
	if err != nil {
		return err
	}
	for i := range msgs {
		for _, f := range byMsg[msgs[i].ID] {
			msgs[i].Files = append(msgs[i].Files, f.Attachment())
		}
	}
	return nil
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
	// AttachFiles makes the files, in the order given, the attachments of
	// the chat's message messageID: from then on they go with the message
	// (MessageStore.DeleteMessage removes their rows, as DeleteChat does
	// for a chat's). Every file must be in the chat, uploaded by userID and
	// attached to no other message, or nothing changes: ENOTFOUND for a
	// missing file or one of another chat, EFORBIDDEN for another user's,
	// ECONFLICT for one attached to another message; EINVALID for more
	// than MaxMessageFiles or a repeated ID. Attaching the same files to the
	// same message again (a retried send) changes nothing and succeeds.
	AttachFiles(ctx context.Context, chatID, userID string, messageID int64, fileIDs []string) error
	// MessageFiles returns the files attached to the given messages of the
	// chat, by message ID, each message's in the order they were attached.
	// Messages without files are left out.
	MessageFiles(ctx context.Context, chatID string, messageIDs []int64) (map[int64][]File, error)
	// BlobReferenced reports whether any file has key as its Key or
	// ThumbKey; the blob sweep deletes blobs for which it is false.
	BlobReferenced(ctx context.Context, key string) (bool, error)
	// DeleteUnsentFiles removes the rows of up to limit files that no
	// message carries and that were created before before, oldest first,
	// and returns them (their blobs are the caller's to remove). Finding
	// and removing are one step: a file attached meanwhile stays, and an
	// AttachFiles after it finds no file. limit <= 0 is EINVALID.
	DeleteUnsentFiles(ctx context.Context, before time.Time, limit int) ([]File, error)
}

// CheckAttachFiles is the EINVALID a store returns for a bad list of files
// to attach: none, more than MaxMessageFiles, an empty or repeated ID.
func CheckAttachFiles(fileIDs []string) error {
	if len(fileIDs) == 0 || len(fileIDs) > MaxMessageFiles {
		return Errorf(EINVALID, "a message carries 1 to %d files", MaxMessageFiles)
	}
	for i, id := range fileIDs {
		if id == "" {
			return Errorf(EINVALID, "a file id is empty")
		}
		for _, prev := range fileIDs[:i] {
			if prev == id {
				return Errorf(EINVALID, "file %q is listed twice", id)
			}
		}
	}
	return CheckText(fileIDs...)
}

// CheckAttachable is the error AttachFiles returns for f, found by the ID
// it was given, when it cannot go with the chat's message messageID sent
// by userID; nil when it can (or already does).
func CheckAttachable(f File, chatID, userID string, messageID int64) error {
	switch {
	case f.ChatID != chatID:
		return Errorf(ENOTFOUND, "no file %q in this chat", f.ID)
	case f.UserID != userID:
		return Errorf(EFORBIDDEN, "file %q was uploaded by someone else", f.ID)
	case f.MessageID != 0 && f.MessageID != messageID:
		return Errorf(ECONFLICT, "file %q goes with another message", f.ID)
	}
	return nil
}

// MessageFileIDs returns the IDs of the files a message to store names in
// its Files (see Store.AddMessage), nil for none, checked as AttachFiles
// checks them.
func MessageFileIDs(m Message) ([]string, error) {
	if len(m.Files) == 0 {
		return nil, nil
	}
	ids := make([]string, len(m.Files))
	for i, a := range m.Files {
		ids[i] = a.ID
	}
	return ids, CheckAttachFiles(ids)
}

// FileClaims are the files the new messages of one AddMessage batch take,
// so that two messages never take the same file.
type FileClaims map[string]bool

// Claim checks that the files named by ids, found by the store as found (a
// missing one is absent), may go with the new message m and were taken by
// no earlier message of the batch, and takes them. It returns the error
// AddMessage answers for m otherwise, and then takes nothing.
func (c FileClaims) Claim(m Message, ids []string, found map[string]File) error {
	for _, id := range ids {
		f, ok := found[id]
		if !ok {
			return Errorf(ENOTFOUND, "no file %q in this chat", id)
		}
		if err := CheckAttachable(f, m.ChatID, m.FromUserID, 0); err != nil {
			return err
		}
		if c[id] {
			return Errorf(ECONFLICT, "file %q goes with another message", id)
		}
	}
	for _, id := range ids {
		c[id] = true
	}
	return nil
}
