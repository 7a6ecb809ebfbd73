// Package s3 implements chatr.Blobs on an S3-compatible object store
// (Amazon S3, MinIO, SeaweedFS, Ceph, ...), for clusters of Chatr nodes that
// share their files.
//
// It uses github.com/minio/minio-go/v7: a small, well-kept client that
// speaks to every S3-compatible server with one dependency tree, where
// aws-sdk-go-v2 brings a module per service and AWS-specific defaults.
//
// An S3 PUT needs the length up front, and an upload streamed in a
// multipart request has none; streaming it without one would take
// multipart parts of at least 5 MiB held in memory. So Put first spools the
// bytes (up to its limit) to a temporary file on local disk, then sends
// them in one PUT from that file: memory per transfer stays one copy
// buffer, and a single PUT is atomic, so an interrupted upload leaves no
// object. Put returns once the server has answered the PUT.
//
// The package knows the Blobs contract of package chatr and nothing else.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/chatr/chatr"
)

// spoolPrefix names Put's temporary files, so RemovePartial finds the
// ones a crash left behind.
const spoolPrefix = "chatr-s3-spool-"

const copyBufSize = 64 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// Config says where the bucket is. Zero values mean the defaults.
type Config struct {
	Endpoint  string // host[:port] of the S3 API, e.g. "s3.eu-west-1.amazonaws.com"
	Insecure  bool   // plain HTTP instead of HTTPS (a server on loopback)
	Region    string // optional; found from the bucket when empty
	Bucket    string // must exist
	AccessKey string
	SecretKey string
	// Prefix is put before every key, so one bucket can hold several
	// deployments (e.g. "chatr/"). Blobs outside it are never touched.
	Prefix string
	// SpoolDir holds Put's temporary files; the default is os.TempDir().
	SpoolDir string
}

// Store is a chatr.Blobs on one bucket.
type Store struct {
	client *minio.Client
	cfg    Config
}

var _ chatr.Blobs = (*Store)(nil)

// Open connects to the store and checks that the bucket exists.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("s3: endpoint and bucket are required")
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir()
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3: bucket %s does not exist", cfg.Bucket)
	}
	return &Store{client: client, cfg: cfg}, nil
}

func (s *Store) object(key string) (string, error) {
	if !chatr.ValidBlobKey(key) {
		return "", chatr.Errorf(chatr.EINVALID, "bad blob key")
	}
	return s.cfg.Prefix + key, nil
}

// Put spools r to a temporary file, then sends it in one PUT.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, limit int64) (int64, error) {
	name, err := s.object(key)
	if err != nil {
		return 0, err
	}
	spool, err := os.CreateTemp(s.cfg.SpoolDir, spoolPrefix+"*")
	if err != nil {
		return 0, fmt.Errorf("s3: put: %w", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()

	bp := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(writerOnly{spool}, ctxReader{ctx, io.LimitReader(r, limit+1)}, *bp)
	copyBufs.Put(bp)
	if err != nil {
		return 0, fmt.Errorf("s3: put: %w", err)
	}
	if n > limit {
		return 0, chatr.Errorf(chatr.ELIMIT, "file is larger than %d bytes", limit)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("s3: put: %w", err)
	}
	_, err = s.client.PutObject(ctx, s.cfg.Bucket, name, spool, n, minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		DisableMultipart: true, // one PUT: atomic, nothing partial to clean up
	})
	if err != nil {
		return 0, fmt.Errorf("s3: put: %w", err)
	}
	return n, nil
}

func notFound(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return true
	}
	return false
}

// Get stats the object, then returns a reader that fetches byte ranges
// as it is read and seeked.
func (s *Store) Get(ctx context.Context, key string) (io.ReadSeekCloser, chatr.BlobInfo, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, chatr.BlobInfo{}, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, chatr.BlobInfo{}, fmt.Errorf("s3: get: %w", err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if notFound(err) {
			return nil, chatr.BlobInfo{}, chatr.Errorf(chatr.ENOTFOUND, "no such file")
		}
		return nil, chatr.BlobInfo{}, fmt.Errorf("s3: get: %w", err)
	}
	return obj, chatr.BlobInfo{Key: key, Size: st.Size, Modified: st.LastModified.UTC()}, nil
}

// Delete removes the object; S3 answers a missing one with success.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, name, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("s3: delete: %w", err)
	}
	return nil
}

// List pages through the objects under the prefix.
func (s *Store) List(ctx context.Context, fn func(chatr.BlobInfo) error) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn stops early
	for obj := range s.client.ListObjects(lctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("s3: list: %w", obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.cfg.Prefix)
		if !chatr.ValidBlobKey(key) {
			continue
		}
		if err := fn(chatr.BlobInfo{Key: key, Size: obj.Size, Modified: obj.LastModified.UTC()}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// RemovePartial aborts multipart uploads under the prefix started before
// olderThan (Put makes none, but other writers to the bucket may) and
// removes spool files a crashed Put left in SpoolDir.
func (s *Store) RemovePartial(ctx context.Context, olderThan time.Time) (int, error) {
	removed := 0
	spools, err := filepath.Glob(filepath.Join(s.cfg.SpoolDir, spoolPrefix+"*"))
	if err != nil {
		return 0, fmt.Errorf("s3: %w", err)
	}
	for _, path := range spools {
		if st, err := os.Stat(path); err == nil && st.ModTime().Before(olderThan) && os.Remove(path) == nil {
			removed++
		}
	}

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stale []string
	for up := range s.client.ListIncompleteUploads(lctx, s.cfg.Bucket, s.cfg.Prefix, true) {
		if up.Err != nil {
			return removed, fmt.Errorf("s3: list uploads: %w", up.Err)
		}
		if up.Initiated.Before(olderThan) {
			stale = append(stale, up.Key)
		}
	}
	for _, name := range stale {
		if err := s.client.RemoveIncompleteUpload(ctx, s.cfg.Bucket, name); err != nil {
			return removed, fmt.Errorf("s3: abort upload: %w", err)
		}
		removed++
	}
	return removed, nil
}

type writerOnly struct{ io.Writer }

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ParseURL reads a Config from a URL:
//
//	https://ACCESS:SECRET@host[:port]/bucket[/prefix/]?region=eu-west-1
//
// http:// speaks plain HTTP (a server on loopback or a private network).
// Without user info the credentials come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, so that they need not be on a command line.
func ParseURL(raw string, getenv func(string) string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Config{}, errors.New("s3: the URL is https://[ACCESS:SECRET@]host[:port]/bucket[/prefix/]")
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if bucket == "" {
		return Config{}, errors.New("s3: the URL names no bucket")
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	cfg := Config{Endpoint: u.Host, Insecure: u.Scheme == "http", Bucket: bucket, Prefix: prefix, Region: u.Query().Get("region"),
		AccessKey: getenv("AWS_ACCESS_KEY_ID"), SecretKey: getenv("AWS_SECRET_ACCESS_KEY")}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
	}
	return cfg, nil
}
