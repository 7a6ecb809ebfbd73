package auth

import (
	"errors"

	"github.com/chatr/chatr"
)

// Codes of a refused sign-in, as the sign-in page is told them
// (/?signin_error=<code>).
const (
	RefusedBanned = "banned" // an admin banned the account
	RefusedDomain = "domain" // no verified email address in an allowed domain
	RefusedOrg    = "org"    // not a member of an allowed GitHub organisation
	RefusedClaim  = "claim"  // the identity token lacks the required claim value
)

// Refusal is a sign-in the server's policy refuses: a provider vouched for
// the person, but they may not use this server. It is an EFORBIDDEN error.
type Refusal struct {
	Code string // one of the Refused* codes
	err  error
}

// Refuse returns a Refusal with a user-safe message.
func Refuse(code, message string) *Refusal {
	return &Refusal{Code: code, err: chatr.Errorf(chatr.EFORBIDDEN, "%s", message)}
}

func (r *Refusal) Error() string { return r.err.Error() }
func (r *Refusal) Unwrap() error { return r.err }

// RefusalCode returns the code of a Refusal in err's chain, "" if none.
func RefusalCode(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}
