package aztables

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// --- messages
//
// AddMessage queues the message on its chat; one goroutine per busy chat
// (not a caller: a caller's deadline bounds only its own wait) takes what
// is queued and writes it in one entity group transaction, with the chat's
// counter and, for each message with a ClientID, a key row
// "~key~<sender>~<clientId>" holding the message's id. The key row is added
// in the same transaction as its message, so two writers (nodes, retries)
// of one key cannot both succeed: the loser's transaction fails, and its
// next attempt finds the key. Keys are unique per sender within a chat,
// since a transaction spans one partition (one chat).

// maxPending bounds the messages queued on the whole store; beyond it
// AddMessage answers ELIMIT at once.
const maxPending = 16384

const keyPrefix = "~key~"

// keyRow is the RowKey of the key row of (from, clientID): their key()
// forms with "~" escaped too, so that the separator is unambiguous.
func keyRow(from, clientID string) string {
	esc := func(s string) string { return strings.ReplaceAll(key(s), "~", "%7E") }
	return keyPrefix + esc(from) + "~" + esc(clientID)
}

// chatQueue holds a chat's AddMessage calls waiting for its writer.
type chatQueue struct {
	waiting []*pendingMessage
	busy    bool // a writer goroutine runs for the chat
}

type pendingMessage struct {
	ctx  context.Context
	m    chatr.Message
	size int
	done chan struct{}
	err  error
}

// ops is the number of transaction operations the message takes.
func (p *pendingMessage) ops() int {
	if p.m.ClientID != "" {
		return 2
	}
	return 1
}

func (s *Store) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	if m.ChatID == "" {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "chat id is empty")
	}
	if !textOK(m.FromUserID, m.FromUserName, m.Text, m.ClientID) {
		return chatr.Message{}, errText()
	}
	if len(m.ClientID) > chatr.MaxClientID {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "client message id is longer than %d bytes", chatr.MaxClientID)
	}
	if !textOK(m.ChatID) {
		return chatr.Message{}, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	if err := chatr.CheckMessageExtras(m); err != nil {
		return chatr.Message{}, err
	}
	fileIDs, err := s.checkMessageFiles(ctx, m)
	if err != nil {
		return chatr.Message{}, err
	}
	m.Files = nil
	m.Mentions = chatr.NormalMentions(m.Mentions)
	m.Edited, m.Deleted, m.DeletedAt, m.Reactions = time.Time{}, false, time.Time{}, nil
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	m.Time, m.ID, m.Duplicate = when(m.Time), 0, false
	p := &pendingMessage{ctx: ctx, m: m, size: 512 + 2*len(m.Text) + len(m.FromUserName) + len(m.FromUserID) + 2*len(m.ClientID) + 48*len(m.Mentions.Users), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return chatr.Message{}, errors.New("aztables: store closed")
	}
	if s.pending >= maxPending {
		s.mu.Unlock()
		return chatr.Message{}, chatr.Errorf(chatr.ELIMIT, "too many messages waiting to be stored, try again")
	}
	s.pending++
	q := s.queues[m.ChatID]
	if q == nil {
		q = &chatQueue{}
		s.queues[m.ChatID] = q
	}
	q.waiting = append(q.waiting, p)
	if !q.busy {
		q.busy = true
		s.wg.Add(1)
		go s.commitLoop(m.ChatID, q)
	}
	s.mu.Unlock()
	select {
	case <-p.done:
		if p.err != nil || p.m.Duplicate || len(fileIDs) == 0 {
			return p.m, p.err
		}
		// Another table: linked after the message's transaction, before
		// the message is reported stored.
		if err := s.AttachFiles(ctx, p.m.ChatID, p.m.FromUserID, p.m.ID, fileIDs); err != nil {
			return chatr.Message{}, err
		}
		return p.m, nil
	case <-ctx.Done():
		// Stored or not: a retry with the same ClientID tells which.
		return chatr.Message{}, ctx.Err()
	}
}

// commitLoop commits the chat's waiting messages, a batch at a time, until
// none is left. Messages whose callers gave up before their batch began are
// dropped, never stored.
func (s *Store) commitLoop(chatID string, q *chatQueue) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		n, ops, size := 0, 0, 0
		for n < len(q.waiting) && (n == 0 || ops+q.waiting[n].ops() <= maxBatch && size+q.waiting[n].size <= maxBatchBytes) {
			ops += q.waiting[n].ops()
			size += q.waiting[n].size
			n++
		}
		batch := q.waiting[:n:n]
		q.waiting = q.waiting[n:]
		s.pending -= n
		if n == 0 {
			q.busy = false
			delete(s.queues, chatID)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		live := batch[:0:0]
		for _, p := range batch {
			if err := p.ctx.Err(); err != nil {
				p.err = err
				close(p.done)
				continue
			}
			live = append(live, p)
		}
		if len(live) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		err := s.commit(ctx, chatID, live)
		cancel()
		for _, p := range live {
			if err != nil {
				p.err = err
			}
			close(p.done)
		}
	}
}

