package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/aztables"
)

// Values of Config.Guests.
const (
	GuestsAuto = "auto"
	GuestsOn   = "on"
	GuestsOff  = "off"
)

// guestsOff decides Config.Guests: in auto mode a server with an external
// provider is a team's, and guests would let anyone in.
func guestsOff(mode string, haveProviders bool) (bool, error) {
	switch mode {
	case "", GuestsAuto:
		return haveProviders, nil
	case GuestsOn:
		return false, nil
	case GuestsOff:
		return true, nil
	}
	return false, fmt.Errorf("guests %q: use auto, on or off", mode)
}

// warnGuestAdmins warns when guests may sign in while administrators are
// named by handle: a handle goes to whoever signs in with that name first,
// so a guest could take an administrator's.
func warnGuestAdmins(log *slog.Logger, admins string, guestsOff bool) {
	if guestsOff {
		return
	}
	for _, f := range strings.FieldsFunc(admins, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if !strings.Contains(f, ":") {
			log.Warn("administrators named by handle while guests may sign in: a guest who signs in first with that name gets the handle; name administrators by user id, or turn guests off", "handle", f)
			return
		}
	}
}

// loadAdmins reads Config.Admins and the granted admins file.
func loadAdmins(cfg Config) (chatr.Admins, error) {
	path := cfg.AdminsFile
	if path == "" {
		path = "chatr.admins"
		if !strings.Contains(cfg.DB, "://") && !aztables.IsConnectionString(cfg.DB) {
			path = cfg.DB + ".admins"
		}
	}
	list := cfg.Admins
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				list += "," + line
			}
		}
	case !errors.Is(err, os.ErrNotExist):
		return chatr.Admins{}, fmt.Errorf("admins file: %w", err)
	}
	return chatr.ParseAdmins(list), nil
}

// rename is a display-name change as it travels between the nodes.
type rename struct {
	UserID string `json:"u"`
	Name   string `json:"n"`
}

// shareRenames subscribes this node to the cluster's display-name changes:
// hold is called with each (this node's own included), so that every node
// stamps the user's messages with the new name. Redis pub/sub delivers at
// most once: a node that misses one keeps the old name until the user's
// next connection there.
func (c *cluster) shareRenames(ctx context.Context, hold func(userID, name string)) error {
	if c == nil {
		return nil
	}
	ps := c.rdb.Subscribe(ctx, c.prefix+"renamed")
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return fmt.Errorf("redis renames: %w", err)
	}
	c.renames = ps
	go func() {
		for m := range ps.Channel() {
			var r rename
			if err := json.Unmarshal([]byte(m.Payload), &r); err != nil || r.UserID == "" {
				c.log.Warn("redis renames: bad message", "payload", m.Payload)
				continue
			}
			hold(r.UserID, r.Name)
		}
	}()
	return nil
}

// publishRename tells every node of the cluster that the user is now
// called name; a node that runs alone has nobody to tell.
func (c *cluster) publishRename(ctx context.Context, userID, name string) error {
	if c == nil {
		return nil
	}
	b, _ := json.Marshal(rename{userID, name})
	return c.rdb.Publish(ctx, c.prefix+"renamed", b).Err()
}
