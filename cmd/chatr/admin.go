package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/aztables"
	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/redis"
)

const adminUsage = `admin [--db DB] COMMAND [USER-ID]

Commands:
  list             list every user: id, handle, name, banned, admin
  grant USER-ID    make the user an admin
  revoke USER-ID   take admin away (admins named by CHATR_ADMINS stay)
  ban USER-ID      ban the user: sign-in refused, sessions ended
  unban USER-ID    lift the ban
  delete USER-ID   delete the account: sessions end, profile and memberships
                   removed, messages removed or kept under "deleted user"
                   (--on-account-delete)
  rotate-secret    write a new secret to the secret file: access tokens
                   signed with the old one stop working once the nodes
                   restart with it; sign-in sessions survive

Grants are kept in the admins file (one user id a line; default: the
SQLite file + ".admins", or chatr.admins), which a node reads beside
--admins (CHATR_ADMINS) when it starts: restart the nodes for a grant or
a revocation to take effect.

Bans and deletions are written to the store: the user's sessions end and
their access tokens are revoked at once, so their next request and every
reconnect fail, and a banned user's sign-in is refused. Sockets the user
has open stay open, though, unless the nodes hear of it: with --redis
(CHATR_REDIS, the cluster's Redis) the command tells every running node
to close them (1008 "banned"); a node that runs alone, without Redis,
cannot be reached from here. The live path is the HTTP API: an admin's
POST /api/admin/users/{id}/ban closes them on every node at once.
Bans, unbans and deletions are recorded in the moderation log.
`

func runAdmin(ctx context.Context, args []string, out io.Writer) error {
	fs := commandFlags("admin", adminUsage, out)
	db := fs.String("db", "chatr.db", "the database")
	adminsFile := fs.String("admins-file", "", `the file of granted admins (default: the SQLite file + ".admins", or chatr.admins)`)
	secretFile := fs.String("secret-file", "", "the secret file to rotate (default: the SQLite file + .secret, or chatr.secret)")
	onDelete := fs.String("on-account-delete", "keep", `what happens to a deleted user's messages: "keep" (shown as from "deleted user") or "remove"`)
	by := fs.String("by", "operator", "who bans, as recorded with the ban and in the moderation log")
	redisURL := fs.String("redis", "", "the cluster's Redis (redis:// URL): running nodes then close the banned or deleted user's sockets at once")
	redisPrefix := fs.String("redis-prefix", "chatr:", "the cluster's Redis key prefix")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("admin needs a command")
	}
	cmd, arg := pos[0], ""
	wantArg := cmd != "list" && cmd != "rotate-secret"
	if wantArg != (len(pos) == 2) || len(pos) > 2 {
		fs.Usage()
		return fmt.Errorf("admin %s: wrong arguments", cmd)
	}
	if wantArg {
		arg = pos[1]
	}
	if cmd == "rotate-secret" {
		return rotateSecret(sidecar(*db, *secretFile, ".secret", "chatr.secret"), out)
	}
	if *onDelete != "keep" && *onDelete != "remove" {
		return errors.New(`--on-account-delete must be "keep" or "remove"`)
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	admins := sidecar(*db, *adminsFile, ".admins", "chatr.admins")
	now := time.Now()
	switch cmd {
	case "list":
		return listUsers(ctx, st, admins, out)
	case "grant", "revoke":
		if _, err := st.GetUser(ctx, arg); err != nil && cmd == "grant" {
			return err
		}
		return setAdmin(admins, arg, cmd == "grant")
	case "ban", "unban":
		if err := st.SetBanned(ctx, arg, cmd == "ban", *by, now); err != nil {
			return err
		}
		if cmd == "ban" {
			if err := endSessions(ctx, st, arg, now); err != nil {
				return err
			}
			if err := closeSockets(ctx, *redisURL, *redisPrefix, arg, "banned"); err != nil {
				return err
			}
		}
		_, err := st.AddModEvent(ctx, chatr.ModEvent{Actor: *by, Action: cmd, TargetUser: arg, At: now})
		return err
	case "delete":
		d, ok := st.(chatr.UserDeleter)
		if !ok {
			return fmt.Errorf("%T cannot delete users yet", st)
		}
		if err := st.RevokeTokens(ctx, arg, now); err != nil {
			return err
		}
		if err := d.DeleteUser(ctx, arg, *onDelete == "keep"); err != nil {
			return err
		}
		if err := closeSockets(ctx, *redisURL, *redisPrefix, arg, "account deleted"); err != nil {
			return err
		}
		if err := setAdmin(admins, arg, false); err != nil {
			return err
		}
		fmt.Fprintf(out, "deleted %s (messages: %s)\n", arg, *onDelete)
		return nil
	}
	fs.Usage()
	return fmt.Errorf("admin: unknown command %q", cmd)
}

