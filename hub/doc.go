// Package hub is Chatr's real-time core: a WebSocket server that speaks the
// Azure Web PubSub client protocols (json.webpubsub.azure.v1 and
// json.reliable.webpubsub.azure.v1) well enough for the official client SDK
// and the original browser client to work against it unchanged. It knows
// connections, users, groups, acks, permissions and session recovery; it
// knows nothing of chats: the application plugs in through Application
// (hooks) and the server-side calls on *Hub.
//
// # Shape
//
// Every server-side call (SendToGroup, AddUserToGroup, CloseConnection, ...)
// and every client sendToGroup becomes a Command that goes through the
// Broker and comes back to every node's deliver, which applies it to that
// node's connections. LocalBroker does this in process; a Redis broker can
// carry the same commands between nodes.
//
// A connection is a session (identity, groups, sequence numbers, unacked
// messages; it outlives a dropped socket on the reliable protocol) and, while
// connected, a socket. Each socket has one reader goroutine, which also runs
// the application's hooks for that connection one at a time (the Connected
// hook runs before it, on the upgrade's goroutine, so that an idle reader
// keeps its initial 2 KiB stack). Writing needs no goroutine per socket: a
// socket with newly queued frames goes on the hub's flush list, and a
// flusher (one per core at most, running only while the list is not empty)
// writes each listed socket's whole queue with one non-blocking writev,
// after yielding once so that publishers released together (a group commit)
// share that writev. With Config.FlushWindow (off by default, at most
// 20 ms) the flusher waits that long after the first frame of a burst, or
// until Config.FlushBytes are queued, so that at moderate rates, where
// messages come a few milliseconds apart, several still share one writev
// (Stats.Writes counts the system calls). Only a socket whose kernel
// buffer is full, or that is closing, gets a writer goroutine of its own,
// bounded by WriteWait without progress; an idle socket holds no queue
// memory (queue slices are pooled).
// A connection that cannot keep up hits its queue limit (or WriteWait) and
// is cut off (close 1008 on the non-reliable protocol; a reliable session is
// dropped to recovery, its messages kept in the unacked buffer) without
// slowing anybody else.
//
// Every member of a group gets the group's messages in one order: fan-outs
// to one group take turns (a lock per group name, striped), so that
// publishers delivering at once on this node (LocalBroker delivers on each
// publisher's goroutine) cannot interleave differently for different members.
//
// A message to a group is encoded once: the WebSocket frame is identical for
// every non-reliable recipient, and on the reliable protocol only a small
// head (frame header plus {"sequenceId":N,) differs per recipient while the
// rest of the frame is shared, so a 1,000-member fan-out copies no payload.
// A message may carry a second variant (Message.HTMLPayload, set by the
// application, GroupMessage.HTMLPayload by Publish) for connections whose
// client renders text as HTML (ConnInfo.HTMLText, set by Connect): each
// variant is encoded once per fan-out, the HTML one only if a recipient
// needs it, and a reliable session's unacked buffer keeps the variant it
// was sent, so a replay sends the same bytes.
// Group membership is a copy-on-write slice (joins append in place while
// there is room, which readers of the shorter slice never see), so fan-out
// holds no lock while it walks the members and never holds one while
// writing to a socket.
//
// # Batches
//
// The application can send bursts of small events (presence, membership
// changes) as one frame per connection per window instead of one frame per
// event: a Message with Batch set goes, on connections marked
// ConnInfo.Batches, into a per-connection pending batch of that name, and
// Config.BatchWindow (default 150 ms) after its first item the batch goes
// out as one from:"server" message {"batch":name,"items":[...]}. An item
// with a key replaces the pending item of the same key, so a user going
// online and offline within a window costs one item. Connections not marked
// get each message at once. The hub knows nothing of what the names and
// keys mean; the frame format is in api.go (Batch).
//
// # Why gobwas/ws
//
// github.com/gobwas/ws works at the frame level over the hijacked net.Conn:
// the upgrade only validates the request and writes the response (the
// hijacked bufio buffers are dropped at once), and it imposes no goroutine,
// buffer or mutex per connection. That lets the hub
// decide what an idle connection costs: one parked reader goroutine and a
// couple of small structs, with no read buffer (frame headers are read into a
// 12-byte array, payloads into pooled buffers that return to the pool after
// each message and are never grown on a length the peer merely declared) and
// no write buffer (the writer gathers the queued frames with writev).
// coder/websocket and gorilla/websocket keep a bufio reader and writer (4 KiB
// or more each) per connection for its whole life, serialise writes through
// their own locks and, in coder's case, run extra goroutines per connection;
// neither lets frames be queued pre-encoded and shared between recipients.
// lxzan/gws is fast but owns the read loop and the write queue itself, which
// would hide the per-session sequencing and the slow-consumer policy that
// this package must control. gorilla is also barely maintained.
//
// # Presence
//
// A client that closes its socket with a close frame saying it leaves
// (1000; 1001 from a tab that closes or navigates; none, seen as 1005, from
// the SDK's stop()) has left: its session ends at once and Disconnected runs
// right away, on the reliable protocol too. A socket lost without a close
// frame, cut off by the hub for not reading, or closed by the client with
// another code (an error it saw, or an application code such as the Chatr
// client's 4000 "dropped by hand" and 4001 "server silent", after which it
// recovers) keeps its reliable session for RecoveryWindow.
//
// # Budgets
//
// Every client frame, of every type (ping, sequenceAck, joinGroup,
// leaveGroup, sendToGroup, event), spends one token of its connection's
// bucket (Config.FrameRate per second, Config.FrameBurst at once; defaults
// 500/s and 1000), checked when the frame is parsed, before any hook or
// store access. A frame over budget is not executed: a joinGroup,
// leaveGroup, sendToGroup or event with an ackId is acked with error
// TooManyRequests; a ping, a sequenceAck or a request without ackId is
// dropped. Refusals are forgiven at a tenth of FrameRate; a connection with
// more than twice FrameBurst refusals outstanding is abusing and is closed
// with 1008 (its session ends).
//
// A message being received (one frame arriving slowly, or a fragmented
// message) is bounded three ways: per connection by Config.MaxFrameBytes
// (one such message at a time, close 1009 above it); per node by
// Config.UnfinishedBytes (default 64 MiB) for the bytes beyond 4 KiB of every
// message being received, counted before they are read (the connection that
// would pass it is closed with 1013, Try Again Later); and in time: a
// message that is fragmented or bigger than 4 KiB must be whole within
// Config.MessageWait (default 30 s) of its first frame, however often
// continuations trickle in, or the socket is closed with 1008.
//
// A protocol violation (malformed JSON, unknown type, missing field: 1007;
// a binary frame: 1003; an oversized message: 1009) ends the session: no
// recovery. The hub then reads and drops input until the client's close
// frame, because closing a TCP socket with unread input resets it and the
// client would never see the close code.
//
// Outbound bytes are bounded too (shed.go): every frame queued to a socket
// is charged, until written or dropped, to that socket and to the node. A
// socket over Config.MaxQueuedBytes (default 16 MiB) is cut off like any
// slow consumer; a node over Config.NodeQueuedBytes (default 256 MiB)
// sheds the sockets that hold the most, which are the ones that read the
// least, until it is back under seven eighths of it (Stats.Shed,
// Stats.QueuedBytes). A shed socket is closed as a slow consumer is: 1008
// on the non-reliable protocol, a dropped socket (the session recovers) on
// the reliable one. A fan-out is charged per recipient, so the count is an
// upper bound of the memory held, and the node passes its budget by at
// most one fan-out before it sheds.
//
// # Timing
//
// Config.PingInterval (default 30 s): a WebSocket ping goes to every socket
// that has sent nothing for that long; browsers answer it by themselves, so a
// healthy connection that sends no application pings is never closed. A
// socket silent for pongWait (2.5 × PingInterval) is treated as lost.
// Config.WriteWait (default 10 s) is about progress, not size: a write
// that moves bytes earns another WriteWait, so a slow but steady reader gets
// a replay of any size, while a socket that takes no byte for WriteWait is
// cut off. Config.RecoveryWindow (default 60 s) is how long a dropped
// reliable session can be recovered.
//
// Close returns once every session has ended and every hook (Connect,
// Disconnected, ...) has returned: a session is counted from before its
// Connect hook until its Disconnected hook returns, so the application may
// close its store right after.
package hub
