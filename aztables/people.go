package aztables

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// People on Table Storage. Extra columns on users: handle, nameChosen,
// banned, bannedBy, bannedAt. Handles are unique through a table of claims:
//
//   - chatrhandles: PartitionKey "chatr", RowKey the handle, column userId.
//
// A handle is claimed (AddEntity fails on a taken one) before the user row
// that carries it is written; a claim whose user row never got written (a
// crash in between) keeps that handle unused, which costs nothing else.

// upsertUser creates the user under a claimed handle or updates name and
// provider, keeping everything else (and a name the user chose).
func (s *Store) upsertUser(ctx context.Context, u chatr.User) error {
	base := chatr.HandleBase(u.Name)
	if u.Handle != "" {
		base = chatr.HandleBase(u.Handle)
	}
	for range maxRetries {
		r, err := s.users.GetEntity(ctx, partition, key(u.ID), nil)
		if err == nil {
			e, err := decode(r.Value)
			if err != nil {
				return err
			}
			upd := map[string]any{"PartitionKey": partition, "RowKey": key(u.ID), "userProvider": u.Provider}
			if !e.boolean("nameChosen") {
				upd["userName"] = u.Name
			}
			_, err = s.users.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{IfMatch: &r.ETag, UpdateMode: aztables.UpdateModeMerge})
			if stale(err) || notFound(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("aztables: update user: %w", err)
			}
			if e.str("handle") == "" { // written by the original since the store opened
				return s.giveHandle(ctx, u.ID, u.Name)
			}
			return nil
		}
		if !notFound(err) {
			return fmt.Errorf("aztables: get user: %w", err)
		}
		h, err := s.claimHandle(ctx, base, u.ID)
		if err != nil {
			return err
		}
		created := u.Created
		if created.IsZero() {
			created = time.Now()
		}
		e := map[string]any{"PartitionKey": partition, "RowKey": key(u.ID), "userName": u.Name, "userProvider": u.Provider,
			"idle": u.Idle, "handle": h}
		setTime(e, "created", created)
		if !u.LastSeen.IsZero() {
			setTime(e, "lastSeen", u.LastSeen)
		}
		_, err = s.users.AddEntity(ctx, marshal(e), nil)
		if err == nil {
			return nil
		}
		s.releaseHandle(ctx, h, u.ID)
		if !conflict(err) {
			return fmt.Errorf("aztables: add user: %w", err)
		}
	}
	return errors.New("aztables: upsert user: too much contention")
}

// claimHandle claims the first free handle for base on behalf of userID.
func (s *Store) claimHandle(ctx context.Context, base, userID string) (string, error) {
	for range maxRetries {
		// Candidates are base and base followed by digits: ':' sorts after '9'.
		rows, err := list(ctx, s.handles, "PartitionKey eq "+quote(partition)+" and RowKey ge "+quote(base)+" and RowKey lt "+quote(base+":"), "RowKey", 0)
		if err != nil {
			return "", fmt.Errorf("aztables: list handles: %w", err)
		}
		taken := map[string]bool{}
		for _, e := range rows {
			taken[e.str("RowKey")] = true
		}
		h := chatr.FreeHandle(base, taken)
		_, err = s.handles.AddEntity(ctx, marshal(map[string]any{"PartitionKey": partition, "RowKey": h, "userId": userID}), nil)
		if err == nil {
			return h, nil
		}
		if !conflict(err) {
			return "", fmt.Errorf("aztables: claim handle: %w", err)
		}
	}
	return "", errors.New("aztables: claim handle: too much contention")
}

func (s *Store) releaseHandle(ctx context.Context, h, userID string) {
	r, err := s.handles.GetEntity(ctx, partition, h, nil)
	if err != nil {
		return
	}
	if e, err := decode(r.Value); err == nil && e.str("userId") == userID {
		s.handles.DeleteEntity(ctx, partition, h, &aztables.DeleteEntityOptions{IfMatch: &r.ETag})
	}
}

