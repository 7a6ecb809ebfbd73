package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// lostAckStore stores the first message with a given text and then fails,
// as a COMMIT whose answer is lost does: the message is durable but the
// client sees an error and retries.
type lostAckStore struct {
	chatr.Store
	text string
	once sync.Once
}

func (s *lostAckStore) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	stored, err := s.Store.AddMessage(ctx, m)
	if err != nil || m.Text != s.text {
		return stored, err
	}
	lost := false
	s.once.Do(func() { lost = true })
	if lost {
		return chatr.Message{}, errors.New("connection reset after COMMIT")
	}
	return stored, nil
}

// The official SDK retries a send whose ack failed after the message was
// stored (same ackId, default retry options): the retry is answered with
// the first result, the SDK reports success, and the message is stored once.
func TestSDKRetryStoresOnce(t *testing.T) {
	sdkDir, _ := filepath.Abs(filepath.Join("..", "hub", "sdktest"))
	node, err := exec.LookPath("node")
	_, statErr := os.Stat(filepath.Join(sdkDir, "node_modules", "@azure", "web-pubsub-client", "package.json"))
	if err != nil || statErr != nil {
		msg := "node and hub/sdktest/node_modules (npm ci there) are needed for the SDK test"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	const text = "exactly once through the SDK"
	n := start(t, server.Config{WrapStore: func(s chatr.Store) chatr.Store { return &lostAckStore{Store: s, text: text} }})
	alice := n.Guest("Alice")
	c := alice.Connect(wsclient.Reliable)
	mustAck(t, c, "createChat", map[string]string{"name": "Once", "id": "once"})
	mustAck(t, c, "joinChat", "once")

	hubURL, _ := alice.Token()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "sdk_send.mjs"))
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdkDir, "HUB_URL="+hubURL, "GROUP=once", "TEXT="+text)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var res struct {
		OK    bool
		Error string
	}
	if err := json.Unmarshal(out, &res); err != nil || !res.OK {
		t.Fatalf("SDK sendToGroup: %s (%v), want success after its retry", out, err)
	}
	stored := 0
	for _, m := range alice.History("once") {
		if m.Message == text {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("message stored %d times, want once", stored)
	}
}

// A client that reconnects on a new connection and resends its pending
// message with the same clientId gets the first result (its id, by
// messageStored) and the members see the message once.
func TestResendAfterReconnectStoresOnce(t *testing.T) {
	n := start(t, server.Config{})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	ca := alice.Connect(wsclient.Reliable)
	mustAck(t, ca, "createChat", map[string]string{"name": "Resend", "id": "resend"})
	mustAck(t, ca, "joinChat", "resend")
	cb := bob.Connect(wsclient.Reliable)
	mustAck(t, cb, "joinChat", "resend")

	const clientID = "0b7e4b0e-58a5-4c67-9d1c-3f7a2c1e9d40"
	frame := map[string]any{"type": "sendToGroup", "group": "resend", "dataType": "json",
		"data": map[string]any{"message": "sent twice", "clientId": clientID}}
	if name := ackName(t, ca, frame); name != "" {
		t.Fatalf("first send: %s", name)
	}
	first := waitChat(t, cb, "resend", "sent twice")
	ca.Drop() // the ack may have been lost with the socket

	again := alice.Connect(wsclient.Reliable)
	if name := ackName(t, again, frame); name != "Duplicate" && name != "" {
		t.Fatalf("resend: ack %s, want Duplicate (success)", name)
	}
	d := testnode.WaitEvent(t, again, "messageStored", nil)
	var got struct {
		ChatID, ClientID string
		ID               int64
	}
	if err := json.Unmarshal([]byte(d), &got); err != nil || got.ID != first.ID || got.ChatID != "resend" || got.ClientID != clientID {
		t.Errorf("messageStored %s, want id %d of chat resend with its clientId", d, first.ID)
	}
	count := 0
	for _, m := range bob.History("resend") {
		if m.Message == "sent twice" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("stored %d times, want once", count)
	}
	// Bob saw it once live: the next frame of his in the chat is a new message.
	say(t, again, "resend", "after")
	var next chatMsg
	_, err := cb.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		next = chatMsg{}
		return f.Type == "message" && f.Group == "resend" && json.Unmarshal(f.Data, &next) == nil && next.Message != ""
	})
	if err != nil {
		t.Fatalf("next message for bob: %v", err)
	}
	if next.Message != "after" {
		t.Errorf("bob's next message %q, want \"after\" (the resend was fanned out again)", next.Message)
	}
}
