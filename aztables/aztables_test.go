package aztables_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/aztables"
	"github.com/chatr/chatr/storetest"
)

// Azurite's well-known development account.
const devAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

var azurite struct {
	once    sync.Once
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has been waited for
	connStr string
	err     string // why Azurite is not available
}

// TestMain stops the Azurite started by the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if azurite.cmd != nil {
		azurite.cmd.Process.Kill()
		<-azurite.exited
	}
	os.Exit(code)
}

// startAzurite runs the Table service of Azurite (from testdata/azurite's
// node_modules) in memory on a free loopback port, once per test binary.
func startAzurite() {
	dir := filepath.Join("testdata", "azurite")
	bin, _ := filepath.Abs(filepath.Join(dir, "node_modules", ".bin", "azurite-table"))
	if _, err := exec.LookPath("node"); err != nil {
		azurite.err = "node is not installed"
		return
	}
	if _, err := os.Stat(bin); err != nil {
		azurite.err = "Azurite is missing: run `make deps` (npm ci in " + dir + ")"
		return
	}
	for attempt := 0; attempt < 3; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			azurite.err = err.Error()
			return
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command(bin, "--inMemoryPersistence", "--tableHost", "127.0.0.1", "--tablePort", strconv.Itoa(port),
			"--skipApiVersionCheck", "--disableTelemetry")
		cmd.Dir = os.TempDir() // whatever Azurite writes beside it stays out of the tree
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			azurite.err = "start Azurite: " + err.Error()
			return
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				deadline = time.Time{}
				continue
			default:
			}
			if c, err := net.DialTimeout("tcp", fmt.Sprint("127.0.0.1:", port), time.Second); err == nil {
				c.Close()
				azurite.cmd, azurite.exited = cmd, exited
				azurite.connStr = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;", devAccountKey, port)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-exited
	}
	azurite.err = "Azurite did not start"
}

// connString returns a connection string to a fresh set of tables in
// Azurite, skipping the test when Azurite is missing (failing under CI=true).
func connString(t *testing.T) string {
	t.Helper()
	azurite.once.Do(startAzurite)
	if azurite.err != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(azurite.err)
		}
		t.Skip(azurite.err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	return azurite.connStr + "TablePrefix=t" + hex.EncodeToString(b)
}

func open(t *testing.T, conn string) *aztables.Store {
	t.Helper()
	s, err := aztables.Open(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chatr.Store { return open(t, connString(t)) })
}

func TestReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) func() (chatr.Store, error) {
		conn := connString(t)
		return func() (chatr.Store, error) { return aztables.Open(context.Background(), conn) }
	})
}

// TestClientIDTwoNodes: one key sent on two stores (two Chatr nodes) on
// the same tables at once is stored once: the key row written in the
// message's transaction lets only one of them commit it.
func TestClientIDTwoNodes(t *testing.T) {
	conn := connString(t)
	storetest.ClientIDTwoNodes(t, open(t, conn), open(t, conn))
}

func TestIsConnectionString(t *testing.T) {
	for _, tt := range []struct {
		db   string
		want bool
	}{
		{"aztables:UseDevelopmentStorage=true", true},
		{"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net", true},
		{"AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1", true},
		{"chatr.db", false},
		{"postgres://u:p@localhost/chatr", false},
		{"/var/lib/chatr/data;backup.db", false},
	} {
		if got := aztables.IsConnectionString(tt.db); got != tt.want {
			t.Errorf("IsConnectionString(%q) = %v, want %v", tt.db, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	got := aztables.Redact("aztables:DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net")
	want := "aztables:DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net"
	if got != want {
		t.Errorf("Redact: got %q, want %q", got, want)
	}
}

// TestContractDetails covers what the suite leaves to each store.
func TestContractDetails(t *testing.T) {
	s := open(t, connString(t))
	ctx := t.Context()
	for _, tt := range []struct {
		what string
		err  error
	}{
		{"UpsertUser with NUL", s.UpsertUser(ctx, chatr.User{ID: "guest:a", Name: "A\x00"})},
		{"UpsertUser with invalid UTF-8", s.UpsertUser(ctx, chatr.User{ID: "guest:\xff", Name: "A"})},
		{"CreateChat with NUL", s.CreateChat(ctx, chatr.Chat{ID: "c\x00", Name: "C"})},
	} {
		if chatr.ErrorCode(tt.err) != chatr.EINVALID {
			t.Errorf("%s: got %v, want EINVALID", tt.what, tt.err)
		}
	}
	if err := s.CreateChat(ctx, chatr.Chat{ID: "c", Name: "C", Owner: "guest:a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: "guest:a", Text: "bad \xff"}); chatr.ErrorCode(err) != chatr.EINVALID {
		t.Errorf("AddMessage with invalid UTF-8: got %v", err)
	}
	if _, err := s.ListMessages(ctx, "missing", chatr.MessageQuery{}); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("ListMessages of a missing chat: got %v", err)
	}
	if err := s.MarkRead(ctx, "guest:a", "missing", 1); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("MarkRead of a missing chat: got %v", err)
	}
	if _, err := s.GetChat(ctx, "c\x00"); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("GetChat with NUL: got %v", err)
	}
	// Keys with characters Table Storage forbids in keys are escaped.
	odd := "guest:a/b#c?d\\e%f\tg"
	if err := s.UpsertUser(ctx, chatr.User{ID: odd, Name: "Odd", Provider: "guest"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.GetUser(ctx, odd)
	if err != nil || u.ID != odd {
		t.Errorf("user with an odd id: got %+v, %v", u, err)
	}
	// A long text is split over several columns and joined again.
	long := strings.Repeat("ж", 40000)
	m, err := s.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: "guest:a", Text: long})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.ListMessages(ctx, "c", chatr.MessageQuery{})
	if err != nil || len(ms) != 1 || ms[0].Text != long || ms[0].ID != m.ID {
		t.Errorf("long message: %d messages, %v", len(ms), err)
	}
}
