package files

import (
	"net"
	"net/http"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/ratelimit"
)

// DefaultUploadsPerMinute is Config.UploadsPerMinute's default.
const DefaultUploadsPerMinute = 30

// errTooMany is the one ELIMIT answered 429 rather than 413: too many
// uploads, not too large a one.
var errTooMany = chatr.Errorf(chatr.ELIMIT, "too many uploads; try again shortly")

// uploadRates limits uploads per user and per client address; nil
// limiters mean no limit.
type uploadRates struct {
	perUser, perAddress *ratelimit.Limiter
	address             func(r *http.Request) string
}

func newUploadRates(cfg Config) uploadRates {
	rate := cfg.UploadsPerMinute
	if rate == 0 {
		rate = DefaultUploadsPerMinute
	}
	u := uploadRates{address: cfg.ClientAddress}
	if u.address == nil {
		u.address = peerIP
	}
	if rate > 0 {
		burst := max(1, int(rate))
		u.perUser, u.perAddress = ratelimit.New(rate/60, burst), ratelimit.New(rate/60, burst)
	}
	return u
}

// allow takes one upload from the address's budget, then the user's: an
// address over its limit spends nothing of the user's.
func (u uploadRates) allow(r *http.Request, userID string) bool {
	if u.perUser == nil {
		return true
	}
	now := time.Now()
	return u.perAddress.Allow(u.address(r), now) && u.perUser.Allow(userID, now)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
