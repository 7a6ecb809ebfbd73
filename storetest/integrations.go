package storetest

// The Integrations group: API tokens and incoming webhooks.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

func runIntegrations(t *testing.T, open func(t *testing.T) chatr.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chatr.Store)
	}{
		{"APITokens", testAPITokens},
		{"APITokenInvalid", testAPITokenInvalid},
		{"TouchAPIToken", testTouchAPIToken},
		{"TouchAPITokenConcurrent", testTouchConcurrent},
		{"APITokensGoWithTheirUser", testTokensGoWithUser},
		{"Webhooks", testWebhooks},
		{"WebhooksGoWithTheirChat", testWebhooksGoWithChat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func apiToken(id, userID string, created time.Time) chatr.APIToken {
	return chatr.APIToken{ID: id, UserID: userID, Name: "token " + id, Hash: "hash-" + id, Scope: chatr.ScopeWrite, Created: created}
}

func testAPITokens(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	mustUser(t, s, user("bot:b", "B"))
	t1 := apiToken("t1", "guest:a", at(time.Minute))
	t2 := apiToken("t2", "guest:a", at(0))
	t2.Scope, t2.Chats = chatr.ScopeRead, []string{"z", "g", "z"}
	t3 := apiToken("t3", "bot:b", at(0))
	for _, tok := range []chatr.APIToken{t1, t2, t3} {
		ok(t, "CreateAPIToken "+tok.ID, s.CreateAPIToken(ctx, tok))
	}
	t2.Chats = []string{"g", "z"} // sorted, no repeats

	got, err := s.GetAPIToken(ctx, "hash-t2")
	ok(t, "GetAPIToken", err)
	same(t, "GetAPIToken", got, t2)
	l, err := s.ListAPITokens(ctx, "guest:a")
	ok(t, "ListAPITokens", err)
	same(t, "ListAPITokens", l, []chatr.APIToken{t2, t1})
	l, err = s.ListAPITokens(ctx, "guest:nobody")
	ok(t, "ListAPITokens of a user without tokens", err)
	same(t, "tokens of a user without tokens", len(l), 0)

	code(t, "CreateAPIToken with a taken ID", s.CreateAPIToken(ctx, apiToken("t1", "bot:b", at(0))), chatr.ECONFLICT)
	dupHash := apiToken("t4", "guest:a", at(0))
	dupHash.Hash = "hash-t1"
	code(t, "CreateAPIToken with a taken hash", s.CreateAPIToken(ctx, dupHash), chatr.ECONFLICT)
	code(t, "CreateAPIToken of an unknown user", s.CreateAPIToken(ctx, apiToken("t5", "guest:nobody", at(0))), chatr.ENOTFOUND)
	_, err = s.GetAPIToken(ctx, "hash-none")
	code(t, "GetAPIToken of an unknown hash", err, chatr.ENOTFOUND)

	code(t, "RevokeAPIToken of another user's token", s.RevokeAPIToken(ctx, "bot:b", "t1"), chatr.ENOTFOUND)
	code(t, "RevokeAPIToken of an unknown token", s.RevokeAPIToken(ctx, "guest:a", "none"), chatr.ENOTFOUND)
	ok(t, "RevokeAPIToken", s.RevokeAPIToken(ctx, "guest:a", "t1"))
	ok(t, "RevokeAPIToken again", s.RevokeAPIToken(ctx, "guest:a", "t1"))
	got, err = s.GetAPIToken(ctx, "hash-t1")
	ok(t, "GetAPIToken of a revoked token", err)
	t1.Revoked = true
	same(t, "revoked token", got, t1)
	got, err = s.GetAPIToken(ctx, "hash-t3")
	ok(t, "GetAPIToken of another token", err)
	same(t, "the other token", got, t3)
}

func testAPITokenInvalid(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	for name, change := range map[string]func(*chatr.APIToken){
		"no id":         func(t *chatr.APIToken) { t.ID = "" },
		"no hash":       func(t *chatr.APIToken) { t.Hash = "" },
		"no name":       func(t *chatr.APIToken) { t.Name = " " },
		"long name":     func(t *chatr.APIToken) { t.Name = fmt.Sprintf("%065d", 0) },
		"bad scope":     func(t *chatr.APIToken) { t.Scope = "admin" },
		"empty chat":    func(t *chatr.APIToken) { t.Chats = []string{""} },
		"too many":      func(t *chatr.APIToken) { t.Chats = make([]string, chatr.MaxTokenChats+1) },
		"NUL in a name": func(t *chatr.APIToken) { t.Name = "a\x00b" },
	} {
		tok := apiToken("t", "guest:a", at(0))
		change(&tok)
		code(t, "CreateAPIToken with "+name, s.CreateAPIToken(ctx, tok), chatr.EINVALID)
	}
}

func testTouchAPIToken(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	ok(t, "CreateAPIToken", s.CreateAPIToken(ctx, apiToken("t", "guest:a", at(0))))
	ok(t, "TouchAPIToken", s.TouchAPIToken(ctx, "t", at(time.Hour)))
	ok(t, "TouchAPIToken earlier", s.TouchAPIToken(ctx, "t", at(time.Minute)))
	ok(t, "TouchAPIToken of an unknown token", s.TouchAPIToken(ctx, "none", at(time.Hour)))
	got, err := s.GetAPIToken(ctx, "hash-t")
	ok(t, "GetAPIToken", err)
	same(t, "LastUsed only moves forward", got.LastUsed, at(time.Hour))
}

func testTouchConcurrent(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	ok(t, "CreateAPIToken", s.CreateAPIToken(ctx, apiToken("t", "guest:a", at(0))))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ok(t, "TouchAPIToken", s.TouchAPIToken(ctx, "t", at(time.Duration(i)*time.Second)))
		})
	}
	wg.Wait()
	got, err := s.GetAPIToken(ctx, "hash-t")
	ok(t, "GetAPIToken", err)
	same(t, "LastUsed after racing touches", got.LastUsed, at(7*time.Second))
}

