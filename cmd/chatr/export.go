package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/chatr/chatr/httpapi"
)

const exportUsage = `export [--db DB] (--user ID | --chat ID) [--out FILE]

Writes, as JSON, a user's own data (profile, the chats they are a member
of, the messages they sent there) or one chat's history (the chat, its
members and every message). Signed-in users get the same as --user from
"Download my data" (GET /api/export).
`

func runExport(ctx context.Context, args []string, out io.Writer) error {
	fs := commandFlags("export", exportUsage, out)
	db := fs.String("db", "chatr.db", "the database")
	user := fs.String("user", "", "the user id whose data to export")
	chat := fs.String("chat", "", "the chat id whose history to export")
	file := fs.String("out", "", "the file to write (default: standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*user == "") == (*chat == "") || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("export needs one of --user and --chat")
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	var x any
	if *user != "" {
		x, err = httpapi.ExportUser(ctx, st, *user)
	} else {
		x, err = httpapi.ExportChat(ctx, st, *chat)
	}
	if err != nil {
		return err
	}
	w := out
	if *file != "" {
		f, err := os.OpenFile(*file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(x)
}
