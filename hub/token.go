package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token errors returned by ParseToken. The hub answers all of them with 401.
var (
	ErrTokenMalformed = errors.New("hub: malformed access token")
	ErrTokenAlgorithm = errors.New("hub: access token algorithm is not HS256")
	ErrTokenSignature = errors.New("hub: access token signature is invalid")
	ErrTokenExpired   = errors.New("hub: access token has expired")
)

// tokenLeeway is the clock skew tolerated on exp and nbf (issued by another
// node whose clock is a little ahead or behind).
const tokenLeeway = 30 * time.Second

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
	iat, exp := float64(c.IssuedAt.Unix()), float64(c.Expires.Unix())
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
// rejects any other algorithm (including "none"), a bad signature, and a
// token whose exp (or nbf) is out of range at now. It does not check the
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
	if jc.Iat != nil {
		c.IssuedAt = time.Unix(int64(*jc.Iat), 0)
	}
	if jc.Exp == nil {
		return c, fmt.Errorf("%w: no exp", ErrTokenMalformed)
	}
	c.Expires = time.Unix(int64(*jc.Exp), 0)
	if !now.Before(c.Expires.Add(tokenLeeway)) {
		return c, ErrTokenExpired
	}
	if jc.Nbf != nil && now.Add(tokenLeeway).Before(time.Unix(int64(*jc.Nbf), 0)) {
		return c, ErrTokenExpired
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