// commit gives the batch's new messages the chat's next ids and writes them,
// their key rows and the counter's new value in one transaction, retrying
// when another writer moved the counter first. A message whose key is
// stored already gets the stored message, marked Duplicate.
func (s *Store) commit(ctx context.Context, chatID string, batch []*pendingMessage) error {
	ck := key(chatID)
	for range maxRetries {
		if _, err := s.getChat(ctx, chatID); err != nil {
			return err
		}
		fresh, copies, err := s.dedup(ctx, ck, chatID, batch)
		if err != nil {
			return err
		}
		if len(fresh) == 0 {
			resolveCopies(copies)
			return nil
		}
		last, etag, exists, err := s.counter(ctx, ck)
		if err != nil {
			return err
		}
		if fresh = checkReplies(fresh, last); len(fresh) == 0 {
			resolveCopies(copies)
			return nil
		}
		counter := map[string]any{"PartitionKey": ck, "RowKey": counterRow}
		setInt64(counter, "lastId", last+int64(len(fresh)))
		action := aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: marshal(counter)}
		if exists {
			action = aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateReplace, Entity: marshal(counter), IfMatch: &etag}
		}
		// token marks the batch's first message row, so that a transaction
		// whose answer was lost can be recognised as ours.
		token := newToken()
		actions := []aztables.TransactionAction{action}
		for i, p := range fresh {
			p.m.ID = last + int64(i) + 1
			e := messageEntity(ck, p.m)
			if i == 0 {
				e["batch"] = token
			}
			actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: marshal(e)})
			if p.m.ClientID != "" {
				k := map[string]any{"PartitionKey": ck, "RowKey": keyRow(p.m.FromUserID, p.m.ClientID)}
				setInt64(k, "messageId", p.m.ID)
				actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: marshal(k)})
			}
		}
		err = s.submit(ctx, actions)
		if err == nil || s.landed(ck, last+1, token) {
			resolveCopies(copies)
			return nil
		}
		// A failed transaction does not say which operation failed: if the
		// counter moved, another writer won the race (perhaps with one of
		// our keys) and we try again.
		// The counter may also have moved before we read it while our keys
		// were checked: then a key row that another writer stored since
		// is what failed, and the next round finds it.
		_, etag2, exists2, cerr := s.counter(ctx, ck)
		if cerr != nil {
			return fmt.Errorf("aztables: add messages: %w", err)
		}
		if exists2 == exists && etag2 == etag && !s.anyKeyStored(ctx, ck, chatID, fresh) {
			return fmt.Errorf("aztables: add messages: %w", err)
		}
	}
	return errors.New("aztables: add messages: too much contention")
}

// anyKeyStored reports whether the key of one of the messages is stored
// now.
func (s *Store) anyKeyStored(ctx context.Context, ck, chatID string, batch []*pendingMessage) bool {
	for _, p := range batch {
		if p.m.ClientID == "" {
			continue
		}
		if m, err := s.byKey(ctx, ck, chatID, p.m.FromUserID, p.m.ClientID); err == nil && m != nil {
			return true
		}
	}
	return false
}

