package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
)

// UserExport is a user's own data: "Download my data" and chatr export
// --user. Messages are those the user sent in the chats they are a member
// of, oldest first within each chat, each with its attachments' metadata
// (files; their bytes are at each url).
type UserExport struct {
	Exported time.Time       `json:"exported"`
	User     chatr.User      `json:"user"`
	Chats    []chatr.Chat    `json:"chats"`
	Messages []chatr.Message `json:"messages"`
}

// ChatExport is one chat's history (chatr export --chat), messages with
// their attachments' metadata.
type ChatExport struct {
	Exported time.Time       `json:"exported"`
	Chat     chatr.Chat      `json:"chat"`
	Members  []chatr.Member  `json:"members"`
	Messages []chatr.Message `json:"messages"`
}

// exportPage is how many messages one store call reads.
const exportPage = 200

// ExportUser gathers the user's data. ENOTFOUND for an unknown user.
func ExportUser(ctx context.Context, st chatr.Store, userID string) (UserExport, error) {
	u, err := st.GetUser(ctx, userID)
	if err != nil {
		return UserExport{}, err
	}
	chats, err := st.ListUserChats(ctx, userID)
	if err != nil {
		return UserExport{}, err
	}
	x := UserExport{Exported: time.Now().UTC(), User: u, Chats: chats, Messages: []chatr.Message{}}
	for _, c := range chats {
		err := eachMessage(ctx, st, c.ID, func(m chatr.Message) {
			if m.FromUserID == userID {
				x.Messages = append(x.Messages, m)
			}
		})
		if err != nil {
			return UserExport{}, err
		}
	}
	return x, nil
}

// ExportChat gathers a chat's history. ENOTFOUND for a missing chat.
func ExportChat(ctx context.Context, st chatr.Store, chatID string) (ChatExport, error) {
	c, err := st.GetChat(ctx, chatID)
	if err != nil {
		return ChatExport{}, err
	}
	members, err := st.ListMembers(ctx, chatID)
	if err != nil {
		return ChatExport{}, err
	}
	x := ChatExport{Exported: time.Now().UTC(), Chat: c, Members: members, Messages: []chatr.Message{}}
	err = eachMessage(ctx, st, chatID, func(m chatr.Message) { x.Messages = append(x.Messages, m) })
	return x, err
}

// eachMessage calls fn with every message of the chat, oldest first. It
// pages from the newest down (a query without bounds answers the newest
// page), then hands the pages out in order, with their files when st keeps
// files.
func eachMessage(ctx context.Context, st chatr.Store, chatID string, fn func(chatr.Message)) error {
	var (
		pages  [][]chatr.Message
		before int64
	)
	for {
		page, err := st.ListMessages(ctx, chatID, chatr.MessageQuery{Before: before, Limit: exportPage})
		if err != nil {
			return err
		}
		if fs, ok := st.(chatr.FileStore); ok {
			if err := chatr.AddAttachments(ctx, fs, chatID, page); err != nil {
				return err
			}
		}
		if len(page) > 0 {
			pages = append(pages, page)
			before = page[0].ID
		}
		if len(page) < exportPage || before <= 1 {
			break
		}
	}
	for i := len(pages) - 1; i >= 0; i-- {
		for _, m := range pages[i] {
			fn(m)
		}
	}
	return nil
}

// NewExportHandler serves "Download my data": GET answers the signed-in
// user's UserExport as a JSON attachment; without a session, 401. It is
// mounted at GET /api/export.
func NewExportHandler(st chatr.Store, sessions *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "EINVALID", "message": "use GET"})
			return
		}
		u, _, err := sessions.Authenticate(w, r)
		if err != nil {
			status, ok := statusOf[chatr.ErrorCode(err)]
			if !ok || status == http.StatusInternalServerError {
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": chatr.EINTERNAL, "message": "internal error"})
				return
			}
			writeJSON(w, status, map[string]string{"error": chatr.ErrorCode(err), "message": chatr.ErrorMessage(err)})
			return
		}
		x, err := ExportUser(r.Context(), st, u.ID)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": chatr.EINTERNAL, "message": "internal error"})
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="chatr-my-data.json"`)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(x)
	})
}
