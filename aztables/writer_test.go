package aztables_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/aztables"
)

// TestWriterHonoursCallerDeadline: while the service does not answer, a
// caller's own deadline ends its wait (no caller runs the commit of others);
// its message, already in the transaction, may land, and the retry with its
// key then finds it instead of storing a copy.
func TestWriterHonoursCallerDeadline(t *testing.T) {
	s := open(t, connString(t))
	ctx := t.Context()
	if err := s.CreateChat(ctx, chatr.Chat{ID: "c", Name: "c", Owner: "guest:a"}); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	aztables.WrapSubmit(s, func(ctx context.Context, actions []sdk.TransactionAction, real aztables.Submit) error {
		if held.CompareAndSwap(false, true) {
			close(entered)
			<-release // the service holds the first transaction
		}
		return real(ctx, actions)
	})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	m := chatr.Message{ChatID: "c", FromUserID: "guest:a", Text: "hi", ClientID: "k"}
	_, err := s.AddMessage(short, m)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AddMessage while the service hangs: %v, want its own deadline", err)
	}
	<-entered
	close(release)
	retry, err := s.AddMessage(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.ListMessages(ctx, "c", chatr.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != retry.ID || all[0].ClientID != "k" {
		t.Fatalf("after a retry: stored %+v, retry answered %+v; want the one message", all, retry)
	}
}

// TestWriterLostAnswer: a transaction that took effect but whose answer was
// lost is recognised as ours, not written again: each message is stored
// once and acknowledged with its id, with or without a key.
func TestWriterLostAnswer(t *testing.T) {
	s := open(t, connString(t))
	ctx := t.Context()
	if err := s.CreateChat(ctx, chatr.Chat{ID: "c", Name: "c", Owner: "guest:a"}); err != nil {
		t.Fatal(err)
	}
	aztables.WrapSubmit(s, func(ctx context.Context, actions []sdk.TransactionAction, real aztables.Submit) error {
		if err := real(ctx, actions); err != nil {
			return err
		}
		return errors.New("injected: connection reset after the transaction")
	})
	var acked []int64
	for _, key := range []string{"k", ""} {
		m, err := s.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: "guest:a", Text: "key " + key, ClientID: key})
		if err != nil {
			t.Fatalf("AddMessage with key %q: %v", key, err)
		}
		if m.Duplicate {
			t.Errorf("AddMessage with key %q answered as a duplicate of itself", key)
		}
		acked = append(acked, m.ID)
	}
	all, err := s.ListMessages(ctx, "c", chatr.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []int64
	for _, m := range all {
		stored = append(stored, m.ID)
	}
	if len(stored) != 2 || stored[0] != acked[0] || stored[1] != acked[1] {
		t.Fatalf("stored ids %v, acknowledged %v; want each once", stored, acked)
	}
}
