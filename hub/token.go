package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Token errors returned by ParseToken. The hub answers all of them with 401.
var (
	ErrTokenMalformed = errors.New("hub: malformed access token")
	ErrTokenAlgorithm = errors.New("hub: access token algorithm is not HS256")
	ErrTokenSignature = errors.New("hub: access token signature is invalid")
	ErrTokenExpired   = errors.New("hub: access token has expired")
	ErrTokenTime      = errors.New("hub: access token times are not plausible")
)

// numericDate turns a JWT NumericDate (seconds since the epoch, possibly
// fractional) into a time with millisecond precision.
func numericDate(v float64) (time.Time, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > maxNumericDate {
		return time.Time{}, errors.New("not a date")
	}
	return time.UnixMilli(int64(math.Round(v * 1000))), nil
}

// tokenLeeway is the clock skew tolerated on exp (issued by another node
// whose clock is a little behind).
const tokenLeeway = 30 * time.Second

// tokenFutureSkew is how far in the future iat and nbf may be (a node whose
// clock is a little ahead); beyond it the token is refused.
const tokenFutureSkew = time.Minute

// maxNumericDate bounds the times a token may carry (the year 10000): a
// bigger number is no date, and would overflow time arithmetic.
const maxNumericDate = 253402300800

var b64 = base64.RawURLEncoding

// jwtHeaderHS256 is the fixed header MintToken emits.
var jwtHeaderHS256 = b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// jwtClaims is the JSON form of Claims, as the Web PubSub server SDK emits it.
type jwtClaims struct {
	Sub   string          `json:"sub,omitempty"`
	Role  json.RawMessage `json:"role,omitempty"`
	Group json.RawMessage `json:"webpubsub.group,omitempty"`
	Aud   json.RawMessage `json:"aud,omitempty"`
	Iat   *float64        `json:"iat,omitempty"`
	Exp   *float64        `json:"exp,omitempty"`
	Nbf   *float64        `json:"nbf,omitempty"`
}

// MintToken signs c as an HS256 JWT with key. A zero IssuedAt means now and
// a zero Expires means one hour after IssuedAt.
func MintToken(key []byte, c Claims) (string, error) {
	if len(key) == 0 {
		return "", errors.New("hub: MintToken: empty key")
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.Expires.IsZero() {
		c.Expires = c.IssuedAt.Add(time.Hour)
	}
	// iat keeps milliseconds (a NumericDate may be fractional, RFC 7519
	// section 2), so that a sign-out can be compared with it below the second.
	iat, exp := float64(c.IssuedAt.UnixMilli())/1000, float64(c.Expires.Unix())
	jc := jwtClaims{Sub: c.UserID, Iat: &iat, Exp: &exp}
	var err error
	if len(c.Roles) > 0 {
		if jc.Role, err = json.Marshal(c.Roles); err != nil {
			return "", err
		}
	}
	if len(c.Groups) > 0 {
		if jc.Group, err = json.Marshal(c.Groups); err != nil {
			return "", err
		}
	}
	if c.Audience != "" {
		if jc.Aud, err = json.Marshal(c.Audience); err != nil {
			return "", err
		}
	}
	body, err := json.Marshal(jc)
	if err != nil {
		return "", err
	}
	signing := jwtHeaderHS256 + "." + b64.EncodeToString(body)
	return signing + "." + b64.EncodeToString(sign(key, signing)), nil
}

func sign(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// ParseToken checks an HS256 JWT signed with key and returns its claims. It
// rejects any other algorithm (including "none"), a bad signature, a token
// whose exp has passed at now, and absurd times (ErrTokenTime: iat or nbf
// more than a minute ahead of now, exp before iat; ErrTokenMalformed: a
// time that is no date). Times keep millisecond precision. It does not check the
// audience: that is the caller's business (the hub compares it with the
// request URL).
func ParseToken(key []byte, token string, now time.Time) (Claims, error) {
	var c Claims
	h64, rest, ok := strings.Cut(token, ".")
	if !ok {
		return c, ErrTokenMalformed
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s64, ".") {
		return c, ErrTokenMalformed
	}
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return c, ErrTokenMalformed
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return c, ErrTokenMalformed
	}
	if hdr.Alg != "HS256" {
		return c, ErrTokenAlgorithm
	}
	sig, err := b64.DecodeString(s64)
	if err != nil {
		return c, ErrTokenMalformed
	}
	if len(key) == 0 || !hmac.Equal(sig, sign(key, token[:len(h64)+1+len(p64)])) {
		return c, ErrTokenSignature
	}
	pb, err := b64.DecodeString(p64)
	if err != nil {
		return c, ErrTokenMalformed
	}
	var jc jwtClaims
	if err := json.Unmarshal(pb, &jc); err != nil {
		return c, ErrTokenMalformed
	}
	c.UserID = jc.Sub
	if c.Roles, err = stringOrList(jc.Role); err != nil {
		return c, fmt.Errorf("%w: role: %v", ErrTokenMalformed, err)
	}
	if c.Groups, err = stringOrList(jc.Group); err != nil {
		return c, fmt.Errorf("%w: webpubsub.group: %v", ErrTokenMalformed, err)
	}
	auds, err := stringOrList(jc.Aud)
	if err != nil {
		return c, fmt.Errorf("%w: aud: %v", ErrTokenMalformed, err)
	}
	if len(auds) > 0 {
		c.Audience = auds[0]
	}
	if jc.Exp == nil {
		return c, fmt.Errorf("%w: no exp", ErrTokenMalformed)
	}
	if c.Expires, err = numericDate(*jc.Exp); err != nil {
		return c, fmt.Errorf("%w: exp: %v", ErrTokenMalformed, err)
	}
	if jc.Iat != nil {
		if c.IssuedAt, err = numericDate(*jc.Iat); err != nil {
			return c, fmt.Errorf("%w: iat: %v", ErrTokenMalformed, err)
		}
		if c.IssuedAt.After(now.Add(tokenFutureSkew)) {
			return c, fmt.Errorf("%w: issued in the future", ErrTokenTime)
		}
		if c.Expires.Before(c.IssuedAt) {
			return c, fmt.Errorf("%w: expires before it was issued", ErrTokenTime)
		}
	}
	if !now.Before(c.Expires.Add(tokenLeeway)) {
		return c, ErrTokenExpired
	}
	if jc.Nbf != nil {
		nbf, err := numericDate(*jc.Nbf)
		if err != nil {
			return c, fmt.Errorf("%w: nbf: %v", ErrTokenMalformed, err)
		}
		if nbf.After(now.Add(tokenFutureSkew)) {
			return c, fmt.Errorf("%w: not valid yet", ErrTokenTime)
		}
	}
	return c, nil
}

// stringOrList decodes a claim that is either a string or a list of strings.
func stringOrList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, err
	}
	return l, nil
}
