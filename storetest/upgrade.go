package storetest

import (
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// CheckUpgraded checks a store opened on data written by the previous
// schema (before idempotency keys and stored revocation), which held:
// user "guest:old" (name "Old", provider "guest"), group chat "old", and in
// it messages 1 and 2 from "guest:old" with texts "before 1" and "before 2".
// The old data reads as it was, with no key and no revocation, and the new
// features work on it.
func CheckUpgraded(t *testing.T, s chatr.Store) {
	t.Helper()
	ctx := t.Context()
	u, err := s.GetUser(ctx, "guest:old")
	ok(t, "GetUser after upgrade", err)
	same(t, "TokensRevoked of an old user", u.TokensRevoked.IsZero(), true)
	ms, err := s.ListMessages(ctx, "old", chatr.MessageQuery{})
	ok(t, "ListMessages after upgrade", err)
	var texts []string
	for _, m := range ms {
		texts = append(texts, m.ClientID+"|"+m.Text)
	}
	same(t, "old messages after upgrade", texts, []string{"|before 1", "|before 2"})

	// Old messages have no key: keyed messages after the upgrade are new.
	first := mustMessage(t, s, keyed("old", "guest:old", "k", "after"))
	same(t, "id of the first keyed message after upgrade", first.ID, int64(3))
	same(t, "retry after upgrade", mustMessage(t, s, keyed("old", "guest:old", "k", "again")), asDuplicate(first))
	plain := mustMessage(t, s, msg("old", "guest:old", "plain"))
	same(t, "id of a message without key after upgrade", plain.ID, int64(4))

	revoked := at(3 * time.Millisecond)
	ok(t, "RevokeTokens after upgrade", s.RevokeTokens(ctx, "guest:old", revoked))
	u, err = s.GetUser(ctx, "guest:old")
	ok(t, "GetUser", err)
	same(t, "TokensRevoked after upgrade", u.TokensRevoked, revoked)
}
