// Package auth keeps sign-in sessions: it creates a session when a provider
// (or the guest form) has vouched for a user, finds the session behind a
// request's cookie with sliding renewal, and ends it on sign-out.
//
// Only the SHA-256 of the session token is stored; the token itself lives in
// an HttpOnly, SameSite=Lax cookie. auth knows nothing of chats or the hub;
// how a provider proves who someone is lives in the provider code.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/chatr/chatr"
)

// CookieName is the name of the session cookie.
const CookieName = "chatr_session"

// Defaults for Config.
const (
	DefaultSessionTTL    = 30 * 24 * time.Hour // how long an unused session lives
	DefaultMaxNameLength = 32                  // display name length in characters
)

// Config configures the session service. Zero values mean the defaults.
type Config struct {
	Store         chatr.Store
	SessionTTL    time.Duration // default DefaultSessionTTL; renewed when less than half is left
	MaxNameLength int           // default DefaultMaxNameLength
	// TrustProxy makes X-Forwarded-Proto decide whether a request came over
	// TLS (and so whether cookies are Secure). Only set it behind a proxy
	// that overwrites the header.
	TrustProxy bool
	Now        func() time.Time // for tests; default time.Now
}

// Service creates, finds and ends sessions.
type Service struct {
	cfg Config
}

// New returns a session service on cfg.Store.
func New(cfg Config) *Service {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.MaxNameLength <= 0 {
		cfg.MaxNameLength = DefaultMaxNameLength
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// SignIn records u (creating or updating the user) and starts a new session
// for it, setting the session cookie on w. Any session the request already
// carried is ended first, so a session id planted before sign-in is never
// promoted (no session fixation).
func (s *Service) SignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, u chatr.User) error {
	if u.ID == "" || u.Name == "" || u.Provider == "" {
		return chatr.Errorf(chatr.EINVALID, "incomplete identity")
	}
	if c, err := r.Cookie(CookieName); err == nil {
		_ = s.cfg.Store.DeleteSession(ctx, hashToken(c.Value))
	}
	if err := s.refuseBanned(ctx, u.ID); err != nil {
		return err
	}
	if err := s.cfg.Store.UpsertUser(ctx, u); err != nil {
		return err
	}
	token := randomString(32)
	now := s.cfg.Now().UTC()
	sess := chatr.Session{TokenHash: hashToken(token), UserID: u.ID, Created: now, Expires: now.Add(s.cfg.SessionTTL)}
	if err := s.cfg.Store.CreateSession(ctx, sess); err != nil {
		return err
	}
	s.setCookie(w, r, token, sess.Expires)
	return nil
}

// refuseBanned returns a Refusal when the user exists and is banned.
func (s *Service) refuseBanned(ctx context.Context, userID string) error {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	switch {
	case chatr.ErrorCode(err) == chatr.ENOTFOUND:
		return nil
	case err != nil:
		return err
	case u.Banned:
		return Refuse(RefusedBanned, "this account is banned from this server")
	}
	return nil
}

// Authenticate returns the user and session behind r's cookie, renewing the
// session (and its cookie on w) when less than half of its lifetime is left.
// It returns EUNAUTH when there is no live session.
func (s *Service) Authenticate(w http.ResponseWriter, r *http.Request) (chatr.User, chatr.Session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return chatr.User{}, chatr.Session{}, chatr.Errorf(chatr.EUNAUTH, "not signed in")
	}
	ctx := r.Context()
	now := s.cfg.Now().UTC()
	sess, err := s.cfg.Store.GetSession(ctx, hashToken(c.Value), now)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.User{}, chatr.Session{}, chatr.Errorf(chatr.EUNAUTH, "session expired or signed out")
	} else if err != nil {
		return chatr.User{}, chatr.Session{}, err
	}
	u, err := s.cfg.Store.GetUser(ctx, sess.UserID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.User{}, chatr.Session{}, chatr.Errorf(chatr.EUNAUTH, "user no longer exists")
	} else if err != nil {
		return chatr.User{}, chatr.Session{}, err
	}
	if u.Banned {
		// The ban deleted the user's sessions; one created in a race with
		// it is refused here.
		return chatr.User{}, chatr.Session{}, chatr.Errorf(chatr.EUNAUTH, "this account is banned")
	}
	if sess.Expires.Sub(now) < s.cfg.SessionTTL/2 {
		sess.Expires = now.Add(s.cfg.SessionTTL)
		if err := s.cfg.Store.ExtendSession(ctx, sess.TokenHash, sess.Expires); err == nil && w != nil {
			s.setCookie(w, r, c.Value, sess.Expires)
		}
	}
	return u, sess, nil
}

// SignOut ends the session behind r's cookie (if any) and clears the
// cookie. It returns the signed-out user's id, "" when there was no session.
func (s *Service) SignOut(w http.ResponseWriter, r *http.Request) (string, error) {
	var userID string
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		h := hashToken(c.Value)
		if sess, err := s.cfg.Store.GetSession(r.Context(), h, s.cfg.Now().UTC()); err == nil {
			userID = sess.UserID
		}
		if err := s.cfg.Store.DeleteSession(r.Context(), h); err != nil {
			return "", err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.IsTLS(r)})
	return userID, nil
}

// IsTLS reports whether r reached Chatr over TLS, directly or (with
// TrustProxy) through a proxy that says so in X-Forwarded-Proto.
func (s *Service) IsTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.cfg.TrustProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Service) setCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.IsTLS(r),
	})
}

// MaxNameLength is the longest display name Guest accepts, in characters.
func (s *Service) MaxNameLength() int { return s.cfg.MaxNameLength }

// Guest returns a new guest identity with the chosen display name. Every
// call gives a new user id: two guests called Alice are two users.
func (s *Service) Guest(name string) (chatr.User, error) {
	name, err := CleanName(name, s.cfg.MaxNameLength)
	if err != nil {
		return chatr.User{}, err
	}
	id := make([]byte, 10)
	_, _ = rand.Read(id)
	return chatr.User{ID: "guest:" + hex.EncodeToString(id), Name: name, Provider: "guest"}, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
