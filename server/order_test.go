package server_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// Several senders write to one chat at once (the store commits their
// messages in groups): every member receives the chat's messages in the
// order of their ids, with none missing.
func TestDeliveryInIDOrder(t *testing.T) {
	n := startNode(t, server.Config{Limits: chat.Limits{MessagesPerSecond: 1e6, MessageBurst: 1e6}})
	owner := n.Guest("Owner")
	co := owner.Connect(wsclient.Reliable)
	mustAck(t, co, "createChat", map[string]string{"name": "Order", "id": "order"})
	mustAck(t, co, "joinChat", "order")
	const senders, each = 4, 40
	var conns []*wsclient.Conn
	for i := 0; i < senders; i++ {
		u := n.Guest(fmt.Sprintf("S%d", i))
		c := u.Connect(wsclient.Reliable)
		mustAck(t, c, "joinChat", "order")
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pipelined: each sender has many messages in flight at once.
			for j := 0; j < each; j++ {
				if err := c.Send(map[string]any{"type": "sendToGroup", "group": "order", "dataType": "json",
					"data": map[string]any{"message": fmt.Sprintf("s%d-%d", i, j)}}); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for r, c := range append(conns, co) {
		var ids []int64
		_, err := c.WaitFor(20*time.Second, func(f wsclient.Frame) bool {
			var m chatMsg
			if f.Type == "message" && f.Group == "order" && json.Unmarshal(f.Data, &m) == nil && m.ID > 0 {
				ids = append(ids, m.ID)
			}
			return len(ids) == senders*each
		})
		if err != nil {
			t.Fatalf("receiver %d got %d of %d messages: %v", r, len(ids), senders*each, err)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("receiver %d: id %d after %d (out of order): %v", r, ids[i], ids[i-1], ids)
			}
		}
	}
}
