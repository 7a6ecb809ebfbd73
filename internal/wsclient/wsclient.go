// Package wsclient is a small Web PubSub JSON-protocol client for Chatr's
// end-to-end tests: it dials with a subprotocol, sends frames as JSON and
// collects the server's frames, remembering the close code.
package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Protocols.
const (
	JSON     = "json.webpubsub.azure.v1"
	Reliable = "json.reliable.webpubsub.azure.v1"
)

// Frame is one server frame, decoded loosely.
type Frame struct {
	Type         string          `json:"type"`
	Event        string          `json:"event"`
	From         string          `json:"from"`
	Group        string          `json:"group"`
	FromUserID   string          `json:"fromUserId"`
	DataType     string          `json:"dataType"`
	Data         json.RawMessage `json:"data"`
	AckID        uint64          `json:"ackId"`
	Success      bool            `json:"success"`
	Error        *struct{ Name, Message string }
	SequenceID   uint64 `json:"sequenceId"`
	UserID       string `json:"userId"`
	ConnectionID string `json:"connectionId"`
	ReconnToken  string `json:"reconnectionToken"`
	Raw          []byte `json:"-"`
}

// ServerEvent decodes a {"chatEvent","data"} server message.
func (f Frame) ServerEvent() (name, data string, ok bool) {
	if f.Type != "message" || f.From != "server" {
		return "", "", false
	}
	var ev struct {
		ChatEvent string `json:"chatEvent"`
		Data      string `json:"data"`
	}
	if json.Unmarshal(f.Data, &ev) != nil || ev.ChatEvent == "" {
		return "", "", false
	}
	return ev.ChatEvent, ev.Data, true
}

// Conn is a client connection.
type Conn struct {
	Protocol string
	conn     net.Conn
	wmu      sync.Mutex
	frames   chan Frame
	done     chan struct{}
	mu       sync.Mutex
	closeErr error
	ackID    uint64
	backlog  []Frame // frames passed over by WaitFor, still to be seen
}

// Dial opens a connection; a non-101 answer is returned as ws.StatusError.
func Dial(ctx context.Context, url, protocol string, header http.Header) (*Conn, error) {
	d := ws.Dialer{Protocols: []string{protocol}, Timeout: 5 * time.Second}
	if header != nil {
		d.Header = ws.HandshakeHeaderHTTP(header)
	}
	conn, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	c := &Conn{Protocol: hs.Protocol, conn: conn, frames: make(chan Frame, 4096), done: make(chan struct{})}
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	go c.readLoop(struct {
		io.Reader
		io.Writer
	}{r, &lockedWriter{c}})
	return c, nil
}

type lockedWriter struct{ c *Conn }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	return w.c.conn.Write(p)
}

func (c *Conn) readLoop(rw io.ReadWriter) {
	defer close(c.done)
	defer close(c.frames)
	for {
		b, op, err := wsutil.ReadServerData(rw)
		if err != nil {
			c.mu.Lock()
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		f := Frame{Raw: b}
		if op == ws.OpText {
			_ = json.Unmarshal(b, &f)
		}
		c.frames <- f
	}
}

// Send writes v as a JSON text frame.
func (c *Conn) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.SendRaw(ws.OpText, b)
}

// SendRaw writes one frame with the given opcode.
func (c *Conn) SendRaw(op ws.OpCode, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return wsutil.WriteClientMessage(c.conn, op, b)
}

// NextAckID returns a fresh ackId for this connection.
func (c *Conn) NextAckID() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackID++
	return c.ackID
}

// Next returns the next frame not yet seen, or an error when none comes
// within timeout or the connection closed.
func (c *Conn) Next(timeout time.Duration) (Frame, error) {
	c.mu.Lock()
	if len(c.backlog) > 0 {
		f := c.backlog[0]
		c.backlog = c.backlog[1:]
		c.mu.Unlock()
		return f, nil
	}
	c.mu.Unlock()
	return c.read(timeout)
}

func (c *Conn) read(timeout time.Duration) (Frame, error) {
	select {
	case f, ok := <-c.frames:
		if !ok {
			return Frame{}, fmt.Errorf("connection closed: %w", c.Err())
		}
		return f, nil
	case <-time.After(timeout):
		return Frame{}, errors.New("no frame within " + timeout.String())
	}
}

// WaitFor returns the first frame, seen or new, that satisfies match and
// consumes it; frames it passes over stay for later calls (so an event that
// arrives before the ack it caused is not lost to a test waiting for the ack).
func (c *Conn) WaitFor(timeout time.Duration, match func(Frame) bool) (Frame, error) {
	c.mu.Lock()
	for i, f := range c.backlog {
		if match(f) {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			c.mu.Unlock()
			return f, nil
		}
	}
	c.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return Frame{}, errors.New("no matching frame within " + timeout.String())
		}
		f, err := c.read(left)
		if err != nil {
			return Frame{}, err
		}
		if match(f) {
			return f, nil
		}
		c.mu.Lock()
		c.backlog = append(c.backlog, f)
		c.mu.Unlock()
	}
}

// Skip forgets every frame seen so far but not consumed.
func (c *Conn) Skip() {
	c.mu.Lock()
	c.backlog = nil
	c.mu.Unlock()
}

// Ack waits for the ack of ackID.
func (c *Conn) Ack(timeout time.Duration, ackID uint64) (Frame, error) {
	return c.WaitFor(timeout, func(f Frame) bool { return f.Type == "ack" && f.AckID == ackID })
}

// Call sends a frame with a fresh ackId and waits for its ack.
func (c *Conn) Call(frame map[string]any) (Frame, error) {
	id := c.NextAckID()
	frame["ackId"] = id
	if err := c.Send(frame); err != nil {
		return Frame{}, err
	}
	return c.Ack(5*time.Second, id)
}

// Event sends a user event and waits for its ack.
func (c *Conn) Event(name string, data any) (Frame, error) {
	dt := "json"
	if _, ok := data.(string); ok {
		dt = "text"
	}
	return c.Call(map[string]any{"type": "event", "event": name, "dataType": dt, "data": data})
}

// WaitClosed waits for the server to close the connection and returns the
// close code it sent (0 when the socket ended without a close frame).
func (c *Conn) WaitClosed(timeout time.Duration) (ws.StatusCode, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	c.Skip()
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			var ce wsutil.ClosedError
			if errors.As(c.Err(), &ce) {
				return ce.Code, nil
			}
			return 0, nil
		case <-timer.C:
			return 0, errors.New("not closed within " + timeout.String())
		}
	}
}

// Err is the error that ended the read loop, if it ended.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Close sends a close frame with code 1000 and closes the socket.
func (c *Conn) Close() error {
	c.wmu.Lock()
	_ = ws.WriteFrame(c.conn, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(time.Second):
	}
	return c.conn.Close()
}

// Drop closes the socket without a close frame, as a lost network would.
func (c *Conn) Drop() error { return c.conn.Close() }
