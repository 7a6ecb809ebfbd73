package aztables

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// --- edits, deletions, reactions, replies and mentions
//
// A message row carries its replyTo, its mentions (JSON, split like the
// text), edited and deleted times, and the summary of its reactions that
// ListMessages returns ("reactions", JSON of []chatr.Reaction, split like
// the text) with "reactSeq", the number of reactions ever made on it. Each
// user's reaction is a row of its own, "~react~<id>~<emoji>~<user>" with
// its seq, so that the summary can list the next user when a listed one
// takes theirs back. Every change rewrites the message row under its ETag
// in the same transaction as the reaction row, so changes to one message
// are serialised across writers, and the summary and the rows agree.

const reactPrefix = "~react~"

// reactRow is the RowKey of a user's reaction; escaped like keyRow.
func reactRow(id int64, emoji, userID string) string {
	esc := func(s string) string { return strings.ReplaceAll(key(s), "~", "%7E") }
	return reactPrefix + rowID(id) + "~" + esc(emoji) + "~" + esc(userID)
}

// reactRange is the filter of the reaction rows of message id whose emoji
// part starts with emojiPrefix ("" for all).
func reactRange(ck string, id int64, emojiPrefix string) string {
	lo := reactPrefix + rowID(id) + "~" + emojiPrefix
	hi := reactPrefix + rowID(id) + "\x7f"
	if emojiPrefix != "" {
		hi = lo[:len(lo)-1] + "\x7f" // emojiPrefix ends with "~"
	}
	return "PartitionKey eq " + quote(ck) + " and RowKey ge " + quote(lo) + " and RowKey lt " + quote(hi)
}

// setChunked stores text over name, name1, name2, ..., each at most
// textChunk runes, and removes chunks a longer value left.
func setChunked(e map[string]any, name, text string) {
	for i := 1; ; i++ {
		if _, ok := e[name+strconv.Itoa(i)]; !ok {
			break
		}
		delete(e, name+strconv.Itoa(i))
	}
	for i := 0; ; i++ {
		n := name
		if i > 0 {
			n += strconv.Itoa(i)
		}
		if utf8.RuneCountInString(text) <= textChunk {
			e[n] = text
			return
		}
		cut := 0
		for range textChunk {
			_, w := utf8.DecodeRuneInString(text[cut:])
			cut += w
		}
		e[n] = text[:cut]
		text = text[cut:]
	}
}

// chunked reads what setChunked stored.
func chunked(e entity, name string) string {
	var text strings.Builder
	text.WriteString(e.str(name))
	for i := 1; ; i++ {
		part, ok := e[name+strconv.Itoa(i)]
		if !ok {
			break
		}
		var s string
		json.Unmarshal(part, &s)
		text.WriteString(s)
	}
	return text.String()
}

// setExtras stores what AddMessage adds to a new message.
func setExtras(e map[string]any, m chatr.Message) {
	if m.ReplyTo != 0 {
		setInt64(e, "replyTo", m.ReplyTo)
	}
	setMentions(e, m.Mentions)
}

func setMentions(e map[string]any, m chatr.Mentions) {
	if m.IsZero() {
		setChunked(e, "mentions", "")
		delete(e, "mentions")
		e["mentionAll"] = false
		return
	}
	b, _ := json.Marshal(m)
	setChunked(e, "mentions", string(b))
	e["mentionAll"] = m.All
}

// summary is a Reaction as the message row keeps it: with the seq of each
// listed user, so that emoji can be ordered by their earliest reaction
// still there, as the other stores order them.
type summary struct {
	chatr.Reaction
	Seqs []int64 `json:"seqs"`
}

func summaryOf(props map[string]any) []summary {
	var ss []summary
	if s := chunked(asEntity(props), "reactions"); s != "" {
		json.Unmarshal([]byte(s), &ss)
	}
	return ss
}

func reactionsOf(ss []summary) []chatr.Reaction {
	var rs []chatr.Reaction
	for _, s := range ss {
		rs = append(rs, s.Reaction)
	}
	return rs
}

func setReactions[T any](e map[string]any, rs []T) {
	if len(rs) == 0 {
		setChunked(e, "reactions", "")
		delete(e, "reactions")
		return
	}
	b, _ := json.Marshal(rs)
	setChunked(e, "reactions", string(b))
}

