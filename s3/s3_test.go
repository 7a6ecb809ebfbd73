package s3_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/blobstest"
	"github.com/chatr/chatr/s3"
)

const (
	accessKey = "chatrtest"
	secretKey = "chatrtestsecret"
	bucket    = "chatr-test"
)

// gateway is the S3 server the tests run against: versitygw (an S3
// gateway written in Go, github.com/versity/versitygw) with its posix
// backend on a temporary folder, started once per test binary.
var gateway struct {
	once     sync.Once
	cmd      *exec.Cmd
	exited   chan struct{}
	dir      string
	endpoint string
	err      string // why the server is not available
}

func TestMain(m *testing.M) {
	code := m.Run()
	if gateway.cmd != nil {
		gateway.cmd.Process.Kill()
		<-gateway.exited
	}
	if gateway.dir != "" {
		os.RemoveAll(gateway.dir)
	}
	os.Exit(code)
}

// versitygwBinary is $CHATR_TEST_VERSITYGW, or versitygw where go install
// puts it, or on PATH.
func versitygwBinary() (string, error) {
	if bin := os.Getenv("CHATR_TEST_VERSITYGW"); bin != "" {
		return bin, nil
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gobin = filepath.Join(strings.TrimSpace(string(out)), "bin")
		}
	}
	if p := filepath.Join(gobin, "versitygw"); gobin != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("versitygw")
	if err != nil {
		return "", fmt.Errorf("versitygw not found: set CHATR_TEST_VERSITYGW or run go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (.ci/run does)")
	}
	return p, nil
}

// startGateway runs versitygw on a loopback port and creates the test
// bucket.
func startGateway() {
	bin, err := versitygwBinary()
	if err != nil {
		gateway.err = err.Error()
		return
	}
	dir, err := os.MkdirTemp("", "chatr-s3-")
	if err != nil {
		gateway.err = err.Error()
		return
	}
	gateway.dir = dir
	data, meta := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	os.MkdirAll(data, 0o700)
	os.MkdirAll(meta, 0o700)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gateway.err = err.Error()
		return
	}
	gateway.endpoint = ln.Addr().String()
	ln.Close()
	log, _ := os.Create(filepath.Join(dir, "gateway.log"))
	// The sidecar folder keeps object metadata in files, so the test needs
	// no extended attributes on the temporary folder's file system.
	cmd := exec.Command(bin, "--access", accessKey, "--secret", secretKey, "--port", gateway.endpoint, "--quiet",
		"posix", "--sidecar", meta, data)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		gateway.err = err.Error()
		return
	}
	gateway.cmd = cmd
	gateway.exited = make(chan struct{})
	var exited atomic.Bool
	go func() { cmd.Wait(); exited.Store(true); close(gateway.exited) }()

	client, err := minio.New(gateway.endpoint, &minio.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, "")})
	if err != nil {
		gateway.err = err.Error()
		return
	}
	// Ready once it creates the bucket.
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
		cancel()
		if err == nil {
			return
		}
		if exited.Load() || time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "gateway.log"))
			if len(out) > 4000 {
				out = out[len(out)-4000:]
			}
			gateway.err = fmt.Sprintf("versitygw did not become ready: %v\n%s", err, out)
			return
		}
		select {
		case <-gateway.exited:
		case <-time.After(100 * time.Millisecond): // poll interval while it starts
		}
	}
}

var prefixes atomic.Int64

// open returns blobs under a fresh prefix of the shared test bucket.
func open(t *testing.T) chatr.Blobs {
	t.Helper()
	gateway.once.Do(startGateway)
	if gateway.err != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("an S3 server is required under CI=true: %s", gateway.err)
		}
		t.Skip(gateway.err)
	}
	s, err := s3.Open(context.Background(), s3.Config{
		Endpoint: gateway.endpoint, Insecure: true, Bucket: bucket,
		AccessKey: accessKey, SecretKey: secretKey,
		Prefix:   fmt.Sprintf("t%d-%d/", os.Getpid(), prefixes.Add(1)),
		SpoolDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBlobs(t *testing.T) { blobstest.Run(t, open) }

func TestOpenMissingBucket(t *testing.T) {
	open(t) // starts the S3 server or skips
	_, err := s3.Open(context.Background(), s3.Config{Endpoint: gateway.endpoint, Insecure: true, Bucket: "no-such-bucket",
		AccessKey: accessKey, SecretKey: secretKey})
	if err == nil {
		t.Fatal("Open of a missing bucket succeeded")
	}
}

// A Put cut off by a crash leaves its spool file; RemovePartial removes it
// once it is older than the cut-off.
func TestRemovePartialSpool(t *testing.T) {
	open(t)
	spool := t.TempDir()
	s, err := s3.Open(context.Background(), s3.Config{Endpoint: gateway.endpoint, Insecure: true, Bucket: bucket,
		AccessKey: accessKey, SecretKey: secretKey, Prefix: fmt.Sprintf("spool%d/", os.Getpid()), SpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(spool, "chatr-s3-spool-crashed")
	os.WriteFile(left, []byte("half"), 0o600)
	if n, err := s.RemovePartial(context.Background(), time.Now().Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("RemovePartial(a minute ago) = %d, %v; want 0", n, err)
	}
	if n, err := s.RemovePartial(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("RemovePartial(now) = %d, %v; want 1", n, err)
	}
}

func TestParseURL(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "envkey", "AWS_SECRET_ACCESS_KEY": "envsecret"}
	for raw, want := range map[string]s3.Config{
		"https://s3.example.com/files":                  {Endpoint: "s3.example.com", Bucket: "files", AccessKey: "envkey", SecretKey: "envsecret"},
		"http://k:s@127.0.0.1:9000/b/chatr?region=eu-1": {Endpoint: "127.0.0.1:9000", Insecure: true, Bucket: "b", Prefix: "chatr/", Region: "eu-1", AccessKey: "k", SecretKey: "s"},
	} {
		got, err := s3.ParseURL(raw, func(k string) string { return env[k] })
		if err != nil || got != want {
			t.Errorf("ParseURL(%s) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, bad := range []string{"", "s3.example.com/b", "ftp://h/b", "https://h", "https://h/"} {
		if _, err := s3.ParseURL(bad, func(string) string { return "" }); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}
