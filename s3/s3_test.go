package s3_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

var weed struct {
	once     sync.Once
	cmd      *exec.Cmd
	exited   chan struct{}
	dir      string
	endpoint string
	err      string // why SeaweedFS is not available
}

func TestMain(m *testing.M) {
	code := m.Run()
	if weed.cmd != nil {
		weed.cmd.Process.Kill()
		<-weed.exited
	}
	if weed.dir != "" {
		os.RemoveAll(weed.dir)
	}
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago, below 55535
// so that SeaweedFS's gRPC port (port+10000) is a valid port too.
func freePort() (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port >= 55535 {
			continue
		}
		grpc, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		grpc.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port pair")
}

// startWeed runs `weed server -s3` (a master, a volume server, a filer and
// the S3 gateway in one process) on loopback ports, once per test binary,
// and creates the test bucket.
func startWeed() {
	bin := os.Getenv("CHATR_TEST_WEED")
	if bin == "" {
		weed.err = "CHATR_TEST_WEED is not set (build it with .ci/seaweedfs.sh)"
		return
	}
	dir, err := os.MkdirTemp("", "chatr-weed-")
	if err != nil {
		weed.err = err.Error()
		return
	}
	weed.dir = dir
	config := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`{"identities":[{"name":"chatr","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`, accessKey, secretKey)), 0o600); err != nil {
		weed.err = err.Error()
		return
	}
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			weed.err = err.Error()
			return
		}
	}
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	log, _ := os.Create(filepath.Join(dir, "weed.log"))
	cmd := exec.Command(bin, "server", "-s3", "-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+strconv.Itoa(ports[0]), "-volume.port="+strconv.Itoa(ports[1]),
		"-filer.port="+strconv.Itoa(ports[2]), "-s3.port="+strconv.Itoa(ports[3]),
		"-s3.config="+config, "-volume.max=0", "-master.volumeSizeLimitMB=64")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		weed.err = err.Error()
		return
	}
	weed.cmd = cmd
	weed.exited = make(chan struct{})
	var exited atomic.Bool
	go func() { cmd.Wait(); exited.Store(true); close(weed.exited) }()

	weed.endpoint = "127.0.0.1:" + strconv.Itoa(ports[3])
	client, err := minio.New(weed.endpoint, &minio.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, "")})
	if err != nil {
		weed.err = err.Error()
		return
	}
	// SeaweedFS is ready once it can create the bucket: the S3 gateway
	// answers before the filer and a volume server have joined the master.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
		if err == nil {
			// A bucket exists before its first volume does; the first
			// write is the real readiness check.
			_, err = client.PutObject(ctx, bucket, "ready", nil, 0, minio.PutObjectOptions{})
		}
		cancel()
		if err == nil {
			return
		}
		if exited.Load() || time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "weed.log"))
			if len(out) > 4000 {
				out = out[len(out)-4000:]
			}
			weed.err = fmt.Sprintf("SeaweedFS did not become ready: %v\n%s", err, out)
			return
		}
		select {
		case <-weed.exited:
		case <-time.After(200 * time.Millisecond): // poll interval while waiting for readiness
		}
	}
}

var prefixes atomic.Int64

// open returns blobs under a fresh prefix of the shared test bucket.
func open(t *testing.T) chatr.Blobs {
	t.Helper()
	weed.once.Do(startWeed)
	if weed.err != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SeaweedFS is required under CI=true: %s", weed.err)
		}
		t.Skip(weed.err)
	}
	s, err := s3.Open(context.Background(), s3.Config{
		Endpoint: weed.endpoint, Insecure: true, Bucket: bucket,
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
	open(t) // starts SeaweedFS or skips
	_, err := s3.Open(context.Background(), s3.Config{Endpoint: weed.endpoint, Insecure: true, Bucket: "no-such-bucket",
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
	s, err := s3.Open(context.Background(), s3.Config{Endpoint: weed.endpoint, Insecure: true, Bucket: bucket,
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
