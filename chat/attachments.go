package chat

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"strings"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// attachments are a chat message's files: a client names uploaded files by
// id ("files": ["<id>", ...]); members receive each whole (chatr.Attachment).
type attachments []chatr.Attachment

// UnmarshalJSON reads the ids a client sends.
func (as *attachments) UnmarshalJSON(b []byte) error {
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return errors.New(`files are a list of file ids`)
	}
	*as = make(attachments, len(ids))
	for i, id := range ids {
		(*as)[i] = chatr.Attachment{ID: id}
	}
	return nil
}

func (as attachments) ids() []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// checkFiles answers whether the sender may attach the files to a message
// of the chat, before anything is stored, and returns them whole. A file
// may go with a message already only if that is this very send, retried
// (the same idempotency key): the retry is then answered as a duplicate.
func (a *App) checkFiles(ctx context.Context, chatID, userID, key string, in attachments) (attachments, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if a.files == nil {
		return nil, &hub.AckError{Name: "BadRequest", Message: "this server keeps no files"}
	}
	if err := chatr.CheckAttachFiles(in.ids()); err != nil {
		return nil, fileAckError(err)
	}
	out := make(attachments, len(in))
	for i, ref := range in {
		f, err := a.files.GetFile(ctx, ref.ID)
		if err != nil {
			return nil, fileAckError(err)
		}
		if err := chatr.CheckAttachable(f, chatID, userID, a.retriedSend(ctx, f, key)); err != nil {
			return nil, fileAckError(err)
		}
		out[i] = f.Attachment()
	}
	return out, nil
}

// retriedSend returns the message f goes with when that message was stored
// under key (so this send is its retry), and 0 otherwise.
func (a *App) retriedSend(ctx context.Context, f chatr.File, key string) int64 {
	if f.MessageID == 0 || key == "" {
		return 0
	}
	m, err := a.store.GetMessage(ctx, f.ChatID, f.MessageID)
	if err != nil || m.ClientID != key || m.FromUserID != f.UserID {
		return 0
	}
	return f.MessageID
}

// attachFiles makes the checked files go with the stored message, for a
// retried send (a fresh one is stored with them).
func (a *App) attachFiles(ctx context.Context, m chatr.Message, files attachments) error {
	if len(files) == 0 {
		return nil
	}
	return fileAckError(a.files.AttachFiles(ctx, m.ChatID, m.FromUserID, m.ID, files.ids()))
}

// fileAckError is ackError but for a file that goes with another message:
// that is a bad request, not the Duplicate that clients take for success.
func fileAckError(err error) error {
	if chatr.ErrorCode(err) == chatr.ECONFLICT {
		return &hub.AckError{Name: "BadRequest", Message: chatr.ErrorMessage(err)}
	}
	return ackError(err)
}

// withFileLinks is a message's text as clients that render text as HTML
// get it: the text escaped, then each file's name and link on a line of
// its own, as text.
func withFileLinks(text string, files attachments) string {
	var b strings.Builder
	b.WriteString(html.EscapeString(text))
	for _, f := range files {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(html.EscapeString(f.Name + " " + f.URL))
	}
	return b.String()
}