func testTokensGoWithUser(t *testing.T, s chatr.Store) {
	d, isDeleter := s.(chatr.UserDeleter)
	if !isDeleter {
		return
	}
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	ok(t, "CreateAPIToken", s.CreateAPIToken(ctx, apiToken("t", "guest:a", at(0))))
	ok(t, "DeleteUser", d.DeleteUser(ctx, "guest:a", false))
	u := user("guest:a", "A")
	u.Created = at(time.Hour)
	mustUser(t, s, u)
	_, err := s.GetAPIToken(ctx, "hash-t")
	code(t, "GetAPIToken of a deleted user's token", err, chatr.ENOTFOUND)
	l, err := s.ListAPITokens(ctx, "guest:a")
	ok(t, "ListAPITokens", err)
	same(t, "tokens of a user created again", len(l), 0)
}

func webhook(id, chatID string, created time.Time) chatr.Webhook {
	return chatr.Webhook{ID: id, ChatID: chatID, Name: "hook " + id, CreatedBy: "guest:a", Hash: "hash-" + id, Created: created}
}

func testWebhooks(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	mustChat(t, s, group("h", at(0)))
	w1 := webhook("w1", "g", at(time.Minute))
	w2 := webhook("w2", "g", at(0))
	w3 := webhook("w3", "h", at(0))
	for _, w := range []chatr.Webhook{w1, w2, w3} {
		ok(t, "CreateWebhook "+w.ID, s.CreateWebhook(ctx, w))
	}
	got, err := s.GetWebhook(ctx, "hash-w1")
	ok(t, "GetWebhook", err)
	same(t, "GetWebhook", got, w1)
	l, err := s.ListWebhooks(ctx, "g")
	ok(t, "ListWebhooks", err)
	same(t, "ListWebhooks", l, []chatr.Webhook{w2, w1})

	code(t, "CreateWebhook with a taken ID", s.CreateWebhook(ctx, webhook("w1", "h", at(0))), chatr.ECONFLICT)
	dup := webhook("w4", "h", at(0))
	dup.Hash = "hash-w3"
	code(t, "CreateWebhook with a taken hash", s.CreateWebhook(ctx, dup), chatr.ECONFLICT)
	code(t, "CreateWebhook in a missing chat", s.CreateWebhook(ctx, webhook("w5", "missing", at(0))), chatr.ENOTFOUND)
	bad := webhook("w6", "g", at(0))
	bad.Name = ""
	code(t, "CreateWebhook without a name", s.CreateWebhook(ctx, bad), chatr.EINVALID)
	bad = webhook("w6", "g", at(0))
	bad.Hash = ""
	code(t, "CreateWebhook without a hash", s.CreateWebhook(ctx, bad), chatr.EINVALID)
	_, err = s.GetWebhook(ctx, "hash-none")
	code(t, "GetWebhook of an unknown hash", err, chatr.ENOTFOUND)

	code(t, "RevokeWebhook of another chat's webhook", s.RevokeWebhook(ctx, "h", "w1"), chatr.ENOTFOUND)
	code(t, "RevokeWebhook of an unknown webhook", s.RevokeWebhook(ctx, "g", "none"), chatr.ENOTFOUND)
	ok(t, "RevokeWebhook", s.RevokeWebhook(ctx, "g", "w1"))
	ok(t, "RevokeWebhook again", s.RevokeWebhook(ctx, "g", "w1"))
	got, err = s.GetWebhook(ctx, "hash-w1")
	ok(t, "GetWebhook of a revoked webhook", err)
	w1.Revoked = true
	same(t, "revoked webhook", got, w1)
	l, err = s.ListWebhooks(ctx, "h")
	ok(t, "ListWebhooks", err)
	same(t, "the other chat's webhooks", l, []chatr.Webhook{w3})
}

func testWebhooksGoWithChat(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	ok(t, "CreateWebhook", s.CreateWebhook(ctx, webhook("w", "g", at(0))))
	ok(t, "DeleteChat", s.DeleteChat(ctx, "g"))
	_, err := s.GetWebhook(ctx, "hash-w")
	code(t, "GetWebhook after DeleteChat", err, chatr.ENOTFOUND)
	mustChat(t, s, group("g", at(time.Hour)))
	l, err := s.ListWebhooks(ctx, "g")
	ok(t, "ListWebhooks", err)
	same(t, "webhooks of a chat created again", len(l), 0)
	_, err = s.GetWebhook(ctx, "hash-w")
	code(t, "GetWebhook in a chat created again", err, chatr.ENOTFOUND)
	ok(t, "CreateWebhook with the same hash in the new chat", s.CreateWebhook(ctx, webhook("w", "g", at(time.Hour))))
}
