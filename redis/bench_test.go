package redis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatr/chatr/hub"
)

// BenchmarkBrokerPublish publishes group messages (200 bytes of JSON) from
// parallel goroutines and waits until a subscriber has received them all:
// the broker's throughput through Redis, per node.
func BenchmarkBrokerPublish(b *testing.B) {
	rdb, prefix := testRedis(b)
	br := newBroker(b, rdb, prefix)
	var got atomic.Int64
	if err := br.Subscribe(context.Background(), func(*hub.Command) { got.Add(1) }); err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"message":"` + string(make200()) + `","fromUserId":"guest:0123456789","fromUserName":"Alice","id":12345}`)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cmd := &hub.Command{Kind: hub.CmdSendToGroup, Group: "room", Message: &hub.Message{FromUserID: "guest:0123456789", Payload: hub.Payload{DataType: "json", Data: data}}}
			if err := br.Publish(context.Background(), cmd); err != nil {
				b.Error(err)
				return
			}
		}
	})
	for deadline := time.Now().Add(10 * time.Second); got.Load() < int64(b.N) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if n := got.Load(); n != int64(b.N) {
		b.Fatalf("received %d of %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func make200() []byte {
	b := make([]byte, 200)
	for i := range b {
		b[i] = 'x'
	}
	return b
}
