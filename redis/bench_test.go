package redis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/redis"
)

// BenchmarkBrokerPublish publishes group messages (200 bytes of JSON) from
// parallel goroutines and waits until a subscriber has received them all:
// the broker's publish-to-deliver throughput through Redis, per node, for
// the pub/sub broker of earlier releases and the stream broker, side by
// side in one run.
func BenchmarkBrokerPublish(b *testing.B) {
	brokers := []struct {
		name string
		new  func(rdb goredis.UniversalClient, cfg redis.BrokerConfig) hubBroker
	}{
		{"pubsub", func(rdb goredis.UniversalClient, cfg redis.BrokerConfig) hubBroker {
			return redis.NewPubSubBroker(rdb, cfg)
		}},
		{"streams", func(rdb goredis.UniversalClient, cfg redis.BrokerConfig) hubBroker { return redis.NewBroker(rdb, cfg) }},
	}
	for _, bk := range brokers {
		b.Run(bk.name, func(b *testing.B) {
			rdb, prefix := testRedis(b)
			br := bk.new(rdb, redis.BrokerConfig{Prefix: prefix})
			defer br.Close()
			benchmarkPublish(b, br)
		})
	}
}

type hubBroker interface {
	hub.Broker
	Close() error
}

func benchmarkPublish(b *testing.B, br hub.Broker) {
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
