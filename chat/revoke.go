package chat

import (
	"sync"
	"time"
)

// revocations remembers when each user last signed out on this node. An
// access token issued before then is refused at connect: tokens travel in
// URLs (?access_token=) and can leak with them, and sign-out must end what
// a leaked one could still do. Entries live a day, far longer than a token.
type revocations struct {
	mu sync.Mutex
	at map[string]time.Time
}

const revocationLife = 24 * time.Hour

// RevokeTokens refuses, from now on, the user's access tokens issued
// before at (to the second, as tokens carry it).
func (a *App) RevokeTokens(userID string, at time.Time) {
	r := &a.revoked
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = make(map[string]time.Time)
	}
	for id, t := range r.at {
		if at.Sub(t) > revocationLife {
			delete(r.at, id)
		}
	}
	r.at[userID] = at.Truncate(time.Second)
}

// tokenRevoked reports whether a token of the user issued at iat was
// revoked by a later sign-out.
func (a *App) tokenRevoked(userID string, iat time.Time) bool {
	r := &a.revoked
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[userID]
	return ok && iat.Before(t)
}
