package chat

import (
	"context"
	"time"
)

// RevokeTokens refuses, from now on and on every node, the user's access
// tokens issued before at. Tokens travel in URLs (?access_token=) and can
// leak with them; sign-out must end what a leaked one could still do, also
// after a restart, so the moment is kept in the store with the user.
func (a *App) RevokeTokens(ctx context.Context, userID string, at time.Time) error {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	return a.store.RevokeTokens(ctx, userID, at)
}

// tokenRevoked reports whether a token issued at iat was revoked by a
// sign-out at revoked (zero: never). The hub carries iat with millisecond
// precision, so a token minted in the same second as the sign-out but
// before it is refused, and one minted after it is not.
func tokenRevoked(iat, revoked time.Time) bool {
	return !revoked.IsZero() && iat.Before(revoked)
}
