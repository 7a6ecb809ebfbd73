package hub

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzParseClientFrame checks that the client frame parser never panics and
// that whatever it accepts re-encodes as valid JSON (seed corpus in
// testdata/fuzz/FuzzParseClientFrame).
func FuzzParseClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"joinGroup","group":"g","ackId":1}`,
		`{"type":"leaveGroup","group":"g","ackId":2}`,
		`{"type":"sendToGroup","group":"g","ackId":3,"noEcho":true,"dataType":"json","data":{"a":[1,2]}}`,
		`{"type":"sendToGroup","group":"g","dataType":"text","data":"hi"}`,
		`{"type":"sendToGroup","group":"g","dataType":"binary","data":"AAH/"}`,
		`{"type":"event","event":"createChat","ackId":4,"dataType":"json","data":{"name":"x"}}`,
		`{"type":"sequenceAck","sequenceId":5}`,
		`{"type":"ping"}`,
		`{"type":"event"}`,
		`{"type":"nope"}`,
		`[]`,
		`{"type":"joinGroup","group":"\ud800","ackId":18446744073709551615}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseClientFrame(b)
		if err != nil {
			return
		}
		switch fr.Type {
		case typeJoinGroup, typeLeaveGroup, typeSendToGroup, typeEvent, typeSequenceAck, typePing:
		default:
			t.Fatalf("accepted unknown type %q", fr.Type)
		}
		if fr.Type != typeSendToGroup && fr.Type != typeEvent {
			return
		}
		if fr.Payload.DataType == DataJSON && !json.Valid(fr.Payload.Data) {
			t.Fatalf("json payload %q is not valid JSON", fr.Payload.Data)
		}
		body := messageBody(fromGroup, fr.Group, fr.Event, &fr.Payload)
		full := append([]byte{'{'}, body...)
		if !json.Valid(full) {
			t.Fatalf("re-encoded frame is not valid JSON: %s", full)
		}
		var back struct {
			Group    string          `json:"group"`
			DataType string          `json:"dataType"`
			Data     json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(full, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(fr.Group) && back.Group != fr.Group {
			t.Fatalf("group %q came back as %q", fr.Group, back.Group)
		}
		p, err := decodePayload(&back.DataType, back.Data)
		if err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		if fr.Payload.DataType != DataText || utf8.Valid(fr.Payload.Data) {
			if fr.Payload.DataType != DataJSON && string(p.Data) != string(fr.Payload.Data) {
				t.Fatalf("payload %q came back as %q", fr.Payload.Data, p.Data)
			}
		}
	})
}

// FuzzAppendJSONString checks the hand-written JSON string encoder against
// encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s\n\t\x00\x1f", "é\u2028\u2029", "\xff\xfe", "<a href='x'>&</a>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, b, err)
		}
		want := s
		if !utf8.ValidString(s) {
			want = string([]rune(s)) // invalid bytes become U+FFFD, as encoding/json does
		}
		if got != want {
			t.Fatalf("%q round-tripped as %q", s, got)
		}
	})
}