// extrasOf reads what setExtras and the MessageStore methods stored.
func extrasOf(e entity, m *chatr.Message) {
	m.ReplyTo = e.int64v("replyTo")
	if s := chunked(e, "mentions"); s != "" {
		json.Unmarshal([]byte(s), &m.Mentions)
	}
	if s := chunked(e, "reactions"); s != "" {
		json.Unmarshal([]byte(s), &m.Reactions)
	}
	if _, ok := e["edited"]; ok {
		m.Edited = e.time("edited")
	}
	if _, ok := e["deleted"]; ok {
		m.Deleted, m.DeletedAt = true, e.time("deleted")
	}
}

// checkReplies answers EINVALID to the messages whose ReplyTo is above the
// chat's last id before the batch, and returns the others: ids are dense
// from 1 and messages are never removed, so every id up to it is a message.
func checkReplies(fresh []*pendingMessage, last int64) []*pendingMessage {
	kept := fresh[:0:0]
	for _, p := range fresh {
		if p.m.ReplyTo > last {
			p.err = chatr.Errorf(chatr.EINVALID, "no message %d to reply to", p.m.ReplyTo)
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

// messageRow reads a message's row for a change: its properties (without
// the service's metadata), its ETag, and the message. ENOTFOUND for a
// missing chat or message.
func (s *Store) messageRow(ctx context.Context, chatID string, id int64) (map[string]any, azcore.ETag, chatr.Message, error) {
	if !textOK(chatID) || id < 1 {
		return nil, "", chatr.Message{}, chatr.Errorf(chatr.ENOTFOUND, "no message %d in chat %q", id, chatID)
	}
	r, err := s.messages.GetEntity(ctx, key(chatID), rowID(id), nil)
	if notFound(err) {
		return nil, "", chatr.Message{}, chatr.Errorf(chatr.ENOTFOUND, "no message %d in chat %q", id, chatID)
	}
	if err != nil {
		return nil, "", chatr.Message{}, fmt.Errorf("aztables: read message: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return nil, "", chatr.Message{}, err
	}
	props := make(map[string]any, len(e))
	for k, v := range e {
		if !strings.HasPrefix(k, "odata.") && k != "Timestamp" && k != "Timestamp@odata.type" {
			props[k] = v
		}
	}
	return props, r.ETag, messageOf(chatID, e), nil
}

// rewrite replaces the message row if it is still at etag; false when
// another writer changed it first.
func (s *Store) rewrite(ctx context.Context, props map[string]any, etag azcore.ETag) (bool, error) {
	_, err := s.messages.UpdateEntity(ctx, marshal(props), &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
	if stale(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("aztables: update message: %w", err)
	}
	return true, nil
}

func (s *Store) GetMessage(ctx context.Context, chatID string, id int64) (chatr.Message, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	_, _, m, err := s.messageRow(ctx, chatID, id)
	return m, err
}

func (s *Store) EditMessage(ctx context.Context, e chatr.MessageEdit) (chatr.Message, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if e.Text == "" {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "an edit needs a text")
	}
	if !textOK(e.Text) {
		return chatr.Message{}, errText()
	}
	if err := chatr.CheckMentions(e.Mentions); err != nil {
		return chatr.Message{}, err
	}
	e.Mentions = chatr.NormalMentions(e.Mentions)
	for range maxRetries {
		props, etag, m, err := s.messageRow(ctx, e.ChatID, e.ID)
		switch {
		case err != nil:
			return chatr.Message{}, err
		case m.FromUserID != e.EditorID:
			return chatr.Message{}, chatr.Errorf(chatr.EFORBIDDEN, "only its author edits a message")
		case m.Deleted:
			return chatr.Message{}, chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
		}
		edited := when(orNow(e.At))
		setChunked(props, "message", e.Text)
		setMentions(props, e.Mentions)
		setTime(props, "edited", edited)
		if done, err := s.rewrite(ctx, props, etag); err != nil || done {
			m.Text, m.Mentions, m.Edited = e.Text, e.Mentions, edited
			return m, err
		}
	}
	return chatr.Message{}, errors.New("aztables: edit message: too much contention")
}

func (s *Store) DeleteMessage(ctx context.Context, chatID string, id int64, at time.Time) (chatr.Message, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	for range maxRetries {
		props, etag, m, err := s.messageRow(ctx, chatID, id)
		if err != nil {
			return chatr.Message{}, err
		}
		if !m.Deleted {
			deleted := when(orNow(at))
			setChunked(props, "message", "")
			setMentions(props, chatr.Mentions{})
			setReactions[summary](props, nil)
			setTime(props, "deleted", deleted)
			done, err := s.rewrite(ctx, props, etag)
			if err != nil {
				return chatr.Message{}, err
			}
			if !done {
				continue
			}
			m.Text, m.Mentions, m.Reactions, m.Deleted, m.DeletedAt = "", chatr.Mentions{}, nil, true, deleted
		}
		// The summary is gone already; the rows go now, or at the next
		// delete of the message if this is cut short.
		return m, errors.Join(s.deleteReactionRows(ctx, key(chatID), id), s.deleteMessageFiles(ctx, chatID, id))
	}
	return chatr.Message{}, errors.New("aztables: delete message: too much contention")
}

func (s *Store) deleteReactionRows(ctx context.Context, ck string, id int64) error {
	rows, err := list(ctx, s.messages, reactRange(ck, id, ""), "RowKey", 0)
	if err != nil {
		return fmt.Errorf("aztables: list reactions: %w", err)
	}
	for len(rows) > 0 {
		n := min(len(rows), 100)
		actions := make([]aztables.TransactionAction, 0, n)
		for _, e := range rows[:n] {
			actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete,
				Entity: marshal(map[string]any{"PartitionKey": ck, "RowKey": e.str("RowKey")})})
		}
		if _, err := s.messages.SubmitTransaction(ctx, actions, nil); err != nil {
			return fmt.Errorf("aztables: delete reactions: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

func (s *Store) ToggleReaction(ctx context.Context, chatID string, id int64, userID, emoji string) (bool, []chatr.Reaction, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if err := chatr.CheckEmoji(emoji); err != nil {
		return false, nil, err
	}
	if !textOK(userID) {
		return false, nil, errText()
	}
	ck, rk := key(chatID), reactRow(id, emoji, userID)
	for range maxRetries {
		props, etag, m, err := s.messageRow(ctx, chatID, id)
		if err != nil {
			return false, nil, err
		}
		if m.Deleted {
			return false, nil, chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
		}
		rs := summaryOf(props)
		i := slices.IndexFunc(rs, func(r summary) bool { return r.Emoji == emoji })
		if i < 0 && len(rs) >= chatr.MaxReactionKinds {
			return false, nil, chatr.Errorf(chatr.ELIMIT, "a message has at most %d different reactions", chatr.MaxReactionKinds)
		}
		var mine azcore.ETag
		on := i < 0
		if !on {
			r, err := s.messages.GetEntity(ctx, ck, rk, nil)
			switch {
			case notFound(err):
				on = true
			case err != nil:
				return false, nil, fmt.Errorf("aztables: read reaction: %w", err)
			default:
				mine = r.ETag
			}
		}
		var action aztables.TransactionAction
		if on {
			seq := asEntity(props).int64v("reactSeq") + 1
			setInt64(props, "reactSeq", seq)
			row := map[string]any{"PartitionKey": ck, "RowKey": rk}
			setInt64(row, "seq", seq)
			action = aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: marshal(row)}
			if i < 0 {
				rs = append(rs, summary{Reaction: chatr.Reaction{Emoji: emoji}})
				i = len(rs) - 1
			}
			rs[i].Count++
			if len(rs[i].Users) < chatr.MaxReactionUsers {
				rs[i].Users, rs[i].Seqs = append(rs[i].Users, userID), append(rs[i].Seqs, seq)
			}
		} else {
			action = aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, IfMatch: &mine,
				Entity: marshal(map[string]any{"PartitionKey": ck, "RowKey": rk})}
			if rs, err = s.withoutUser(ctx, ck, id, rs, i, userID); err != nil {
				return false, nil, err
			}
		}
		setReactions(props, rs)
		update := aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateReplace, Entity: marshal(props), IfMatch: &etag}
		_, err = s.messages.SubmitTransaction(ctx, []aztables.TransactionAction{update, action}, nil)
		if err == nil {
			return on, reactionsOf(rs), nil
		}
		// A failed transaction does not say which operation failed: if the
		// message row moved, another toggle came first and we try again.
		if _, etag2, _, err2 := s.messageRow(ctx, chatID, id); err2 != nil || etag2 == etag {
			return false, nil, fmt.Errorf("aztables: toggle reaction: %w", err)
		}
	}
	return false, nil, errors.New("aztables: toggle reaction: too much contention")
}

// asEntity views a property map being built as an entity, to read it back.
func asEntity(props map[string]any) entity {
	b, _ := json.Marshal(props)
	out, _ := decode(b)
	return out
}

// withoutUser returns rs with userID's reaction i taken back: when the
// emoji has more users than its summary lists, the next one by seq joins
// the list.
func (s *Store) withoutUser(ctx context.Context, ck string, id int64, rs []summary, i int, userID string) ([]summary, error) {
	r := rs[i]
	if j := slices.Index(r.Users, userID); j >= 0 {
		r.Users, r.Seqs = slices.Delete(r.Users, j, j+1), slices.Delete(r.Seqs, j, j+1)
	}
	r.Count--
	if r.Count > len(r.Users) {
		esc := strings.ReplaceAll(key(r.Emoji), "~", "%7E") + "~"
		rows, err := list(ctx, s.messages, reactRange(ck, id, esc), "RowKey,seq", 0)
		if err != nil {
			return nil, fmt.Errorf("aztables: list reactions: %w", err)
		}
		slices.SortFunc(rows, func(a, b entity) int { return int(a.int64v("seq") - b.int64v("seq")) })
		r.Users, r.Seqs = r.Users[:0], r.Seqs[:0]
		for _, row := range rows {
			u := unkey(strings.ReplaceAll(strings.TrimPrefix(row.str("RowKey"), reactPrefix+rowID(id)+"~"+esc), "%7E", "~"))
			if u != userID && len(r.Users) < chatr.MaxReactionUsers {
				r.Users, r.Seqs = append(r.Users, u), append(r.Seqs, row.int64v("seq"))
			}
		}
	}
	if r.Count == 0 {
		return slices.Delete(rs, i, i+1), nil
	}
	rs[i] = r
	slices.SortStableFunc(rs, func(a, b summary) int { return cmp.Compare(a.Seqs[0], b.Seqs[0]) })
	return rs, nil
}

func (s *Store) MentionCounts(ctx context.Context, userID string) (map[string]int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	chats, err := s.ListUserChats(ctx, userID)
	if err != nil {
		return nil, err
	}
	read, err := s.readMarkers(ctx, userID)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, c := range chats {
		f := "PartitionKey eq " + quote(key(c.ID)) + " and RowKey gt " + quote(rowID(read[c.ID])) + " and RowKey lt " + quote(counterRow) +
			" and fromUserId ne " + quote(userID)
		es, err := list(ctx, s.messages, f, "", 0)
		if err != nil {
			return nil, fmt.Errorf("aztables: count mentions: %w", err)
		}
		for _, e := range es {
			var m chatr.Message
			extrasOf(e, &m)
			if !m.Deleted && (m.Mentions.All || slices.Contains(m.Mentions.Users, userID)) {
				counts[c.ID]++
			}
		}
	}
	return counts, nil
}

func (s *Store) readMarkers(ctx context.Context, userID string) (map[string]int64, error) {
	markers, err := list(ctx, s.marker, "PartitionKey eq "+quote(key(userID)), "RowKey,messageId", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: list read markers: %w", err)
	}
	read := map[string]int64{}
	for _, e := range markers {
		read[unkey(e.str("RowKey"))] = e.int64v("messageId")
	}
	return read, nil
}

func (s *Store) ReadMarkers(ctx context.Context, userID string) (map[string]int64, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !textOK(userID) {
		return map[string]int64{}, nil
	}
	read, err := s.readMarkers(ctx, userID)
	if err != nil {
		return nil, err
	}
	chats, err := s.ListUserChats(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, c := range chats {
		if id, ok := read[c.ID]; ok {
			out[c.ID] = id
		}
	}
	return out, nil
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
