package hub

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Client frame types (the "type" field of a client's JSON frame).
const (
	typeJoinGroup   = "joinGroup"
	typeLeaveGroup  = "leaveGroup"
	typeSendToGroup = "sendToGroup"
	typeEvent       = "event"
	typeSequenceAck = "sequenceAck"
	typePing        = "ping"
)

// Data types of payloads.
const (
	DataJSON     = "json"
	DataText     = "text"
	DataBinary   = "binary"
	DataProtobuf = "protobuf" // carried like binary (base64 in JSON)
)

// Errors of parseClientFrame; each closes the socket with 1007.
var (
	errMalformed   = errors.New("malformed JSON frame")
	errUnknownType = errors.New("unknown frame type")
	errMissing     = errors.New("missing field")
	errBadData     = errors.New("data does not match dataType")
)

// clientFrame is one parsed client frame.
type clientFrame struct {
	Type       string
	Group      string
	Event      string
	AckID      uint64
	HasAck     bool
	NoEcho     bool
	SequenceID uint64
	Payload    Payload // decoded: raw JSON, the text, or the bytes
}

type rawClientFrame struct {
	Type       *string         `json:"type"`
	Group      *string         `json:"group"`
	Event      *string         `json:"event"`
	AckID      *uint64         `json:"ackId"`
	NoEcho     *bool           `json:"noEcho"`
	DataType   *string         `json:"dataType"`
	Data       json.RawMessage `json:"data"`
	SequenceID *uint64         `json:"sequenceId"`
}

// parseClientFrame parses a client's text frame. The result does not alias b.
func parseClientFrame(b []byte) (clientFrame, error) {
	var f clientFrame
	var r rawClientFrame
	if len(b) == 0 || b[0] != '{' && !isSpace(b[0]) {
		return f, errMalformed
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return f, errMalformed
	}
	if r.Type == nil {
		return f, errMissing
	}
	f.Type = *r.Type
	if r.AckID != nil {
		f.AckID, f.HasAck = *r.AckID, true
	}
	switch f.Type {
	case typeJoinGroup, typeLeaveGroup:
		if r.Group == nil {
			return f, errMissing
		}
		f.Group = *r.Group
	case typeSendToGroup:
		if r.Group == nil {
			return f, errMissing
		}
		f.Group = *r.Group
		if r.NoEcho != nil {
			f.NoEcho = *r.NoEcho
		}
		p, err := decodePayload(r.DataType, r.Data)
		if err != nil {
			return f, err
		}
		f.Payload = p
	case typeEvent:
		if r.Event == nil {
			return f, errMissing
		}
		f.Event = *r.Event
		p, err := decodePayload(r.DataType, r.Data)
		if err != nil {
			return f, err
		}
		f.Payload = p
	case typeSequenceAck:
		if r.SequenceID == nil {
			return f, errMissing
		}
		f.SequenceID = *r.SequenceID
	case typePing:
	default:
		return f, errUnknownType
	}
	return f, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// decodePayload turns a frame's dataType and data into a Payload: raw JSON
// for json (null when absent), the string for text, the bytes for binary.
func decodePayload(dataType *string, data json.RawMessage) (Payload, error) {
	dt := DataJSON
	if dataType != nil {
		dt = *dataType
	}
	switch dt {
	case DataJSON:
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		return Payload{DataType: DataJSON, Data: data}, nil
	case DataText:
		var s string
		if len(data) == 0 || json.Unmarshal(data, &s) != nil {
			return Payload{}, errBadData
		}
		return Payload{DataType: DataText, Data: []byte(s)}, nil
	case DataBinary, DataProtobuf:
		var s string
		if len(data) == 0 || json.Unmarshal(data, &s) != nil {
			return Payload{}, errBadData
		}
		bs, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Payload{}, errBadData
		}
		return Payload{DataType: dt, Data: bs}, nil
	}
	return Payload{}, errBadData
}

// validatePayload checks a payload handed to a server-side call.
func validatePayload(p *Payload) error {
	switch p.DataType {
	case "", DataJSON:
		if len(p.Data) == 0 {
			return nil // sent as null
		}
		if !json.Valid(p.Data) {
			return errors.New("hub: payload data is not valid JSON")
		}
	case DataText:
		if !utf8.Valid(p.Data) {
			return errors.New("hub: text payload is not valid UTF-8")
		}
	case DataBinary, DataProtobuf:
	default:
		return errors.New("hub: unknown payload dataType " + strconv.Quote(p.DataType))
	}
	return nil
}

// WebSocket framing of server frames (RFC 6455 §5.2): servers never mask.
const (
	opText   = 0x1
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
	finBit   = 0x80
	maxWSHdr = 10 // 2 bytes + 8-byte extended length
	// reliablePrefix opens every message frame on the reliable protocol;
	// the sequence id and a comma follow it.
	reliablePrefix = `{"sequenceId":`
	// maxHead is the largest per-recipient head: WebSocket header plus
	// {"sequenceId":<20 digits>,
	maxHead = maxWSHdr + len(reliablePrefix) + 20 + 1
)

// appendWSHeader appends the header of a final unmasked frame of op with n
// payload bytes.
func appendWSHeader(b []byte, op byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, finBit|op, byte(n))
	case n <= 0xFFFF:
		return append(b, finBit|op, 126, byte(n>>8), byte(n))
	default:
		b = append(b, finBit|op, 127)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
}

