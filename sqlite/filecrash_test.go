package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
)

// fileCrashChild names the environment variable that turns the test binary
// into the process that TestMessagesKeepFilesThroughSIGKILL kills.
const fileCrashChild = "CHATR_SQLITE_FILE_CRASH_CHILD"

// TestMessagesKeepFilesThroughSIGKILL kills, in full flow, a process that
// uploads files and sends each with a message, and checks that every
// message stored (acknowledged or not) has its file: none is ever stored
// without it.
func TestMessagesKeepFilesThroughSIGKILL(t *testing.T) {
	if path := os.Getenv(fileCrashChild); path != "" {
		sendFilesUntilKilled(path)
		return
	}
	path := filepath.Join(t.TempDir(), "chatr.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateChat(t.Context(), chatr.Chat{ID: "c", Name: "c", Owner: "guest:a"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestMessagesKeepFilesThroughSIGKILL$")
	cmd.Env = append(os.Environ(), fileCrashChild+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int64]string{} // message id -> its file
	lines := bufio.NewScanner(out)
	for len(acked) < 1000 && lines.Scan() {
		var (
			id   int64
			file string
		)
		if _, err := fmt.Sscanf(lines.Text(), "ack %d %s", &id, &file); err == nil {
			acked[id] = file
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) < 1000 {
		t.Fatalf("child stopped after %d acknowledgements", len(acked))
	}

	db, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := 0
	for before := int64(0); ; {
		page, err := db.ListMessages(t.Context(), "c", chatr.MessageQuery{Before: before, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		ids := make([]int64, len(page))
		for i, m := range page {
			ids[i] = m.ID
		}
		files, err := db.MessageFiles(t.Context(), "c", ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			want := "f" + strings.ReplaceAll(m.Text, "/", "-")
			if got := files[m.ID]; len(got) != 1 || got[0].ID != want {
				t.Fatalf("message %d (%q) stored with files %v, want [%s]", m.ID, m.Text, got, want)
			}
			if f, ok := acked[m.ID]; ok && f != want {
				t.Fatalf("acknowledged message %d went with %s, stored with %s", m.ID, f, want)
			}
		}
		stored += len(page)
		before = page[0].ID
	}
	if stored < len(acked) {
		t.Fatalf("%d messages stored, %d acknowledged", stored, len(acked))
	}
	t.Logf("%d acknowledged before SIGKILL, %d stored, each with its file", len(acked), stored)
}

func sendFilesUntilKilled(path string) {
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; ; i++ {
				id := fmt.Sprintf("f%d-%d", g, i)
				err := db.CreateFile(ctx, chatr.File{ID: id, ChatID: "c", UserID: "guest:a", Name: id, Size: 1, Type: "text/plain", Key: "f/" + id})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				m, err := db.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: "guest:a", Text: fmt.Sprintf("%d/%d", g, i),
					Files: []chatr.Attachment{{ID: id}}})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %d %s\n", m.ID, id)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
