package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/chatr/chatr"
)

const migrateUsage = `migrate --from DB --to DB [--from-files FILES --to-files FILES]

Copies every row of every kind (users, sessions, chats, members, messages,
read markers, invites, moderation log, uploaded files' metadata) from one
store to another: SQLite files, postgres:// URLs and Azure Table Storage
connection strings (aztables:...), in any direction. Message ids are kept.
Rows are written with upserts, so running it again (after an interruption,
or to catch up before switching over) gives the same result and doubles
nothing. Stop the servers writing to the source before the final run.

The bytes of uploaded files live beside the store: with --from-files and
--to-files (each a folder, as chatr --files-dir, or an S3 URL, as chatr
--files-s3), every file's bytes and thumbnail are copied too, after the
rows; those the destination holds already at the same size are skipped,
so a resumed run copies only what is missing. Without them only the rows
move, and the files' bytes must be copied by other means.
`

func runMigrate(ctx context.Context, args []string, out io.Writer) error {
	fs := commandFlags("migrate", migrateUsage, out)
	from := fs.String("from", "", "the store to copy from")
	to := fs.String("to", "", "the store to copy to (created if it is a new SQLite file)")
	batch := fs.Int("batch", 500, "rows per write transaction")
	fromFiles := fs.String("from-files", "", "where the source keeps the bytes of uploaded files: a folder, or an S3 URL https://[ACCESS:SECRET@]host[:port]/bucket[/prefix]")
	toFiles := fs.String("to-files", "", "where the destination keeps them (a folder, created if missing, or an S3 URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*fromFiles == "") != (*toFiles == "") {
		return errors.New("--from-files and --to-files go together")
	}
	if *fromFiles != "" && *fromFiles == *toFiles {
		return errors.New("--from-files and --to-files name the same place")
	}
	if *fromFiles != "" && !isURL(*fromFiles) {
		if fi, err := os.Stat(*fromFiles); err != nil || !fi.IsDir() {
			return fmt.Errorf("--from-files: %s is not a folder", *fromFiles)
		}
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("migrate needs --from and --to")
	}
	if *from == *to {
		return errors.New("--from and --to name the same store")
	}
	if *batch < 1 || *batch > 10000 {
		return errors.New("--batch must be between 1 and 10000")
	}
	src, err := openStore(ctx, *from)
	if err != nil {
		return fmt.Errorf("open --from: %w", err)
	}
	defer src.Close()
	dst, err := openStore(ctx, *to)
	if err != nil {
		return fmt.Errorf("open --to: %w", err)
	}
	defer dst.Close()
	var p progress = &progressLines{w: out}
	if f, ok := out.(*os.File); ok && isTerminal(f) {
		p = &progressBar{w: out}
	}
	if err := migrate(ctx, src, dst, *batch, p); err != nil {
		return err
	}
	if *fromFiles == "" {
		if n := countRows(ctx, src, chatr.KindFiles); n > 0 {
			fmt.Fprintf(out, "%d files' bytes not copied: give --from-files and --to-files\n", n)
		}
		return nil
	}
	srcBlobs, err := openBlobs(ctx, *fromFiles)
	if err != nil {
		return fmt.Errorf("open --from-files: %w", err)
	}
	dstBlobs, err := openBlobs(ctx, *toFiles)
	if err != nil {
		return fmt.Errorf("open --to-files: %w", err)
	}
	return copyBlobs(ctx, src, srcBlobs, dstBlobs, p)
}

// progress shows how far a copy has come.
type progress interface {
	update(kind string, done, total int)
	finish(kind string, done int)
}

// migrate copies every kind from src to dst in batches, kinds in write
// order. A kind the source does not know (a store from before a capability
// existed) is skipped.
func migrate(ctx context.Context, src, dst chatr.Store, batch int, p progress) error {
	from, err := asDumper(src)
	if err != nil {
		return err
	}
	to, err := asDumper(dst)
	if err != nil {
		return err
	}
	for _, kind := range chatr.DumpKinds {
		total := 0
		err := from.Dump(ctx, kind, func(chatr.Row) error { total++; return nil })
		if chatr.ErrorCode(err) == chatr.EINVALID {
			continue
		} else if err != nil {
			return err
		}
		done := 0
		rows := make([]chatr.Row, 0, batch)
		flush := func() error {
			if len(rows) == 0 {
				return nil
			}
			if err := to.Load(ctx, rows); err != nil {
				return fmt.Errorf("write %s: %w", kind, err)
			}
			done += len(rows)
			rows = rows[:0]
			p.update(kind, done, max(total, done))
			return nil
		}
		err = from.Dump(ctx, kind, func(r chatr.Row) error {
			rows = append(rows, r)
			if len(rows) == batch {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return fmt.Errorf("migrate %s: %w", kind, err)
		}
		p.finish(kind, done)
	}
	return nil
}

// progressLines writes a line per batch: for logs and pipes.
type progressLines struct{ w io.Writer }

func (p *progressLines) update(kind string, done, total int) {
	fmt.Fprintf(p.w, "%s: %d/%d\n", kind, done, total)
}

func (p *progressLines) finish(kind string, done int) {
	fmt.Fprintf(p.w, "%s: done, %d rows\n", kind, done)
}

// progressBar redraws one line per kind on a terminal.
type progressBar struct{ w io.Writer }

const barWidth = 30

func (p *progressBar) update(kind string, done, total int) {
	filled := barWidth
	if total > 0 {
		filled = barWidth * done / total
	}
	fmt.Fprintf(p.w, "\r%-13s [%s%s] %d/%d", kind, strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled), done, total)
}

func (p *progressBar) finish(kind string, done int) {
	p.update(kind, done, done)
	fmt.Fprintln(p.w)
}
