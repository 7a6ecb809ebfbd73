package server_test

import "github.com/chatr/chatr/internal/testnode"

// The harness, by the short names these tests use.
type (
	node    = testnode.Node
	user    = testnode.Client
	chatMsg = testnode.ChatMsg
)

var (
	startNode = testnode.Start
	anon      = testnode.Anon
	guest     = testnode.Guest
	mustAck   = testnode.MustAck
	ackError  = testnode.AckName
	say       = testnode.Say
	waitChat  = testnode.WaitChat
	waitEvent = testnode.WaitEvent
)
