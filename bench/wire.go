// Package bench is Chatr's load generator: a lean WebSocket client that
// keeps thousands of connections on one epoll loop, the load scenarios
// (idle, fanout, rooms, churn, slow, moderate), the storms (joinstorm,
// reconnect) and the raw-TCP baselines they are compared with.
// cmd/chatr-bench wires it to flags.
//
// It speaks the Web PubSub JSON protocols from raw file descriptors: a
// connection costs a file descriptor and one small struct, no goroutine and
// no buffer while idle, and one read(2) gathers every frame a socket holds.
package bench

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// WebSocket opcodes.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// clientFrame returns a masked text frame. The mask key is zero, which RFC
// 6455 allows: the payload goes out unchanged and costs no XOR.
func clientFrame(op byte, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+14)
	return appendClientFrame(b, op, payload)
}

func appendClientFrame(b []byte, op byte, payload []byte) []byte {
	n := len(payload)
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, 0, 0, 0, 0) // mask key
	return append(b, payload...)
}

// serverFrame is an unmasked frame as a server writes it (the baseline).
func serverFrame(payload []byte) []byte {
	n := len(payload)
	b := []byte{0x80 | opText}
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// nextFrame splits the first complete frame off b: its opcode and payload,
// and how many bytes it took. n == 0 means b holds no complete frame.
func nextFrame(b []byte) (op byte, payload []byte, n int) {
	if len(b) < 2 {
		return 0, nil, 0
	}
	op = b[0] & 0x0F
	masked := b[1]&0x80 != 0
	l := int(b[1] & 0x7F)
	h := 2
	switch l {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0
		}
		l, h = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, 0
		}
		l, h = int(binary.BigEndian.Uint64(b[2:])), 10
	}
	if masked {
		h += 4 // servers do not mask; skip the key if one ever does
	}
	if len(b) < h+l {
		return 0, nil, 0
	}
	return op, b[h : h+l], h + l
}

// Bench messages carry "B<sched>:<sender>:<seq>:<step>:" in their text:
// the time the open-loop schedule meant them to be sent (unix nanos), the
// sender's index within its chat (for order checks), the sender's sequence
// number and the load step they belong to.
var benchMarker = []byte(`"message":"B`)

// benchText builds a chat message text of exactly size bytes.
func benchText(dst []byte, sched int64, sender, seq, step, size int) []byte {
	dst = append(dst[:0], 'B')
	dst = strconv.AppendInt(dst, sched, 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(sender), 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(step), 10)
	dst = append(dst, ':')
	for len(dst) < size {
		dst = append(dst, 'x')
	}
	return dst
}

// benchFields parses the fields benchText wrote, from a frame's payload.
func benchFields(p []byte) (sched int64, sender, seq, step int, ok bool) {
	i := bytes.Index(p, benchMarker)
	if i < 0 {
		return 0, 0, 0, 0, false
	}
	p = p[i+len(benchMarker):]
	var v [4]int64
	for k := range v {
		j := 0
		var x int64
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			x = x*10 + int64(p[j]-'0')
			j++
		}
		if j == 0 || j >= len(p) || p[j] != ':' {
			return 0, 0, 0, 0, false
		}
		v[k] = x
		p = p[j+1:]
	}
	return v[0], int(v[1]), int(v[2]), int(v[3]), true
}

// uintField returns the unsigned number after key (such as `"ackId":`).
func uintField(p, key []byte) (uint64, bool) {
	i := bytes.Index(p, key)
	if i < 0 {
		return 0, false
	}
	p = p[i+len(key):]
	var x uint64
	j := 0
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		x = x*10 + uint64(p[j]-'0')
		j++
	}
	return x, j > 0
}

var (
	keyChatEvent = []byte(`"chatEvent":"`)
	keyBatch     = []byte(`"batch":"`)
	keyUserID    = []byte(`userId`)
	fromServer   = []byte(`"from":"server"`)
	textData     = []byte(`"dataType":"text"`)
)

// chatEvent names a server message: its chatEvent ("userOnline",
// "memberJoined", ...), "announcement" for a text message to a group, or ""
// for anything else. Batched forms that keep the event's name count once.
func chatEvent(p []byte) string {
	if i := bytes.Index(p, keyChatEvent); i >= 0 {
		rest := p[i+len(keyChatEvent):]
		if j := bytes.IndexByte(rest, '"'); j > 0 && j < 64 {
			return string(rest[:j])
		}
	}
	if bytes.Contains(p, textData) && !bytes.Contains(p, benchMarker) {
		return "announcement"
	}
	if bytes.Contains(p, fromServer) {
		return "other server message"
	}
	return ""
}

// eachUserID calls f with every user id in p: every `userId` key, whether
// the event's data is an escaped JSON string (as the original protocol
// sends it) or an object, so that a batched presence frame counts each user.
func eachUserID(p []byte, f func(id []byte)) {
	for {
		i := bytes.Index(p, keyUserID)
		if i < 0 {
			return
		}
		p = p[i+len(keyUserID):]
		// Skip `\":\"` or `":"`.
		j := 0
		for j < len(p) && j < 8 && (p[j] == '\\' || p[j] == '"' || p[j] == ':' || p[j] == ' ') {
			j++
		}
		p = p[j:]
		k := 0
		for k < len(p) && p[k] != '"' && p[k] != '\\' {
			k++
		}
		if k > 0 {
			f(p[:k])
		}
		p = p[k:]
	}
}
