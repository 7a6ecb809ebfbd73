package e2e_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// wsFrame encodes one client frame: masked unless unmasked is set.
func wsFrame(op ws.OpCode, fin bool, payload []byte, unmasked bool, rsv byte) []byte {
	var b []byte
	first := byte(op) | rsv<<4
	if fin {
		first |= 0x80
	}
	b = append(b, first)
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	case n <= 0xFFFF:
		b = append(b, mask|126, byte(n>>8), byte(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if !unmasked {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		b = append(b, key[:]...)
		ws.Cipher(p, key, 0)
	}
	return append(b, p...)
}

func text(s string) []byte { return wsFrame(ws.OpText, true, []byte(s), false, 0) }

// rawConn is a WebSocket connection that writes arbitrary bytes.
type rawConn struct {
	nc net.Conn
	rw io.ReadWriter
}

func dialRaw(t *testing.T, tokenURL string) *rawConn {
	t.Helper()
	d := ws.Dialer{Protocols: []string{wsclient.JSON}, Timeout: 5 * time.Second}
	nc, br, _, err := d.Dial(context.Background(), tokenURL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	return &rawConn{nc: nc, rw: struct {
		io.Reader
		io.Writer
	}{r, nc}}
}

// outcome reads the server's frames until the close frame or until want
// acks of ackId 7 have come, and returns those acks' error names ("ok" for
// success) and the close code (0 if the socket stayed open).
func (c *rawConn) outcome(t *testing.T, wantAcks int) (acks []string, closeCode int) {
	t.Helper()
	acks, closeCode, err := c.outcomeErr(wantAcks)
	if err != nil {
		t.Fatalf("reading: %v (acks so far %v)", err, acks)
	}
	return acks, closeCode
}

func (c *rawConn) outcomeErr(wantAcks int) (acks []string, closeCode int, _ error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		b, op, err := wsutil.ReadServerData(c.rw)
		if err != nil {
			var ce wsutil.ClosedError
			if errors.As(err, &ce) {
				return acks, int(ce.Code), nil
			}
			return acks, 0, err
		}
		if op != ws.OpText {
			continue
		}
		var f struct {
			Type    string
			AckID   json.Number
			Success bool
			Error   *struct{ Name string }
		}
		if json.Unmarshal(b, &f) != nil || f.Type != "ack" {
			continue
		}
		if f.AckID != "7" && f.AckID != "18446744073709551615" && f.AckID != "0" {
			continue
		}
		name := "ok"
		if !f.Success {
			name = f.Error.Name
		}
		acks = append(acks, name)
		if len(acks) == wantAcks {
			return acks, 0, nil
		}
	}
}

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// wsCase is one hostile WebSocket input and the answer it must get.
type wsCase struct {
	name  string
	raw   []byte
	acks  []string // expected ack error names of ackId 7, in order ("ok" = success)
	close int      // expected close code instead
}

// wsHostileCases is the catalogue, for a member of the chat "room" who is
// not a member of "elsewhere".
func wsHostileCases() []wsCase {
	ev := func(name, data string) string {
		return `{"type":"event","event":"` + name + `","ackId":7,"dataType":"json","data":` + data + `}`
	}
	evText := func(name, data string) string {
		return `{"type":"event","event":"` + name + `","ackId":7,"dataType":"text","data":` + data + `}`
	}
	sendData := func(data string) string {
		return `{"type":"sendToGroup","group":"room","ackId":7,"dataType":"json","data":` + data + `}`
	}
	big := strings.Repeat("x", 1<<20)
	return []wsCase{
		// Not a frame the JSON protocols know: 1007.
		{"malformed JSON", text(`{"type":`), nil, 1007},
		{"array", text(`[]`), nil, 1007},
		{"string", text(`"hello"`), nil, 1007},
		{"null", text(`null`), nil, 1007},
		{"empty text frame", text(``), nil, 1007},
		{"missing type", text(`{"group":"room","ackId":7}`), nil, 1007},
		{"type is a number", text(`{"type":1,"ackId":7}`), nil, 1007},
		{"unknown type", text(`{"type":"joinChat","ackId":7}`), nil, 1007},
		{"joinGroup without group", text(`{"type":"joinGroup","ackId":7}`), nil, 1007},
		{"group is a number", text(`{"type":"joinGroup","group":5,"ackId":7}`), nil, 1007},
		{"event without name", text(`{"type":"event","ackId":7}`), nil, 1007},
		{"event name is an object", text(`{"type":"event","event":{},"ackId":7}`), nil, 1007},
		{"ackId negative", text(`{"type":"joinGroup","group":"room","ackId":-1}`), nil, 1007},
		{"ackId float", text(`{"type":"joinGroup","group":"room","ackId":1.5}`), nil, 1007},
		{"ackId exponent", text(`{"type":"joinGroup","group":"room","ackId":1e3}`), nil, 1007},
		{"ackId overflow", text(`{"type":"joinGroup","group":"room","ackId":18446744073709551616}`), nil, 1007},
		{"ackId string", text(`{"type":"joinGroup","group":"room","ackId":"7"}`), nil, 1007},
		{"noEcho not a bool", text(`{"type":"sendToGroup","group":"room","noEcho":"yes","ackId":7,"data":{}}`), nil, 1007},
		{"sequenceId negative", text(`{"type":"sequenceAck","sequenceId":-5}`), nil, 1007},
		{"text data not a string", text(`{"type":"sendToGroup","group":"room","ackId":7,"dataType":"text","data":5}`), nil, 1007},
		{"binary data not base64", text(`{"type":"sendToGroup","group":"room","ackId":7,"dataType":"binary","data":"!!"}`), nil, 1007},
		{"unknown dataType", text(`{"type":"sendToGroup","group":"room","ackId":7,"dataType":"xml","data":"<a/>"}`), nil, 1007},
		{"nesting beyond the decoder's limit", text(sendData(nested(20000))), nil, 1007},
		{"invalid UTF-8", text("{\"type\":\"joinGroup\",\"group\":\"\xff\xfe\",\"ackId\":7}"), nil, 1007},
		{"truncated UTF-8", text("{\"type\":\"ping\",\"x\":\"\xe2\x82\"}"), nil, 1007},
		// Frames the hub does not take.
		{"binary frame", wsFrame(ws.OpBinary, true, []byte(`{"type":"ping"}`), false, 0), nil, 1003},
		{"message over 1 MiB", text(`{"type":"ping","x":"` + big + `"}`), nil, 1009},
		{"fragments over 1 MiB", append(wsFrame(ws.OpText, false, []byte(`{"x":"`+big[:600<<10]), false, 0),
			wsFrame(ws.OpContinuation, true, []byte(big[:600<<10]+`"}`), false, 0)...), nil, 1009},
		{"unmasked frame", wsFrame(ws.OpText, true, []byte(`{"type":"ping"}`), true, 0), nil, 1002},
		{"reserved bits", wsFrame(ws.OpText, true, []byte(`{"type":"ping"}`), false, 4), nil, 1002},
		{"reserved opcode", wsFrame(ws.OpCode(3), true, []byte(`{}`), false, 0), nil, 1002},
		{"control frame over 125 bytes", wsFrame(ws.OpPing, true, []byte(strings.Repeat("p", 126)), false, 0), nil, 1002},
		{"fragmented control frame", wsFrame(ws.OpPing, false, []byte("p"), false, 0), nil, 1002},
		{"continuation without a message", wsFrame(ws.OpContinuation, true, []byte(`{}`), false, 0), nil, 1002},
		{"new message inside a fragmented one", append(wsFrame(ws.OpText, false, []byte(`{"type":`), false, 0),
			text(`{"type":"ping"}`)...), nil, 1002},
		// Well-formed frames with bad content: an ack error, the socket stays.
		{"ping between fragments", append(append(wsFrame(ws.OpText, false, []byte(`{"type":"joinGroup",`), false, 0),
			wsFrame(ws.OpPing, true, []byte("p"), false, 0)...), wsFrame(ws.OpContinuation, true, []byte(`"group":"room","ackId":7}`), false, 0)...), []string{"ok"}, 0},
		{"ackId at the uint64 maximum", text(`{"type":"joinGroup","group":"room","ackId":18446744073709551615}`), []string{"ok"}, 0},
		{"ackId zero", text(`{"type":"joinGroup","group":"room","ackId":0}`), []string{"ok"}, 0},
		{"repeated ackId", append(text(`{"type":"leaveGroup","group":"room","ackId":7}`), text(`{"type":"joinGroup","group":"room","ackId":7}`)...), []string{"ok", "Duplicate"}, 0},
		{"unknown event", text(ev("dropTables", `{}`)), []string{"BadRequest"}, 0},
		{"huge event name", text(ev(strings.Repeat("e", 10000), `{}`)), []string{"BadRequest"}, 0},
		{"createChat data is a string", text(ev("createChat", `"Room"`)), []string{"BadRequest"}, 0},
		{"createChat data is an array", text(ev("createChat", `[{"name":"x"}]`)), []string{"BadRequest"}, 0},
		{"createChat without data", text(`{"type":"event","event":"createChat","ackId":7}`), []string{"BadRequest"}, 0},
		{"createChat name is a number", text(ev("createChat", `{"name":5}`)), []string{"BadRequest"}, 0},
		{"createChat name with NUL", text(ev("createChat", `{"name":"a\u0000b"}`)), []string{"BadRequest"}, 0},
		{"createChat name with a bidi override", text(ev("createChat", `{"name":"abc\u202egpj.exe"}`)), []string{"BadRequest"}, 0},
		{"createChat name too long", text(ev("createChat", `{"name":"`+strings.Repeat("n", 65)+`"}`)), []string{"BadRequest"}, 0},
		{"createChat id with a slash", text(ev("createChat", `{"name":"x","id":"a/b"}`)), []string{"BadRequest"}, 0},
		{"createChat id with dots", text(ev("createChat", `{"name":"x","id":"../room"}`)), []string{"BadRequest"}, 0},
		{"createChat id too long", text(ev("createChat", `{"name":"x","id":"`+strings.Repeat("i", 65)+`"}`)), []string{"BadRequest"}, 0},
		{"createChat private id", text(ev("createChat", `{"name":"x","id":"private_a_b"}`)), []string{"BadRequest"}, 0},
		{"createChat existing id", text(ev("createChat", `{"name":"Mine","id":"room"}`)), []string{"Duplicate"}, 0},
		{"joinChat data is an object", text(ev("joinChat", `{"id":"room"}`)), []string{"BadRequest"}, 0},
		{"joinChat empty id", text(evText("joinChat", `""`)), []string{"BadRequest"}, 0},
		{"joinChat id too long", text(evText("joinChat", `"`+strings.Repeat("i", 301)+`"`)), []string{"BadRequest"}, 0},
		{"joinChat unknown chat", text(evText("joinChat", `"nope"`)), []string{"NotFound"}, 0},
		{"joinChat id with NUL", text(evText("joinChat", `"room\u0000"`)), []string{"NotFound"}, 0},
		{"leaveChat chatId is a number", text(ev("leaveChat", `{"chatId":5}`)), []string{"BadRequest"}, 0},
		{"deleteChat id is a number", text(ev("deleteChat", `123`)), []string{"BadRequest"}, 0},
		{"deleteChat unknown chat", text(evText("deleteChat", `"nope"`)), []string{"NotFound"}, 0},
		{"createPrivateChat without target", text(ev("createPrivateChat", `{}`)), []string{"BadRequest"}, 0},
		{"createPrivateChat target is a list", text(ev("createPrivateChat", `{"targetUserId":["a"]}`)), []string{"BadRequest"}, 0},
		{"createPrivateChat unknown target", text(ev("createPrivateChat", `{"targetUserId":"guest:nobody"}`)), []string{"NotFound"}, 0},
		{"markRead messageId is a string", text(ev("markRead", `{"chatId":"room","messageId":"1"}`)), []string{"BadRequest"}, 0},
		{"markRead messageId negative", text(ev("markRead", `{"chatId":"room","messageId":-1}`)), []string{"BadRequest"}, 0},
		{"markRead messageId overflow", text(ev("markRead", `{"chatId":"room","messageId":1e30}`)), []string{"BadRequest"}, 0},
		{"markRead messageId float", text(ev("markRead", `{"chatId":"room","messageId":1.5}`)), []string{"BadRequest"}, 0},
		{"markRead unknown chat", text(ev("markRead", `{"chatId":"nope","messageId":1}`)), []string{"NotFound"}, 0},
		{"typing data is a string", text(evText("typing", `"room"`)), []string{"BadRequest"}, 0},
		{"typing in a chat one is not in", text(ev("typing", `{"chatId":"elsewhere"}`)), []string{"Forbidden"}, 0},
		{"idle with binary data", text(`{"type":"event","event":"userExitIdle","ackId":7,"dataType":"binary","data":"AAEC"}`), []string{"ok"}, 0},
		{"userConnected with junk", text(ev("userConnected", `{"userName":{"$gt":""},"userProvider":[1]}`)), []string{"ok"}, 0},
		{"event data nested deep", text(ev("createChat", `{"name":`+nested(5000)+`}`)), []string{"BadRequest"}, 0},
		{"send to empty group", text(`{"type":"sendToGroup","group":"","ackId":7,"data":{"message":"x"}}`), []string{"BadRequest"}, 0},
		{"send to a huge group name", text(`{"type":"sendToGroup","group":"` + strings.Repeat("g", 2000) + `","ackId":7,"data":{"message":"x"}}`), []string{"BadRequest"}, 0},
		{"send to a chat one is not in", text(`{"type":"sendToGroup","group":"elsewhere","ackId":7,"data":{"message":"x"}}`), []string{"Forbidden"}, 0},
		{"join a chat's group without joinChat", text(`{"type":"joinGroup","group":"elsewhere","ackId":7}`), []string{"Forbidden"}, 0},
		{"message data is a string", text(sendData(`"hi"`)), []string{"BadRequest"}, 0},
		{"message data is null", text(sendData(`null`)), []string{"BadRequest"}, 0},
		{"message field missing", text(sendData(`{}`)), []string{"BadRequest"}, 0},
		{"message is a number", text(sendData(`{"message":5}`)), []string{"BadRequest"}, 0},
		{"message is an object", text(sendData(`{"message":{"text":"x"}}`)), []string{"BadRequest"}, 0},
		{"message too long", text(sendData(`{"message":"` + strings.Repeat("m", 4097) + `"}`)), []string{"BadRequest"}, 0},
		{"message with NUL", text(sendData(`{"message":"a\u0000b"}`)), []string{"BadRequest"}, 0},
		{"message nested deep", text(sendData(`{"message":` + nested(5000) + `}`)), []string{"BadRequest"}, 0},
		{"message as text", text(`{"type":"sendToGroup","group":"room","ackId":7,"dataType":"text","data":"hi"}`), []string{"BadRequest"}, 0},
		{"message as binary", text(`{"type":"sendToGroup","group":"room","ackId":7,"dataType":"binary","data":"aGk="}`), []string{"BadRequest"}, 0},
	}
}

// TestBadWebSocketInput sends each hostile frame on a fresh socket of a
// member of the chat "room" and checks the answer: an ack error, or the
// close code of PROTOCOL.md. After each, another user still chats and the
// stored history is intact.
func TestBadWebSocketInput(t *testing.T) {
	n := start(t, server.Config{Limits: chat.Limits{ConnectionsPerUser: 1000, MessagesPerSecond: 1000, MessageBurst: 1000, EventsPerSecond: 1000, EventBurst: 1000}})
	alice, mallory := n.Guest("Alice"), n.Guest("Mallory")
	ca, cm := alice.Connect(wsclient.JSON), mallory.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Room", "id": "room"})
	mustAck(t, ca, "joinChat", "room")
	mustAck(t, cm, "joinChat", "room")
	mustAck(t, ca, "createChat", map[string]string{"name": "Elsewhere", "id": "elsewhere"})
	var want []string
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("before %d", i)
		say(t, ca, "room", msg)
		want = append(want, msg)
	}
	cm.Close()

	cases := wsHostileCases()
	tokenURL, _ := mallory.Token()
	canary := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, tokenURL)
			if _, err := c.nc.Write(tc.raw); err != nil && tc.close == 0 {
				t.Fatalf("write: %v", err)
			}
			acks, code := c.outcome(t, len(tc.acks))
			if tc.close != 0 {
				if code != tc.close {
					t.Errorf("close code %d (acks %v), want %d", code, acks, tc.close)
				}
			} else if code != 0 || strings.Join(acks, ",") != strings.Join(tc.acks, ",") {
				t.Errorf("acks %v, close %d; want acks %v and the socket open", acks, code, tc.acks)
			}
			c.nc.Close()
			// Others are still served, and what was stored is intact.
			canary++
			msg := fmt.Sprintf("canary %d", canary)
			say(t, ca, "room", msg)
			want = append(want, msg)
			got := alice.History("room")
			if len(got) != len(want) {
				t.Fatalf("history has %d messages, want %d", len(got), len(want))
			}
			for i, m := range got {
				if m.Message != want[i] || m.ID != int64(i+1) || m.FromUserID != alice.ID {
					t.Fatalf("history[%d] = %+v, want %q id %d from alice", i, m, want[i], i+1)
				}
			}
		})
	}
	var chats struct {
		Chats map[string]struct{ Name, Owner string }
	}
	alice.Do("GET", "/api/chats", nil, &chats)
	if len(chats.Chats) != 2 || chats.Chats["room"].Owner != alice.ID || chats.Chats["room"].Name != "Room" {
		t.Errorf("chats after the catalogue: %+v, want room and elsewhere, unchanged", chats.Chats)
	}
}

