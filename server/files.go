package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/aztables"
	"github.com/chatr/chatr/files"
	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/localfs"
	"github.com/chatr/chatr/s3"
)

// Files configures uploaded files. Zero values mean the defaults.
type Files struct {
	// Dir is the folder the bytes are kept in: by default beside the
	// SQLite file (its path + ".files"), or "chatr-files" with another
	// store.
	Dir string
	// S3 keeps them in an S3-compatible bucket instead (a cluster's nodes
	// share it): see s3.ParseURL.
	S3 string
	// MaxUploadBytes bounds one file (files.DefaultMaxUploadBytes).
	MaxUploadBytes int64
	// QuotaBytes bounds the total size of one user's files (0: none).
	QuotaBytes int64
	// UploadsPerMinute bounds the uploads of one user and of one client
	// address (files.DefaultUploadsPerMinute; negative: no limit).
	UploadsPerMinute float64
	// SweepEvery is how often blobs that nothing refers to are deleted
	// (default an hour), SweepGrace how old such a blob must be (default
	// an hour: an upload in flight writes its row within it).
	SweepEvery time.Duration
	SweepGrace time.Duration
	// UnsentAfter is how long a file uploaded but sent with no message is
	// kept (its bytes, and its share of the quota) before the sweep
	// removes it (default a day).
	UnsentAfter time.Duration
}

const (
	defaultFileSweep   = time.Hour
	defaultUnsentAfter = 24 * time.Hour
	unsentPerRound     = 500 // files DeleteUnsentFiles removes at a time
)

// filesDir is where the bytes of files are kept by default.
func filesDir(cfg Config) string {
	if cfg.Files.Dir != "" {
		return cfg.Files.Dir
	}
	if aztables.IsConnectionString(cfg.DB) || strings.Contains(cfg.DB, "://") {
		return "chatr-files"
	}
	return cfg.DB + ".files"
}

// openBlobs opens the storage of files' bytes.
func openBlobs(ctx context.Context, cfg Config) (chatr.Blobs, error) {
	if cfg.Files.S3 != "" {
		sc, err := s3.ParseURL(cfg.Files.S3, os.Getenv)
		if err != nil {
			return nil, err
		}
		return s3.Open(ctx, sc)
	}
	dir := filesDir(cfg)
	b, err := localfs.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open files folder %s: %w", dir, err)
	}
	return b, nil
}

// fileRoutes serves uploads and downloads to signed-in members.
func (s *Server) fileRoutes(sessions *auth.Service) http.Handler {
	return files.NewHandler(files.Config{
		Blobs: s.blobs, Files: s.files,
		User: func(w http.ResponseWriter, r *http.Request) (string, error) {
			u, _, err := sessions.Authenticate(w, r)
			return u.ID, err
		},
		IsMember:         s.store.IsMember,
		MaxUploadBytes:   s.cfg.Files.MaxUploadBytes,
		QuotaBytes:       s.cfg.Files.QuotaBytes,
		UploadsPerMinute: s.cfg.Files.UploadsPerMinute,
		ClientAddress:    func(r *http.Request) string { return httpapi.AddressKey(s.handler.ClientIP(r)) },
		Log:              s.log,
	})
}

// sweepFiles deletes, now and then, files uploaded long ago but never sent
// with a message, then blobs that no file refers to: those of deleted
// messages and chats, of uploads cut off before their row was written, and
// the leftovers of interrupted writes.
func (s *Server) sweepFiles() {
	every, grace := s.cfg.Files.SweepEvery, s.cfg.Files.SweepGrace
	if every <= 0 {
		every = defaultFileSweep
	}
	if grace <= 0 {
		grace = defaultFileSweep
	}
	unsentAfter := s.cfg.Files.UnsentAfter
	if unsentAfter <= 0 {
		unsentAfter = defaultUnsentAfter
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), every)
		if n, err := s.removeUnsentFiles(ctx, time.Now().Add(-unsentAfter)); err != nil {
			s.log.Warn("unsent file sweep", "err", err, "removed", n)
		} else if n > 0 {
			s.log.Info("unsent files removed", "count", n)
		}
		n, err := chatr.SweepBlobs(ctx, s.blobs, time.Now().Add(-grace), s.files.BlobReferenced)
		cancel()
		if err != nil {
			s.log.Warn("file sweep", "err", err, "removed", n)
		} else if n > 0 {
			s.log.Info("unreferenced files removed", "count", n)
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// removeUnsentFiles removes the files uploaded before before that no
// message carries, rows first (a send after that finds no file), then
// their blobs; a blob left by a failed delete goes with the blob sweep.
func (s *Server) removeUnsentFiles(ctx context.Context, before time.Time) (int, error) {
	removed := 0
	for {
		fs, err := s.files.DeleteUnsentFiles(ctx, before, unsentPerRound)
		if err != nil {
			return removed, err
		}
		for _, f := range fs {
			for _, key := range []string{f.Key, f.ThumbKey} {
				if key == "" {
					continue
				}
				if err := s.blobs.Delete(ctx, key); err != nil {
					return removed, err
				}
			}
			removed++
		}
		if len(fs) < unsentPerRound {
			return removed, nil
		}
	}
}