// endSessions signs the user out everywhere: their sessions go, and access
// tokens issued until now are refused.
func endSessions(ctx context.Context, st chatr.Store, userID string, now time.Time) error {
	if err := st.RevokeTokens(ctx, userID, now); err != nil {
		return err
	}
	return st.DeleteUserSessions(ctx, userID)
}

// closeSockets asks every node of the cluster behind redisURL to close the
// user's sockets with 1008 and reason, through the broker the nodes' hubs
// share. Without a Redis URL it does nothing: a lone node cannot be told.
func closeSockets(ctx context.Context, redisURL, prefix, userID, reason string) error {
	if redisURL == "" {
		return nil
	}
	if !strings.HasSuffix(prefix, ":") {
		prefix += ":"
	}
	rdb, err := redis.Connect(ctx, redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	b := redis.NewBroker(rdb, redis.BrokerConfig{Prefix: prefix, Hub: "chat"})
	defer b.Close()
	return b.Publish(ctx, &hub.Command{Kind: hub.CmdCloseUser, UserID: userID, Reason: reason})
}

// sidecar is a file kept beside the database: given, or the SQLite file's
// path with suffix, or def for other stores (as the server's secret file).
func sidecar(db, given, suffix, def string) string {
	if given != "" {
		return given
	}
	if strings.Contains(db, "://") || aztables.IsConnectionString(db) {
		return def
	}
	return db + suffix
}

// readAdmins returns the user ids in the admins file (none if it is missing).
func readAdmins(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			ids = append(ids, line)
		}
	}
	return ids, nil
}

// setAdmin adds or removes the id and rewrites the file atomically.
func setAdmin(path, userID string, admin bool) error {
	ids, err := readAdmins(path)
	if err != nil {
		return err
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == userID })
	if admin {
		ids = append(ids, userID)
	}
	slices.Sort(ids)
	return writeFileAtomic(path, []byte(strings.Join(append(ids, ""), "\n")))
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

func listUsers(ctx context.Context, st chatr.Store, adminsFile string, out io.Writer) error {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	ids, err := readAdmins(adminsFile)
	if err != nil {
		return err
	}
	admins := chatr.ParseAdmins(os.Getenv("CHATR_ADMINS") + "," + strings.Join(ids, ","))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHANDLE\tNAME\tBANNED\tADMIN")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t@%s\t%s\t%v\t%v\n", u.ID, u.Handle, u.Name, u.Banned, admins.Has(u))
	}
	return tw.Flush()
}

// rotateSecret writes a new random secret; the nodes pick it up when they
// restart. Sessions are stored hashes of their cookies, not signed with the
// secret, so they survive; access tokens (minutes long) are refused.
func rotateSecret(path string, out io.Writer) error {
	if os.Getenv("CHATR_SECRET") != "" {
		return errors.New("CHATR_SECRET is set: change it where it is set (the secret file is not used)")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(b)+"\n")); err != nil {
		return err
	}
	fmt.Fprintf(out, "new secret in %s: restart every node to use it\n", path)
	return nil
}
