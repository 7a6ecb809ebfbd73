package memstore

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/chatr/chatr"
)

var _ chatr.Dumper = (*Store)(nil)

// Dump hands out a copy of every row of kind, taken under the lock, in key
// order.
func (s *Store) Dump(ctx context.Context, kind string, fn func(chatr.Row) error) error {
	s.mu.Lock()
	var vals []any
	switch kind {
	case chatr.KindUsers:
		for _, id := range sortedKeys(s.users) {
			vals = append(vals, chatr.UserRow{User: s.users[id], NameChosen: s.r.nameChosen[id]})
		}
	case chatr.KindSessions:
		for _, h := range sortedKeys(s.sessions) {
			vals = append(vals, s.sessions[h])
		}
	case chatr.KindChats:
		for _, id := range sortedKeys(s.chats) {
			vals = append(vals, chatr.ChatRow{Chat: s.chats[id], LastMessageID: int64(len(s.messages[id]))})
		}
	case chatr.KindMembers:
		for _, id := range sortedKeys(s.members) {
			for _, uid := range sortedKeys(s.members[id]) {
				vals = append(vals, chatr.MemberRow{ChatID: id, Member: s.members[id][uid]})
			}
		}
	case chatr.KindMessages:
		for _, id := range sortedKeys(s.messages) {
			for _, m := range s.messages[id] {
				m.Reactions = nil
				vals = append(vals, m)
			}
		}
	case chatr.KindReactions:
		for _, id := range sortedKeys(s.react) {
			byMsg := s.react[id]
			ids := make([]int64, 0, len(byMsg))
			for mid := range byMsg {
				ids = append(ids, mid)
			}
			slices.Sort(ids)
			for _, mid := range ids {
				for _, r := range byMsg[mid] {
					vals = append(vals, chatr.ReactionDump{ChatID: id, MessageID: mid, Emoji: r.Emoji, UserID: r.UserID})
				}
			}
		}
	case chatr.KindReadMarkers:
		keys := make([][2]string, 0, len(s.read))
		for k := range s.read {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
		for _, k := range keys {
			vals = append(vals, chatr.ReadMarker{UserID: k[0], ChatID: k[1], MessageID: s.read[k]})
		}
	case chatr.KindInvites:
		for _, h := range sortedKeys(s.r.invites) {
			vals = append(vals, s.r.invites[h])
		}
	case chatr.KindModEvents:
		for _, e := range s.r.modLog {
			vals = append(vals, e)
		}
	case chatr.KindFiles:
		files := s.files()
		for _, id := range sortedKeys(files) {
			if sf := files[id]; s.live(sf) {
				vals = append(vals, chatr.FileRow{File: sf.file, Position: sf.position})
			}
		}
	default:
		s.mu.Unlock()
		return chatr.Errorf(chatr.EINVALID, "unknown dump kind %q", kind)
	}
	s.mu.Unlock()
	for _, v := range vals {
		if err := fn(chatr.Row{Kind: kind, Value: v}); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Load writes the rows. This store numbers messages and moderation events
// by their position, so it keeps ids only for gapless histories (what a
// test fills it with).
func (s *Store) Load(ctx context.Context, rows []chatr.Row) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	needChat := func(id string) error {
		if _, ok := s.chats[id]; !ok {
			return chatr.Errorf(chatr.EINVALID, "load: chat %s is missing", id)
		}
		return nil
	}
	for _, r := range rows {
		switch v := r.Value.(type) {
		case chatr.UserRow:
			if old, ok := s.users[v.ID]; ok && old.Handle != "" {
				delete(s.r.handles, old.Handle)
			}
			s.users[v.ID] = v.User
			if v.Handle != "" {
				s.r.handles[v.Handle] = v.ID
			}
			s.r.nameChosen[v.ID] = v.NameChosen
		case chatr.Session:
			s.sessions[v.TokenHash] = v
		case chatr.ChatRow:
			s.chats[v.ID] = v.Chat
			if _, ok := s.members[v.ID]; !ok {
				s.members[v.ID] = map[string]chatr.Member{}
			}
			if v.IsPublic() {
				if _, taken := s.r.nameKeys[chatr.NameKey(v.Name)]; !taken {
					s.r.nameKeys[chatr.NameKey(v.Name)] = v.ID
				}
			}
		case chatr.MemberRow:
			if err := needChat(v.ChatID); err != nil {
				return err
			}
			s.members[v.ChatID][v.UserID] = v.Member
		case chatr.Message:
			if err := needChat(v.ChatID); err != nil {
				return err
			}
			ms := s.messages[v.ChatID]
			if i, found := slices.BinarySearchFunc(ms, v.ID, func(m chatr.Message, id int64) int { return int(m.ID - id) }); found {
				ms[i] = v
			} else {
				s.messages[v.ChatID] = slices.Insert(ms, i, v)
			}
			if v.ClientID != "" {
				s.keys[[2]string{v.FromUserID, v.ClientID}] = v
			}
		case chatr.ReactionDump:
			if err := needChat(v.ChatID); err != nil {
				return err
			}
			rows := s.react[v.ChatID][v.MessageID]
			if !slices.ContainsFunc(rows, func(r chatr.ReactionRow) bool { return r.Emoji == v.Emoji && r.UserID == v.UserID }) {
				if s.react[v.ChatID] == nil {
					s.react[v.ChatID] = map[int64][]chatr.ReactionRow{}
				}
				s.react[v.ChatID][v.MessageID] = append(rows, chatr.ReactionRow{MessageID: v.MessageID, Emoji: v.Emoji, UserID: v.UserID})
			}
		case chatr.ReadMarker:
			if err := needChat(v.ChatID); err != nil {
				return err
			}
			s.read[[2]string{v.UserID, v.ChatID}] = v.MessageID
		case chatr.Invite:
			if err := needChat(v.ChatID); err != nil {
				return err
			}
			s.r.invites[v.TokenHash] = v
		case chatr.ModEvent:
			if i := int(v.ID) - 1; i >= 0 && i < len(s.r.modLog) {
				s.r.modLog[i] = v
			} else {
				s.r.modLog = append(s.r.modLog, v)
			}
		case chatr.FileRow:
			if err := needChat(v.ChatID); err != nil {
				return err
			}
			s.files()[v.ID] = storedFile{file: v.File, chatCreated: s.chats[v.ChatID].Created, position: v.Position}
		default:
			return chatr.Errorf(chatr.EINVALID, "cannot load a %s row (%T)", r.Kind, r.Value)
		}
	}
	return nil
}
