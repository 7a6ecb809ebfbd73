package server

import (
	"errors"
	"fmt"
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
