package main

import (
	"flag"
	"strings"

	"github.com/chatr/chatr/outgoing"
	"github.com/chatr/chatr/server"
)

// outgoingFlags defines the flags of outgoing webhooks.
func outgoingFlags(fs *flag.FlagSet, o *server.Outgoing) {
	fs.Func("allow-private-webhooks", "internal addresses outgoing webhooks may call, comma-separated: CIDR ranges (10.0.0.0/8), addresses (127.0.0.1) or host:port (ci.internal:8080); loopback, link-local, private, CGNAT, multicast and unspecified addresses are refused otherwise", func(v string) error {
		o.AllowPrivate = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				o.AllowPrivate = append(o.AllowPrivate, a)
			}
		}
		_, err := outgoing.NewGuard(o.AllowPrivate)
		return err
	})
	fs.IntVar(&o.Workers, "webhook-workers", outgoing.DefaultWorkers, "outgoing webhook calls in flight at once")
	fs.IntVar(&o.Queue, "webhook-queue", outgoing.DefaultQueue, "messages waiting for an outgoing webhook call; more are dropped (chatr_outgoing_webhook_dropped_total)")
	fs.DurationVar(&o.Timeout, "webhook-timeout", outgoing.DefaultTimeout, "one outgoing webhook call, answer included")
}
