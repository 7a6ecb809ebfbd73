package outgoing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"
)

// Headers of a call. The signature covers the timestamp and the body:
// a receiver recomputes it, compares in constant time and refuses a
// timestamp more than a few minutes old, so a captured call cannot be
// replayed later.
const (
	SignatureHeader = "X-Chatr-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	TimestampHeader = "X-Chatr-Timestamp" // Unix seconds when the call was signed
	WebhookHeader   = "X-Chatr-Webhook"   // the webhook's ID
	DeliveryHeader  = "X-Chatr-Delivery"  // the same on every attempt of one delivery
)

// Sign returns the value of SignatureHeader for a body sent at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is Sign(secret, ts, body) for the
// timestamp header value ts, and ts is within maxAge of now. It is what a
// receiver written in Go does.
func Verify(secret, ts, signature string, body []byte, now time.Time, maxAge time.Duration) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	at := time.Unix(sec, 0)
	if now.Sub(at) > maxAge || at.Sub(now) > maxAge {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, at, body)), []byte(signature))
}

// NewSecret returns a new random signing secret.
func NewSecret() (string, error) { return random(32) }

// NewID returns a new random webhook ID.
func NewID() (string, error) { return random(16) }

func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
