package storetest

import (
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// RunOutgoing runs the conformance tests of chatr.OutgoingWebhookStore
// against stores made by open, which must return a fresh, empty store each
// time. Beyond the interface's comments it settles that the trigger words
// come back in the order they were given.
func RunOutgoing(t *testing.T, open func(t *testing.T) chatr.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chatr.Store)
	}{
		{"CreateList", testOutgoingCreateList},
		{"CreatedDefault", testOutgoingCreatedDefault},
		{"Refused", testOutgoingRefused},
		{"Delete", testOutgoingDelete},
		{"GoWithTheirChat", testOutgoingGoWithChat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func hook(id, chatID string, created time.Time) chatr.OutgoingWebhook {
	return chatr.OutgoingWebhook{ID: id, ChatID: chatID, Name: "hook " + id, URL: "https://hooks.example.com/" + id,
		Triggers: []string{"!" + id, "deploy", "héllo"}, Secret: "secret-" + id, CreatedBy: "guest:owner", Created: created}
}

func testOutgoingCreateList(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	mustChat(t, s, group("h", at(0)))
	b, a, c := hook("b", "g", at(time.Minute)), hook("a", "g", at(time.Minute)), hook("c", "g", at(0))
	c.Triggers = []string{"zeta", "alpha"}
	for _, w := range []chatr.OutgoingWebhook{b, a, c, hook("x", "h", at(0))} {
		ok(t, "CreateOutgoingWebhook "+w.ID, s.CreateOutgoingWebhook(ctx, w))
	}
	l, err := s.ListOutgoingWebhooks(ctx, "g")
	ok(t, "ListOutgoingWebhooks", err)
	exact(t, "ListOutgoingWebhooks", l, []chatr.OutgoingWebhook{c, a, b})
	l, err = s.ListOutgoingWebhooks(ctx, "h")
	ok(t, "ListOutgoingWebhooks h", err)
	exact(t, "ListOutgoingWebhooks h", l, []chatr.OutgoingWebhook{hook("x", "h", at(0))})

	mustChat(t, s, group("empty", at(0)))
	l, err = s.ListOutgoingWebhooks(ctx, "empty")
	ok(t, "ListOutgoingWebhooks of a chat without any", err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListOutgoingWebhooks of a chat without any = %#v, want an empty list", l)
	}
	_, err = s.ListOutgoingWebhooks(ctx, "missing")
	code(t, "ListOutgoingWebhooks of a missing chat", err, chatr.ENOTFOUND)
}

func testOutgoingCreatedDefault(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	before := time.Now().Add(-time.Second)
	w := hook("a", "g", time.Time{})
	ok(t, "CreateOutgoingWebhook", s.CreateOutgoingWebhook(ctx, w))
	l, err := s.ListOutgoingWebhooks(ctx, "g")
	ok(t, "ListOutgoingWebhooks", err)
	if len(l) != 1 || l[0].Created.Before(before) || l[0].Created.After(time.Now().Add(time.Second)) || l[0].Created.Location() != time.UTC {
		t.Fatalf("a zero Created is not now in UTC: %+v", l)
	}
}

func testOutgoingRefused(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	ok(t, "CreateOutgoingWebhook", s.CreateOutgoingWebhook(ctx, hook("a", "g", at(0))))
	code(t, "CreateOutgoingWebhook twice", s.CreateOutgoingWebhook(ctx, hook("a", "g", at(0))), chatr.ECONFLICT)
	mustChat(t, s, group("h", at(0)))
	code(t, "CreateOutgoingWebhook of an ID in another chat", s.CreateOutgoingWebhook(ctx, hook("a", "h", at(0))), chatr.ECONFLICT)
	code(t, "CreateOutgoingWebhook to a missing chat", s.CreateOutgoingWebhook(ctx, hook("m", "missing", at(0))), chatr.ENOTFOUND)
	for name, change := range map[string]func(w *chatr.OutgoingWebhook){
		"no ID":             func(w *chatr.OutgoingWebhook) { w.ID = "" },
		"no name":           func(w *chatr.OutgoingWebhook) { w.Name = " " },
		"no secret":         func(w *chatr.OutgoingWebhook) { w.Secret = "" },
		"no trigger":        func(w *chatr.OutgoingWebhook) { w.Triggers = nil },
		"a spaced trigger":  func(w *chatr.OutgoingWebhook) { w.Triggers = []string{"two words"} },
		"a repeated one":    func(w *chatr.OutgoingWebhook) { w.Triggers = []string{"x", "x"} },
		"a relative URL":    func(w *chatr.OutgoingWebhook) { w.URL = "/hook" },
		"an ftp URL":        func(w *chatr.OutgoingWebhook) { w.URL = "ftp://example.com/" },
		"a URL with a user": func(w *chatr.OutgoingWebhook) { w.URL = "https://u:p@example.com/" },
		"a NUL":             func(w *chatr.OutgoingWebhook) { w.Name = "a\x00b" },
	} {
		w := hook("z", "g", at(0))
		change(&w)
		code(t, "CreateOutgoingWebhook with "+name, s.CreateOutgoingWebhook(ctx, w), chatr.EINVALID)
	}
	l, err := s.ListOutgoingWebhooks(ctx, "g")
	ok(t, "ListOutgoingWebhooks", err)
	exact(t, "ListOutgoingWebhooks after refusals", l, []chatr.OutgoingWebhook{hook("a", "g", at(0))})
}

func testOutgoingDelete(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	mustChat(t, s, group("h", at(0)))
	ok(t, "CreateOutgoingWebhook a", s.CreateOutgoingWebhook(ctx, hook("a", "g", at(0))))
	ok(t, "CreateOutgoingWebhook b", s.CreateOutgoingWebhook(ctx, hook("b", "g", at(time.Second))))
	code(t, "DeleteOutgoingWebhook through another chat", s.DeleteOutgoingWebhook(ctx, "h", "a"), chatr.ENOTFOUND)
	ok(t, "DeleteOutgoingWebhook", s.DeleteOutgoingWebhook(ctx, "g", "a"))
	code(t, "DeleteOutgoingWebhook again", s.DeleteOutgoingWebhook(ctx, "g", "a"), chatr.ENOTFOUND)
	code(t, "DeleteOutgoingWebhook of a missing chat", s.DeleteOutgoingWebhook(ctx, "missing", "b"), chatr.ENOTFOUND)
	l, err := s.ListOutgoingWebhooks(ctx, "g")
	ok(t, "ListOutgoingWebhooks", err)
	exact(t, "ListOutgoingWebhooks after delete", l, []chatr.OutgoingWebhook{hook("b", "g", at(time.Second))})
	ok(t, "CreateOutgoingWebhook a again", s.CreateOutgoingWebhook(ctx, hook("a", "h", at(0))))
}

func testOutgoingGoWithChat(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	ok(t, "CreateOutgoingWebhook", s.CreateOutgoingWebhook(ctx, hook("a", "g", at(0))))
	ok(t, "DeleteChat", s.DeleteChat(ctx, "g"))
	_, err := s.ListOutgoingWebhooks(ctx, "g")
	code(t, "ListOutgoingWebhooks of a deleted chat", err, chatr.ENOTFOUND)
	mustChat(t, s, group("g", at(time.Hour)))
	l, err := s.ListOutgoingWebhooks(ctx, "g")
	ok(t, "ListOutgoingWebhooks of the chat made again", err)
	exact(t, "webhooks of the chat made again", l, []chatr.OutgoingWebhook{})
	ok(t, "CreateOutgoingWebhook with the old ID", s.CreateOutgoingWebhook(ctx, hook("a", "g", at(time.Hour))))
}
