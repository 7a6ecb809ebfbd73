package cluster_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/wsclient"
)

// Delivery order across nodes (see docs/api.md): several senders on one
// node write to a chat at once; members on that node and on the others
// each receive the messages in id order, none missing. The broker keeps
// each node's publish order, and each node publishes a chat's messages in
// id order.
func TestClusterDeliveryInIDOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two chatr processes")
	}
	pgURL, redisURL, prefix := services(t)
	nodes := startNodes(t, buildChatr(t), pgURL, redisURL, prefix, 2)
	n1, n2 := nodes[0], nodes[1]
	chatID := "order-" + randomHex(4)
	owner := signIn(t, n1, "Owner")
	co, _ := owner.connect(n1)
	mustEvent(t, co, "createChat", map[string]string{"name": "Order", "id": chatID})
	mustEvent(t, co, "joinChat", chatID)
	reader := signIn(t, n2, "Reader")
	cr, _ := reader.connect(n2)
	mustEvent(t, cr, "joinChat", chatID)

	const senders, each = 3, 40
	var conns []*wsclient.Conn
	for i := 0; i < senders; i++ {
		u := signIn(t, n1, fmt.Sprintf("S%d", i))
		c, _ := u.connect(n1)
		mustEvent(t, c, "joinChat", chatID)
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if err := c.Send(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json",
					"data": map[string]any{"message": fmt.Sprintf("s%d-%d", i, j)}}); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for name, c := range map[string]*wsclient.Conn{"member on the senders' node": co, "member on another node": cr} {
		var ids []int64
		_, err := c.WaitFor(30*time.Second, func(f wsclient.Frame) bool {
			var m struct{ ID int64 }
			if f.Type == "message" && f.Group == chatID && json.Unmarshal(f.Data, &m) == nil && m.ID > 0 {
				ids = append(ids, m.ID)
			}
			return len(ids) == senders*each
		})
		if err != nil {
			t.Fatalf("%s got %d of %d messages: %v", name, len(ids), senders*each, err)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("%s: id %d after %d (out of order)", name, ids[i], ids[i-1])
			}
		}
	}
}
