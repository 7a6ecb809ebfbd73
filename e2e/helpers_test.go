// Package e2e_test holds Chatr's reliability and security tests: hostile
// input against every entry point, token forgery and cross-user access,
// SIGKILL crash rounds, a soak under connection churn and storage outages.
// Every test talks to a real node (server.Run on port 0, or the chatr
// binary) as a client would, through internal/testnode.
package e2e_test

import "github.com/chatr/chatr/internal/testnode"

// The harness, by the short names these tests use.
type (
	client  = testnode.Client
	chatMsg = testnode.ChatMsg
)

var (
	start          = testnode.Start
	anon           = testnode.Anon
	guest          = testnode.Guest
	mustAck        = testnode.MustAck
	ackName        = testnode.AckName
	event          = testnode.Event
	send           = testnode.Send
	say            = testnode.Say
	waitChat       = testnode.WaitChat
	freePort       = testnode.FreePort
	startProcess   = testnode.StartProcess
	postgresAdmin  = testnode.PostgresAdmin
	postgresSchema = testnode.PostgresSchema
	hubKey         = testnode.HubKey
)

const testSecret = testnode.Secret
