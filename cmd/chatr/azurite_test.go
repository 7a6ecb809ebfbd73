package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Azurite's well-known development account.
const devAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

var azurite struct {
	once    sync.Once
	cmd     *exec.Cmd
	exited  chan struct{}
	connStr string
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if azurite.cmd != nil {
		azurite.cmd.Process.Kill()
		<-azurite.exited
	}
	os.Exit(code)
}

// startAzurite runs Azurite's Table service (installed for package
// aztables' tests) in memory on a free loopback port, once per test binary.
func startAzurite() error {
	bin, _ := filepath.Abs(filepath.Join("..", "..", "aztables", "testdata", "azurite", "node_modules", ".bin", "azurite-table"))
	if _, err := exec.LookPath("node"); err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("Azurite is missing, run make deps: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--inMemoryPersistence", "--tableHost", "127.0.0.1", "--tablePort", strconv.Itoa(port),
		"--skipApiVersionCheck", "--disableTelemetry")
	cmd.Dir = os.TempDir()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	azurite.cmd, azurite.exited = cmd, exited
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return fmt.Errorf("Azurite exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprint("127.0.0.1:", port), time.Second); err == nil {
			c.Close()
			azurite.connStr = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;", devAccountKey, port)
			return nil
		}
		time.Sleep(100 * time.Millisecond) // waiting for the port to open
	}
	return fmt.Errorf("Azurite did not start")
}

// azuriteDB returns a connection string to a fresh set of tables.
func azuriteDB(t *testing.T) string {
	t.Helper()
	azurite.once.Do(func() { azurite.err = startAzurite() })
	need(t, "Azurite", azurite.err)
	b := make([]byte, 6)
	rand.Read(b)
	return azurite.connStr + "TablePrefix=t" + hex.EncodeToString(b)
}