// rawHTTP sends bytes on a fresh TCP connection and returns the status
// line's code and the body (0 when the server closed without answering).
func rawHTTP(t *testing.T, addr string, req []byte) (int, http.Header, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(req); err != nil {
		t.Logf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0, nil, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestBadHTTPInput sends hostile requests to every HTTP entry point and
// checks the status and, for the API and sign-in, the JSON error. After
// each, a signed-in user still reads intact history.
func TestBadHTTPInput(t *testing.T) {
	n := start(t, server.Config{RequestsPerSecond: -1, SignInsPerMinute: -1})
	addr := strings.TrimPrefix(n.Base, "http://")
	alice := n.Guest("Alice")
	ca := alice.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Room", "id": "room"})
	mustAck(t, ca, "joinChat", "room")
	say(t, ca, "room", "kept")
	var cookie string
	u, _ := url.Parse(n.Base)
	for _, c := range alice.HTTP.Jar.Cookies(u) {
		cookie = c.Name + "=" + c.Value
	}

	type answer struct {
		status int
		code   string // the JSON error code, "" when the body need not be JSON
	}
	req := func(method, path, ctype, body string, headers ...string) []byte {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, addr)
		if ctype != "" {
			fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
		}
		if body != "" || method == "POST" {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
		}
		for _, h := range headers {
			b.WriteString(h + "\r\n")
		}
		b.WriteString("\r\n" + body)
		return []byte(b.String())
	}
	authed := "Cookie: " + cookie
	manyHeaders := make([]string, 0, 2000)
	for i := 0; i < 2000; i++ {
		manyHeaders = append(manyHeaders, fmt.Sprintf("X-Flood-%d: %s", i, strings.Repeat("v", 20)))
	}
	cases := []struct {
		name string
		raw  []byte
		want answer
	}{
		{"sign-in body over 64 KiB", req("POST", "/.auth/login/guest", "application/json", `{"name":"`+strings.Repeat("a", 70<<10)+`"}`), answer{400, "invalid"}},
		{"sign-in as text/plain", req("POST", "/.auth/login/guest", "text/plain", `{"name":"Eve"}`), answer{400, "invalid"}},
		{"sign-in without content type", req("POST", "/.auth/login/guest", "", `{"name":"Eve"}`), answer{400, "invalid"}},
		{"sign-in with bad JSON", req("POST", "/.auth/login/guest", "application/json", `{"name":`), answer{400, "invalid"}},
		{"sign-in with a JSON array", req("POST", "/.auth/login/guest", "application/json", `[{"name":"Eve"}]`), answer{400, "invalid"}},
		{"sign-in name is a number", req("POST", "/.auth/login/guest", "application/json", `{"name":5}`), answer{400, "invalid"}},
		{"sign-in name with NUL", req("POST", "/.auth/login/guest", "application/json", `{"name":"E\u0000ve"}`), answer{400, "invalid"}},
		{"sign-in name invalid UTF-8", req("POST", "/.auth/login/guest", "application/json", "{\"name\":\"\xff\"}"), answer{400, "invalid"}},
		{"sign-in nested deep", req("POST", "/.auth/login/guest", "application/json", `{"name":`+nested(20000)+`}`), answer{400, "invalid"}},
		{"sign-in form over 64 KiB", req("POST", "/.auth/login/guest", "application/x-www-form-urlencoded", "name="+strings.Repeat("a", 70<<10)), answer{400, "invalid"}},
		{"sign-in bad form", req("POST", "/.auth/login/guest", "application/x-www-form-urlencoded", "name=%zz"), answer{400, "invalid"}},
		{"sign-in multipart without boundary", req("POST", "/.auth/login/guest", "multipart/form-data", "name=Eve"), answer{400, "invalid"}},
		{"chunked sign-in body over 64 KiB", []byte("POST /.auth/login/guest HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 70<<10, `{"name":"`+strings.Repeat("a", (70<<10)-9))), answer{400, "invalid"}},
		{"negative Content-Length", []byte("POST /.auth/login/guest HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: -1\r\nConnection: close\r\n\r\n{}"), answer{400, ""}},
		{"two Content-Lengths", []byte("POST /.auth/login/guest HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{}"), answer{400, ""}},
		{"chunked and Content-Length (smuggling)", []byte("POST /.auth/login/guest HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nGET /api/chats HTTP/1.1\r\nHost: x\r\n\r\n"), answer{400, ""}},
		{"history of a path with ..", req("GET", "/api/chats/%2e%2e%2f%2e%2e/messages", "", "", authed), answer{404, "not_found"}},
		{"history of an encoded slash", req("GET", "/api/chats/room%2Fx/messages", "", "", authed), answer{404, "not_found"}},
		{"history of NUL", req("GET", "/api/chats/%00/messages", "", "", authed), answer{404, "not_found"}},
		{"history of invalid UTF-8", req("GET", "/api/chats/%ff%fe/messages", "", "", authed), answer{404, "not_found"}},
		{"history limit not a number", req("GET", "/api/chats/room/messages?limit=abc", "", "", authed), answer{400, "invalid"}},
		{"history limit huge", req("GET", "/api/chats/room/messages?limit=99999999999999999999", "", "", authed), answer{400, "invalid"}},
		{"history before negative", req("GET", "/api/chats/room/messages?before=-1", "", "", authed), answer{400, "invalid"}},
		{"history after overflow", req("GET", "/api/chats/room/messages?after=9223372036854775808", "", "", authed), answer{400, "invalid"}},
		{"history with a bad query escape", req("GET", "/api/chats/room/messages?limit=%zz", "", "", authed), answer{200, ""}}, // net/url drops a malformed pair
		// ServeMux cleans paths with a redirect to the same site.
		{"unknown API", req("GET", "/api/../api/admin", "", "", authed), answer{307, ""}},
		{"API with a wrong method", req("DELETE", "/api/chats", "", "", authed), answer{404, "not_found"}},
		{"API without a session", req("GET", "/api/chats", "", ""), answer{401, "unauthorized"}},
		{"API with a forged cookie", req("GET", "/api/chats", "", "", "Cookie: chatr_session=../../etc/passwd"), answer{401, "unauthorized"}},
		{"API with a forged client principal", req("GET", "/api/chats", "", "", "X-MS-Client-Principal: eyJ1c2VySWQiOiJhZG1pbiJ9"), answer{401, "unauthorized"}},
		{"sign-in path with ..", req("GET", "/.auth/x/../admin", "", ""), answer{307, ""}},
		{"static path with ..", req("GET", "/app/../../../../etc/passwd", "", ""), answer{307, ""}},
		{"unknown API endpoint", req("GET", "/api/admin", "", "", authed), answer{404, "not_found"}},
		{"unknown sign-in endpoint", req("GET", "/.auth/admin", "", ""), answer{404, "not_found"}},
		{"static path with encoded ..", req("GET", "/app/%2e%2e/%2e%2e/etc/passwd", "", ""), answer{404, ""}},
		{"static path with NUL", req("GET", "/index.html%00.js", "", ""), answer{404, ""}},
		{"static with a wrong method", req("POST", "/", "text/plain", "x"), answer{400, "invalid"}},
		{"headers over 32 KiB", req("GET", "/api/chats", "", "", "X-Big: "+strings.Repeat("h", 40<<10)), answer{431, ""}},
		{"2,000 headers", req("GET", "/api/chats", "", "", manyHeaders...), answer{431, ""}},
		{"URL over 32 KiB", req("GET", "/api/chats?x="+strings.Repeat("q", 40<<10), "", ""), answer{431, ""}},
		{"cookie over 32 KiB", req("GET", "/api/chats", "", "", "Cookie: chatr_session="+strings.Repeat("c", 40<<10)), answer{431, ""}},
		{"hub without upgrade", req("GET", "/client/hubs/chat", "", ""), answer{400, ""}},
		{"hub upgrade without token", req("GET", "/client/hubs/chat", "", "", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: json.webpubsub.azure.v1"), answer{401, ""}},
		{"hub upgrade with a junk token", req("GET", "/client/hubs/chat?access_token=a.b.c", "", "", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: json.webpubsub.azure.v1"), answer{401, ""}},
		{"hub of another name", req("GET", "/client/hubs/..%2Fchat", "", ""), answer{404, ""}},
		{"garbage request line", []byte("\x00\x01\x02 / HTTP/1.1\r\n\r\n"), answer{400, ""}},
		{"HTTP/0.9-style request", []byte("GET /\r\n\r\n"), answer{400, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := rawHTTP(t, addr, tc.raw)
			if status != tc.want.status {
				t.Errorf("status %d, want %d (body %.200q)", status, tc.want.status, body)
			}
			if loc := hdr.Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//")) {
				t.Errorf("redirect to %q leaves the site", loc)
			}
			if strings.Contains(body, "root:") {
				t.Errorf("body discloses a system file: %.200q", body)
			}
			if tc.want.code != "" {
				var e struct{ Error, Message string }
				if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &e) != nil ||
					e.Error != tc.want.code || e.Message == "" {
					t.Errorf("body %.200q (%s), want JSON error %q with a message", body, hdr.Get("Content-Type"), tc.want.code)
				}
			}
			// Still serving, data intact.
			if got := alice.History("room"); len(got) != 1 || got[0].Message != "kept" {
				t.Fatalf("history after %s: %+v", tc.name, got)
			}
		})
	}
}

// TestSlowClients: a client that sends its headers slowly, or its body
// slowly, is cut off by the server's timeouts, and others are served
// meanwhile.
func TestSlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the server's read timeouts")
	}
	t.Parallel() // mostly waiting
	n := start(t, server.Config{})
	addr := strings.TrimPrefix(n.Base, "http://")
	for _, tc := range []struct {
		name  string
		first string
		limit time.Duration
	}{
		{"slow headers", "GET /api/chats HTTP/1.1\r\nHost: x\r\nX-Slow: ", 10 * time.Second},
		{"slow body", "POST /.auth/login/guest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":\"", 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			began := time.Now()
			nc.Write([]byte(tc.first))
			// Trickle a byte every second; the server must hang up well
			// before the trickle would end.
			closed := make(chan struct{})
			go func() {
				io.Copy(io.Discard, nc)
				close(closed)
			}()
			ticker := time.NewTicker(time.Second)
			defer ticker.Stop()
			for {
				select {
				case <-closed:
					t.Logf("cut off after %v", time.Since(began).Round(time.Second))
					return
				case <-ticker.C:
					if time.Since(began) > tc.limit+10*time.Second {
						t.Fatalf("still connected after %v", time.Since(began))
					}
					nc.Write([]byte("a"))
					// Meanwhile others are served.
					resp, err := http.Get(n.Base + "/healthz")
					if err != nil || resp.StatusCode != 200 {
						t.Fatalf("healthz while a slow client hangs on: %v", err)
					}
					resp.Body.Close()
				}
			}
		})
	}
}

// TestWebSocketOutlivesHTTPTimeouts: the HTTP server's read (30 s) and
// write (60 s) timeouts end slow requests, not sockets: a socket that
// outlives both still sends and receives.
func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits a minute")
	}
	t.Parallel() // only waiting
	n := start(t, server.Config{})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	ca, cb := alice.Connect(wsclient.Reliable), bob.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Long", "id": "long"})
	mustAck(t, ca, "joinChat", "long")
	mustAck(t, cb, "joinChat", "long")
	time.Sleep(62 * time.Second)
	say(t, ca, "long", "a minute later")
	waitChat(t, cb, "long", "a minute later")
	say(t, cb, "long", "and back")
	waitChat(t, ca, "long", "and back")
}

// TestBadRecoveryParameters: recovery URLs with missing, forged, foreign
// or absurd parameters are upgraded and closed with 1008 (the SDK then
// starts afresh instead of believing it recovered); the real session is
// untouched.
func TestBadRecoveryParameters(t *testing.T) {
	n := start(t, server.Config{})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	u, _ := alice.Token()
	real, err := wsclient.Dial(context.Background(), u, wsclient.Reliable, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Drop()
	f, err := real.Next(5 * time.Second)
	if err != nil || f.ConnectionID == "" || f.ReconnToken == "" {
		t.Fatalf("connected frame %+v %v", f, err)
	}
	bobURL, _ := bob.Token()
	for _, tc := range []struct{ name, query string }{
		{"no token", "&awps_connection_id=" + f.ConnectionID},
		{"no connection id", "&awps_reconnection_token=" + url.QueryEscape(f.ReconnToken)},
		{"forged token", "&awps_connection_id=" + f.ConnectionID + "&awps_reconnection_token=AAAA"},
		{"huge token", "&awps_connection_id=" + f.ConnectionID + "&awps_reconnection_token=" + strings.Repeat("A", 16<<10)},
		{"unknown connection", "&awps_connection_id=nope&awps_reconnection_token=" + url.QueryEscape(f.ReconnToken)},
		{"both empty", "&awps_connection_id=&awps_reconnection_token="},
		{"repeated parameters", "&awps_connection_id=x&awps_connection_id=" + f.ConnectionID + "&awps_reconnection_token=" + url.QueryEscape(f.ReconnToken) + "&awps_reconnection_token=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// On bob's URL: another user's token must not matter either way.
			c, err := wsclient.Dial(context.Background(), bobURL+tc.query, wsclient.Reliable, nil)
			if err != nil {
				var se ws.StatusError
				if errors.As(err, &se) && (int(se) == 431 || int(se) == 400) && tc.name == "huge token" {
					return // refused before the upgrade: fine too
				}
				t.Fatalf("dial: %v", err)
			}
			if code, err := c.WaitClosed(5 * time.Second); err != nil || code != 1008 {
				t.Errorf("close %d (%v), want 1008", code, err)
			}
		})
	}
	// The real session still works.
	if _, err := real.Event("userExitIdle", ""); err != nil {
		t.Errorf("the real session after the attempts: %v", err)
	}
}

// TestConcurrentHostileSockets runs the catalogue from many sockets at
// once while two users chat: every hostile socket still gets its answer,
// every message of the two is acked and stored, and the sockets and
// goroutines of the attack are gone afterwards.
func TestConcurrentHostileSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("many sockets")
	}
	n := start(t, server.Config{RequestsPerSecond: -1, SignInsPerMinute: -1, ConnectionsPerIP: -1,
		Limits: chat.Limits{ConnectionsPerUser: 1000, MessagesPerSecond: 1e6, MessageBurst: 1e6, EventsPerSecond: 1e6, EventBurst: 1e6}})
	alice, bob, mallory := n.Guest("Alice"), n.Guest("Bob"), n.Guest("Mallory")
	ca, cb, cm := alice.Connect(wsclient.JSON), bob.Connect(wsclient.Reliable), mallory.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Room", "id": "room"})
	mustAck(t, ca, "createChat", map[string]string{"name": "Elsewhere", "id": "elsewhere"})
	for _, c := range []*wsclient.Conn{ca, cb, cm} {
		mustAck(t, c, "joinChat", "room")
	}
	cm.Close()
	tokenURL, _ := mallory.Token()
	time.Sleep(200 * time.Millisecond)
	baseline := metric(t, n.Base, "go_goroutines")

	cases := wsHostileCases()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrong []string
	for w := 0; w < 48; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 12; i++ {
				tc := cases[(w*12+i*7)%len(cases)]
				d := ws.Dialer{Protocols: []string{wsclient.JSON}, Timeout: 10 * time.Second}
				nc, br, _, err := d.Dial(context.Background(), tokenURL)
				if err != nil {
					mu.Lock()
					wrong = append(wrong, tc.name+": dial: "+err.Error())
					mu.Unlock()
					return
				}
				var r io.Reader = nc
				if br != nil {
					r = io.MultiReader(br, nc)
				}
				c := &rawConn{nc: nc, rw: struct {
					io.Reader
					io.Writer
				}{r, nc}}
				nc.Write(tc.raw)
				acks, code, err := c.outcomeErr(len(tc.acks))
				nc.Close()
				ok := err == nil && (tc.close != 0 && code == tc.close ||
					tc.close == 0 && code == 0 && strings.Join(acks, ",") == strings.Join(tc.acks, ","))
				if !ok {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%s: acks %v close %d (%v)", tc.name, acks, code, err))
					mu.Unlock()
				}
			}
		}()
	}
	// Meanwhile the two chat.
	var want []string
	for i := 0; i < 100; i++ {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		text := fmt.Sprintf("during the attack %d", i)
		if f, err := c.Call(send("room", text)); err != nil || !f.Success {
			t.Fatalf("message %d during the attack: %+v %v", i, f.Error, err)
		}
		want = append(want, text)
	}
	wg.Wait()
	for _, w := range wrong {
		t.Errorf("under concurrency: %s", w)
	}
	got := alice.History("room")
	if len(got) != len(want) {
		t.Fatalf("history has %d messages, want %d", len(got), len(want))
	}
	for i, m := range got {
		if m.Message != want[i] || m.ID != int64(i+1) {
			t.Fatalf("history[%d] = %+v, want %q id %d", i, m, want[i], i+1)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		conns, gr := metric(t, n.Base, "chatr_connections"), metric(t, n.Base, "go_goroutines")
		if conns == 2 && gr <= baseline+10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the attack: %v sockets (want 2), %v goroutines (baseline %v)", conns, gr, baseline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