// giveHandle gives an existing user without a handle one.
func (s *Store) giveHandle(ctx context.Context, userID, name string) error {
	h, err := s.claimHandle(ctx, chatr.HandleBase(name), userID)
	if err != nil {
		return err
	}
	for range maxRetries {
		r, err := s.users.GetEntity(ctx, partition, key(userID), nil)
		if err != nil {
			s.releaseHandle(ctx, h, userID)
			return fmt.Errorf("aztables: get user: %w", err)
		}
		e, err := decode(r.Value)
		if err != nil {
			return err
		}
		if e.str("handle") != "" { // someone else gave one first
			s.releaseHandle(ctx, h, userID)
			return nil
		}
		upd := map[string]any{"PartitionKey": partition, "RowKey": key(userID), "handle": h}
		_, err = s.users.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{IfMatch: &r.ETag, UpdateMode: aztables.UpdateModeMerge})
		if err == nil {
			return nil
		}
		if !stale(err) {
			return fmt.Errorf("aztables: give handle: %w", err)
		}
	}
	return errors.New("aztables: give handle: too much contention")
}

func sortUsersByCreated(us []chatr.User) {
	sort.SliceStable(us, func(i, j int) bool {
		if !us[i].Created.Equal(us[j].Created) {
			return us[i].Created.Before(us[j].Created)
		}
		return us[i].ID < us[j].ID
	})
}

// GetUserByHandle follows the handle's claim to its user.
func (s *Store) GetUserByHandle(ctx context.Context, handle string) (chatr.User, error) {
	h := chatr.NormalHandle(handle)
	notThere := chatr.Errorf(chatr.ENOTFOUND, "no user @%s", h)
	if h == "" || !textOK(h) {
		return chatr.User{}, notThere
	}
	r, err := s.handles.GetEntity(ctx, partition, key(h), nil)
	if notFound(err) {
		return chatr.User{}, notThere
	}
	if err != nil {
		return chatr.User{}, fmt.Errorf("aztables: get handle: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return chatr.User{}, err
	}
	u, err := s.GetUser(ctx, e.str("userId"))
	if chatr.ErrorCode(err) == chatr.ENOTFOUND || (err == nil && u.Handle != h) {
		return chatr.User{}, notThere
	}
	return u, err
}

// SetUserName sets the chosen name on the user, then on their memberships.
func (s *Store) SetUserName(ctx context.Context, userID, name string) error {
	if name == "" {
		return chatr.Errorf(chatr.EINVALID, "name must not be empty")
	}
	if !textOK(name) {
		return errText()
	}
	if !textOK(userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %s", userID)
	}
	upd := map[string]any{"PartitionKey": partition, "RowKey": key(userID), "userName": name, "nameChosen": true}
	_, err := s.users.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge})
	if notFound(err) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %s", userID)
	}
	if err != nil {
		return fmt.Errorf("aztables: set user name: %w", err)
	}
	chats, err := s.allChats(ctx)
	if err != nil {
		return err
	}
	for _, c := range chats {
		if _, ok := c.data.Members[userID]; !ok {
			continue
		}
		err := s.updateChat(ctx, c.chat.ID, func(c *chatRow) bool {
			md, ok := c.data.Members[userID]
			if !ok || md.UserName == name {
				return false
			}
			md.UserName = name
			c.data.Members[userID] = md
			return true
		})
		if err != nil && chatr.ErrorCode(err) != chatr.ENOTFOUND {
			return err
		}
	}
	return nil
}

// SearchUsers filters and pages the users in memory: Table Storage has no
// index on anything but keys, so each page reads every user.
func (s *Store) SearchUsers(ctx context.Context, q chatr.UserQuery) ([]chatr.User, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	all, err := s.ListUsers(ctx)
	if err != nil {
		return nil, "", err
	}
	needle := chatr.NormalHandle(q.Search)
	users := []chatr.User{}
	for _, u := range all {
		if u.Handle > q.After && (strings.Contains(chatr.SearchKey(u.Name), needle) || strings.Contains(u.Handle, needle)) {
			users = append(users, u)
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Handle < users[j].Handle })
	if len(users) > limit {
		return users[:limit], users[limit-1].Handle, nil
	}
	return users, "", nil
}

// SetBanned sets or clears the user's ban.
func (s *Store) SetBanned(ctx context.Context, userID string, banned bool, by string, at time.Time) error {
	if !textOK(by) {
		return errText()
	}
	if !textOK(userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %s", userID)
	}
	if at.IsZero() {
		at = time.Now()
	}
	upd := map[string]any{"PartitionKey": partition, "RowKey": key(userID), "banned": banned, "bannedBy": ""}
	if banned {
		upd["bannedBy"] = by
		setTime(upd, "bannedAt", at)
	}
	_, err := s.users.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge})
	if notFound(err) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %s", userID)
	}
	if err != nil {
		return fmt.Errorf("aztables: set banned: %w", err)
	}
	return nil
}