// textFrame wraps a JSON payload in a complete text frame.
func textFrame(payload []byte) []byte {
	b := make([]byte, 0, maxWSHdr+len(payload))
	b = appendWSHeader(b, opText, len(payload))
	return append(b, payload...)
}

// controlFrame builds a complete control frame (payload at most 125 bytes).
func controlFrame(op byte, payload []byte) []byte {
	if len(payload) > 125 {
		payload = payload[:125]
	}
	b := make([]byte, 0, 2+len(payload))
	b = appendWSHeader(b, op, len(payload))
	return append(b, payload...)
}

// closeFrame builds a close frame with code and a reason cut to fit.
func closeFrame(code uint16, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, code)
	p = append(p, reason...)
	return controlFrame(opClose, p)
}

var (
	pingFrame = controlFrame(opPing, nil)
	pongJSON  = textFrame([]byte(`{"type":"pong"}`))
)

// Server frame kinds of message frames.
const (
	fromGroup  = "group"
	fromServer = "server"
)

// messageBody encodes a message frame's JSON without its opening brace:
// "type":"message",...}. The same body serves every recipient; each prepends
// "{" (non-reliable) or {"sequenceId":N, (reliable).
func messageBody(from, group, fromUserID string, p *Payload) []byte {
	n := len(p.Data) // json: as is
	switch p.DataType {
	case DataBinary, DataProtobuf:
		n = base64.StdEncoding.EncodedLen(len(p.Data)) + 2
	case DataText:
		n += n/16 + 2 // quotes and a few escapes
	}
	// 128 covers the fixed keys and values; names are counted twice for escapes.
	b := make([]byte, 0, 128+2*(len(group)+len(fromUserID))+n)
	b = append(b, `"type":"message","from":"`...)
	b = append(b, from...)
	b = append(b, '"')
	if from == fromGroup {
		b = append(b, `,"group":`...)
		b = appendJSONString(b, group)
		if fromUserID != "" {
			b = append(b, `,"fromUserId":`...)
			b = appendJSONString(b, fromUserID)
		}
	}
	dt := p.DataType
	if dt == "" {
		dt = DataJSON
	}
	b = append(b, `,"dataType":"`...)
	b = append(b, dt...)
	b = append(b, `","data":`...)
	b = appendPayloadData(b, dt, p.Data)
	return append(b, '}')
}

func appendPayloadData(b []byte, dt string, data []byte) []byte {
	switch dt {
	case DataText:
		return appendJSONString(b, string(data))
	case DataBinary, DataProtobuf:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, data)
		return append(b, '"')
	default:
		if len(data) == 0 {
			return append(b, "null"...)
		}
		return append(b, data...)
	}
}

// encodedMessage is one message encoded for every recipient of a fan-out.
type encodedMessage struct {
	body  []byte // "type":"message",...} shared by all recipients
	frame []byte // the whole frame for non-reliable recipients, built on first use
}

func newEncodedMessage(from, group, fromUserID string, p *Payload) *encodedMessage {
	return &encodedMessage{body: messageBody(from, group, fromUserID, p)}
}

// plainFrame returns the complete frame for a non-reliable recipient.
func (m *encodedMessage) plainFrame() []byte {
	if m.frame == nil {
		n := 1 + len(m.body)
		b := make([]byte, 0, maxWSHdr+n)
		b = appendWSHeader(b, opText, n)
		b = append(b, '{')
		m.frame = append(b, m.body...)
	}
	return m.frame
}

// reliableHead writes into dst the head that, followed by body, makes the
// complete frame of message seq on the reliable protocol; it returns its length.
func reliableHead(dst *[maxHead]byte, seq uint64, bodyLen int) int {
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], seq, 10)
	n := len(reliablePrefix) + len(d) + 1 + bodyLen
	b := appendWSHeader(dst[:0], opText, n)
	b = append(b, reliablePrefix...)
	b = append(b, d...)
	b = append(b, ',')
	return len(b)
}

// ackFrame encodes an ack; name "" means success.
func ackFrame(ackID uint64, name, message string) []byte {
	b := make([]byte, 0, 96+len(message))
	b = append(b, `{"type":"ack","ackId":`...)
	b = strconv.AppendUint(b, ackID, 10)
	if name == "" {
		b = append(b, `,"success":true}`...)
		return textFrame(b)
	}
	b = append(b, `,"success":false,"error":{"name":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	b = append(b, `}}`...)
	return textFrame(b)
}

// connectedFrame encodes the system connected frame.
func connectedFrame(userID, connID, reconnectionToken string) []byte {
	b := make([]byte, 0, 160+len(userID))
	b = append(b, `{"type":"system","event":"connected","userId":`...)
	if userID == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, userID)
	}
	b = append(b, `,"connectionId":`...)
	b = appendJSONString(b, connID)
	if reconnectionToken != "" {
		b = append(b, `,"reconnectionToken":`...)
		b = appendJSONString(b, reconnectionToken)
	}
	return textFrame(append(b, '}'))
}

// disconnectedFrame encodes the system disconnected frame.
func disconnectedFrame(reason string) []byte {
	b := make([]byte, 0, 64+len(reason))
	b = append(b, `{"type":"system","event":"disconnected","message":`...)
	b = appendJSONString(b, reason)
	return textFrame(append(b, '}'))
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
