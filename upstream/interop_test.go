package upstream_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr/server"
)

// TestOfficialPackages runs interop/interop.mjs: the official Express event
// handler (@azure/web-pubsub-express) answers Chatr's upstream events, the
// official server SDK (@azure/web-pubsub) calls the REST API, and the
// official client SDK (@azure/web-pubsub-client 1.1.0) is connected to a
// drop-in hub at the same time. It starts a whole Chatr node on port 0.
func TestOfficialPackages(t *testing.T) {
	dir := filepath.Join("..", "interop")
	requireNode(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "interop.mjs")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var port string
	for lines.Scan() {
		if p, ok := strings.CutPrefix(lines.Text(), "LISTENING "); ok {
			port = p
			break
		}
	}
	if port == "" {
		t.Fatalf("the Express handler did not start; stderr:\n%s", stderr.String())
	}

	const accessKey = "interop-access-key-0123456789abcdef"
	srv, err := server.New(server.Config{
		Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"), Secret: "interop-secret-0123456789",
		RequestsPerSecond: -1, SignInsPerMinute: -1,
		WebPubSub: server.WebPubSub{
			AccessKey:    accessKey,
			UpstreamURL:  "http://127.0.0.1:" + port + "/eventhandler/{hub}/{event}",
			UserEvents:   []string{"*"},
			SystemEvents: []string{"connect", "connected", "disconnected"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(ctx) }()
	defer func() {
		srv.Close()
		<-runDone
	}()

	if _, err := stdin.Write([]byte("GO http://" + srv.Addr() + " " + accessKey + "\n")); err != nil {
		t.Fatal(err)
	}
	var out []string
	for lines.Scan() {
		out = append(out, lines.Text())
	}
	err = cmd.Wait()
	report := strings.Join(out, "\n")
	if err != nil {
		t.Fatalf("interop.mjs failed (%v):\n%s\nstderr:\n%s", err, report, stderr.String())
	}
	t.Logf("interop.mjs:\n%s", report)
}

// requireNode skips the test when node or the npm packages of dir are
// missing, and fails it under CI=true.
func requireNode(t *testing.T, dir string) {
	t.Helper()
	miss := ""
	if _, err := exec.LookPath("node"); err != nil {
		miss = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		miss = "npm packages missing: run `make deps` (npm ci in " + dir + ")"
	}
	if miss == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(miss)
	}
	t.Skip(miss)
}