// landed reports whether the message row id carries token: the transaction
// that wrote it took effect although its answer was lost. It has a deadline
// of its own, as the batch's may be what failed the transaction.
func (s *Store) landed(ck string, id int64, token string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	r, err := s.messages.GetEntity(ctx, ck, rowID(id), nil)
	if err != nil {
		return false
	}
	e, err := decode(r.Value)
	return err == nil && e.str("batch") == token
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// dedup splits the batch: fresh messages to write, and copies (a later
// message with the key of an earlier one in the batch). Messages whose key
// is stored already get the stored message, marked Duplicate, and are in
// neither list.
func (s *Store) dedup(ctx context.Context, ck, chatID string, batch []*pendingMessage) (fresh []*pendingMessage, copies [][2]*pendingMessage, err error) {
	first := map[[2]string]*pendingMessage{}
	skip := map[*pendingMessage]bool{} // copies, and messages stored already
	var keyed []*pendingMessage
	for _, p := range batch {
		p.m.ID, p.m.Duplicate, p.err = 0, false, nil // a retry starts afresh
		if p.m.ClientID == "" {
			continue
		}
		k := [2]string{p.m.FromUserID, p.m.ClientID}
		if f := first[k]; f != nil {
			copies = append(copies, [2]*pendingMessage{p, f})
			skip[p] = true
			continue
		}
		first[k] = p
		keyed = append(keyed, p)
	}
	stored := make([]*chatr.Message, len(keyed))
	errs := make([]error, len(keyed))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, p := range keyed {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			stored[i], errs[i] = s.byKey(ctx, ck, chatID, p.m.FromUserID, p.m.ClientID)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	for i, p := range keyed {
		if stored[i] != nil {
			p.m = *stored[i]
			p.m.Duplicate = true
			skip[p] = true
		}
	}
	for _, p := range batch {
		if !skip[p] {
			fresh = append(fresh, p)
		}
	}
	return fresh, copies, nil
}

// resolveCopies gives each copy the result of the message it repeats.
func resolveCopies(copies [][2]*pendingMessage) {
	for _, c := range copies {
		c[0].m, c[0].err = c[1].m, c[1].err
		c[0].m.Duplicate = true
	}
}

// byKey returns the chat's message stored under the sender's key, or nil.
func (s *Store) byKey(ctx context.Context, ck, chatID, from, clientID string) (*chatr.Message, error) {
	r, err := s.messages.GetEntity(ctx, ck, keyRow(from, clientID), nil)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("aztables: read message key: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return nil, err
	}
	r, err = s.messages.GetEntity(ctx, ck, rowID(e.int64v("messageId")), nil)
	if err != nil {
		return nil, fmt.Errorf("aztables: read keyed message: %w", err)
	}
	if e, err = decode(r.Value); err != nil {
		return nil, err
	}
	m := messageOf(chatID, e)
	return &m, nil
}

// counter reads the chat's last message id and the row's ETag.
func (s *Store) counter(ctx context.Context, ck string) (last int64, etag azcore.ETag, exists bool, err error) {
	r, err := s.messages.GetEntity(ctx, ck, counterRow, nil)
	if notFound(err) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("aztables: read message counter: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return 0, "", false, err
	}
	return e.int64v("lastId"), r.ETag, true, nil
}

func messageEntity(ck string, m chatr.Message) map[string]any {
	e := map[string]any{"PartitionKey": ck, "RowKey": rowID(m.ID), "fromUserId": m.FromUserID, "fromUserName": m.FromUserName}
	if m.ClientID != "" {
		e["clientId"] = m.ClientID
	}
	setTime(e, "time", m.Time)
	setExtras(e, m)
	// Long texts are split over message, message1, message2, ...
	setChunked(e, "message", m.Text)
	return e
}

func messageOf(chatID string, e entity) chatr.Message {
	id, _ := strconv.ParseInt(e.str("RowKey"), 10, 64)
	m := chatr.Message{ChatID: chatID, ID: id, FromUserID: e.str("fromUserId"), FromUserName: e.str("fromUserName"), Text: chunked(e, "message"), Time: e.time("time"), ClientID: e.str("clientId")}
	extrasOf(e, &m)
	return m
}

// messageRange lists the chat's messages with lo <= ID <= hi, at most top
// of them (0: all), oldest first.
func (s *Store) messageRange(ctx context.Context, chatID string, lo, hi int64, top int32) ([]chatr.Message, error) {
	if lo < 1 {
		lo = 1
	}
	if hi < lo {
		return nil, nil
	}
	f := "PartitionKey eq " + quote(key(chatID)) + " and RowKey ge " + quote(rowID(lo)) + " and RowKey le " + quote(rowID(hi))
	es, err := list(ctx, s.messages, f, "", top)
	if err != nil {
		return nil, fmt.Errorf("aztables: list messages: %w", err)
	}
	ms := make([]chatr.Message, 0, len(es))
	for _, e := range es {
		ms = append(ms, messageOf(chatID, e))
	}
	if top > 0 && len(ms) > int(top) {
		ms = ms[:top]
	}
	return ms, nil
}

func (s *Store) ListMessages(ctx context.Context, chatID string, q chatr.MessageQuery) ([]chatr.Message, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if _, err := s.getChat(ctx, chatID); err != nil {
		return nil, err
	}
	if q.Around > 0 {
		return chatr.ListAround(q, func(q chatr.MessageQuery) ([]chatr.Message, error) { return s.ListMessages(ctx, chatID, q) })
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	lo := q.After + 1
	if q.Before == 0 && q.After > 0 { // only After: the oldest that qualify
		return orEmpty(s.messageRange(ctx, chatID, lo, 1<<62, int32(limit)))
	}
	hi := q.Before - 1
	if q.Before == 0 {
		last, _, _, err := s.counter(ctx, key(chatID))
		if err != nil {
			return nil, err
		}
		hi = last
	}
	if lo < 1 {
		lo = 1
	}
	// The newest that qualify: ids are dense, so the last limit ids below hi
	// are one range; gaps (a crash between counter and insert cannot happen,
	// but a foreign writer might leave some) are filled by looking further back.
	var out []chatr.Message
	for hi >= lo && len(out) < limit {
		from := max(lo, hi-int64(limit-len(out))+1)
		ms, err := s.messageRange(ctx, chatID, from, hi, 0)
		if err != nil {
			return nil, err
		}
		out = append(ms, out...)
		hi = from - 1
	}
	if out == nil {
		out = []chatr.Message{}
	}
	return out, nil
}

func orEmpty(ms []chatr.Message, err error) ([]chatr.Message, error) {
	if ms == nil && err == nil {
		ms = []chatr.Message{}
	}
	return ms, err
}
