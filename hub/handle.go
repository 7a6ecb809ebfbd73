package hub

import (
	"errors"
	"strings"
	"time"
)

// Role names (see PROTOCOL.md); a role may be suffixed with ".<group>".
const (
	roleJoinLeave = "webpubsub.joinLeaveGroup"
	roleSend      = "webpubsub.sendToGroup"
)

// Ack error names.
const (
	ackForbidden  = "Forbidden"
	ackDuplicate  = "Duplicate"
	ackBadRequest = "BadRequest"
	ackInternal   = "InternalServerError"
	// ackTooManyRequests answers a request over the connection's frame budget.
	ackTooManyRequests = "TooManyRequests"
)

// handle runs one client frame; it is called by the socket's reader.
func (s *session) handle(f *clientFrame) {
	switch f.Type {
	case typePing:
		s.sendFrame(pongJSON)
		return
	case typeSequenceAck:
		if s.info.Reliable {
			s.ackSequence(f.SequenceID)
		}
		return
	}
	arrived := time.Now().UnixNano()
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	if f.HasAck && s.acks.contains(f.AckID) {
		s.sendFrame(ackFrame(f.AckID, ackDuplicate, "Message with ackId "+uitoa(f.AckID)+" was already processed"))
		return
	}
	name, msg := s.do(f, arrived)
	if f.HasAck {
		// Only a success is remembered: the SDK retries a failed frame with
		// the same ackId and takes Duplicate for success, so a failure
		// recorded here would turn its retry into a silent loss.
		if name == "" {
			s.acks.record(f.AckID)
		}
		s.sendFrame(ackFrame(f.AckID, name, msg))
	}
}

// do executes a joinGroup, leaveGroup, sendToGroup or event; it returns the
// ack error ("" on success).
func (s *session) do(f *clientFrame, arrived int64) (name, message string) {
	h := s.h
	switch f.Type {
	case typeJoinGroup, typeLeaveGroup:
		if n, m := checkGroup(f.Group); n != "" {
			return n, m
		}
		if !hasRole(s.info.Roles, roleJoinLeave, f.Group) {
			return ackForbidden, "The connection has no permission to join or leave group " + f.Group
		}
		if f.Type == typeLeaveGroup {
			h.leave(s, f.Group)
			return "", ""
		}
		if err := h.hook("Join", func() error { return h.app.Join(h.ctx, s.info, f.Group) }); err != nil {
			return h.ackError(err)
		}
		h.join(s, f.Group)
		return "", ""

	case typeSendToGroup:
		if n, m := checkGroup(f.Group); n != "" {
			return n, m
		}
		if !hasRole(s.info.Roles, roleSend, f.Group) {
			return ackForbidden, "The connection has no permission to send to group " + f.Group
		}
		gm := &GroupMessage{Group: f.Group, NoEcho: f.NoEcho, AckID: f.AckID, HasAck: f.HasAck, Payload: f.Payload}
		if err := h.hook("Publish", func() error { return h.app.Publish(h.ctx, s.info, gm) }); err != nil {
			return h.ackError(err)
		}
		if gm.Sent {
			return "", ""
		}
		if err := validatePayload(&gm.Payload); err != nil {
			return h.ackError(err)
		}
		if gm.HTMLPayload != nil {
			if err := validatePayload(gm.HTMLPayload); err != nil {
				return h.ackError(err)
			}
		}
		m := &Message{FromUserID: s.info.UserID, Payload: gm.Payload, HTMLPayload: gm.HTMLPayload}
		if gm.NoEcho {
			m.ExcludeConn = s.info.ID
		}
		if err := h.publish(h.ctx, &Command{Kind: CmdSendToGroup, Group: f.Group, Message: m, At: arrived}); err != nil {
			return h.ackError(err)
		}
		return "", ""

	case typeEvent:
		ev := &Event{Name: f.Event, DataType: f.Payload.DataType, Data: f.Payload.Data}
		var reply *Payload
		err := h.hook("Event", func() (err error) {
			reply, err = h.app.Event(h.ctx, s.info, ev)
			return err
		})
		if err != nil {
			return h.ackError(err)
		}
		if reply != nil {
			if err := validatePayload(reply); err != nil {
				return h.ackError(err)
			}
			s.sendServerMessage(reply)
		}
		return "", ""
	}
	return ackBadRequest, "unsupported frame"
}

func checkGroup(g string) (name, message string) {
	switch {
	case g == "":
		return ackBadRequest, "group name is empty"
	case len(g) > maxGroupName:
		return ackBadRequest, "group name is too long"
	}
	return "", ""
}

// hasRole reports whether roles grant role for group: the role itself or
// the role suffixed with ".<group>".
func hasRole(roles []string, role, group string) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
		if rest, ok := strings.CutPrefix(r, role); ok && len(rest) == len(group)+1 && rest[0] == '.' && rest[1:] == group {
			return true
		}
	}
	return false
}

// hook runs an application hook, turning a panic into an error.
func (h *Hub) hook(name string, f func() error) (err error) {
	defer h.recoverHook(name, &err)
	return f()
}

// ackError maps a hook's error to an ack error: an *AckError as is, anything
// else as InternalServerError without its text.
func (h *Hub) ackError(err error) (name, message string) {
	var ae *AckError
	if errors.As(err, &ae) && ae.Name != "" {
		return ae.Name, ae.Message
	}
	h.log.Error("hub: request failed", "err", err)
	return ackInternal, "internal error"
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
