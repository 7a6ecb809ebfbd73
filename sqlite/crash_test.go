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

// crashChild names the environment variable that turns the test binary into
// the process that TestAcknowledgedSurvivesSIGKILL kills.
const crashChild = "CHATR_SQLITE_CRASH_CHILD"

// TestAcknowledgedSurvivesSIGKILL runs senders in a child process that
// prints each message it got acknowledged, kills it with SIGKILL in full
// flow, and checks that every printed message is in the file.
func TestAcknowledgedSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(crashChild); path != "" {
		sendUntilKilled(path)
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

	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), crashChild+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]string{} // id -> text
	lines := bufio.NewScanner(out)
	for len(acked) < 2000 && lines.Scan() {
		if id, text, ok := strings.Cut(strings.TrimPrefix(lines.Text(), "ack "), " "); ok {
			acked[id] = text
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) < 2000 {
		t.Fatalf("child stopped after %d acknowledgements", len(acked))
	}

	db, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := map[string]string{}
	before := int64(0)
	for {
		page, err := db.ListMessages(t.Context(), "c", chatr.MessageQuery{Before: before, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			stored[fmt.Sprint(m.ID)] = m.Text
		}
		before = page[0].ID
	}
	for id, text := range acked {
		if stored[id] != text {
			t.Fatalf("acknowledged message %s (%q): stored as %q after SIGKILL", id, text, stored[id])
		}
	}
	t.Logf("%d acknowledged before SIGKILL, %d stored", len(acked), len(stored))
}

func sendUntilKilled(path string) {
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				m, err := db.AddMessage(context.Background(), chatr.Message{ChatID: "c", FromUserID: "guest:a", Text: fmt.Sprintf("%d/%d", g, i)})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %d %s\n", m.ID, m.Text)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
