package main

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/storetest"
)

// storeKinds make a fresh, empty store of each kind and return its --db.
var storeKinds = []struct {
	name string
	db   func(t *testing.T) string
}{
	{"sqlite", sqliteDB},
	{"postgres", postgresDB},
	{"aztables", azuriteDB},
}

func snapshot(t *testing.T, db string) map[string][]any {
	t.Helper()
	st := open(t, db)
	d, err := asDumper(st)
	if err != nil {
		t.Fatal(err)
	}
	snap := storetest.Snapshot(t, d)
	st.Close()
	return snap
}

func sameSnapshot(t *testing.T, got, want map[string][]any) {
	t.Helper()
	for _, kind := range chatr.DumpKinds {
		if !reflect.DeepEqual(got[kind], want[kind]) {
			t.Errorf("%s differ:\n got %+v\nwant %+v", kind, got[kind], want[kind])
		}
	}
}

// TestMigrateEveryDirection copies the conformance data between every pair
// of stores, twice: the second run changes nothing.
func TestMigrateEveryDirection(t *testing.T) {
	for _, from := range storeKinds {
		for _, to := range storeKinds {
			if from.name == to.name {
				continue
			}
			t.Run(from.name+"_to_"+to.name, func(t *testing.T) {
				src, dst := from.db(t), to.db(t)
				st := open(t, src)
				storetest.Fill(t, st)
				st.Close()
				want := snapshot(t, src)
				for run := range 2 {
					out, err := runCommand(t, "migrate", "--from", src, "--to", dst, "--batch", "3")
					if err != nil {
						t.Fatalf("run %d: %v\n%s", run, err, out)
					}
					if !strings.Contains(out, "messages: done, 7 rows") {
						t.Errorf("progress lines:\n%s", out)
					}
					sameSnapshot(t, snapshot(t, dst), want)
				}
			})
		}
	}
}

// TestMigrateResumes: a copy cut off after a few batches, run again,
// ends with the same data and nothing doubled.
func TestMigrateResumes(t *testing.T) {
	for _, to := range storeKinds[:2] {
		t.Run(to.name, func(t *testing.T) {
			src, dst := sqliteDB(t), to.db(t)
			st := open(t, src)
			storetest.Fill(t, st)
			want := storetest.Snapshot(t, st.(chatr.Dumper))

			ctx, cancel := context.WithCancel(context.Background())
			cut := &cutAfter{rows: 8, cancel: cancel}
			err := migrate(ctx, st, open(t, dst), 2, cut)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cut-off copy: %v, want context.Canceled", err)
			}
			partial := snapshot(t, dst)
			if reflect.DeepEqual(partial, want) {
				t.Fatal("the copy was not cut off")
			}
			if err := migrate(context.Background(), st, open(t, dst), 2, &progressLines{w: &strings.Builder{}}); err != nil {
				t.Fatal(err)
			}
			sameSnapshot(t, snapshot(t, dst), want)
		})
	}
}

// cutAfter cancels the copy once rows rows are written.
type cutAfter struct {
	rows, done int
	cancel     func()
}

func (c *cutAfter) update(kind string, done, total int) {
	if c.done += 2; c.done >= c.rows {
		c.cancel()
	}
}

func (c *cutAfter) finish(string, int) {}

func TestMigrateRefuses(t *testing.T) {
	db := sqliteDB(t)
	for _, args := range [][]string{{"--from", db}, {"--from", db, "--to", db}, {"--from", db, "--to", sqliteDB(t), "--batch", "0"}} {
		if _, err := runCommand(t, append([]string{"migrate"}, args...)...); err == nil {
			t.Errorf("migrate %v succeeded", args)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var b strings.Builder
	p := &progressBar{w: &b}
	p.update("messages", 5, 10)
	p.finish("messages", 10)
	if got := b.String(); !strings.Contains(got, "\rmessages      ["+strings.Repeat("=", 15)+strings.Repeat(" ", 15)+"] 5/10") || !strings.HasSuffix(got, "10/10\n") {
		t.Errorf("bar: %q", got)
	}
}
