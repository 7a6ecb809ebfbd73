package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/aztables"
	"github.com/chatr/chatr/postgres"
	"github.com/chatr/chatr/sqlite"
)

// command is an operator subcommand: chatr NAME [flags] [args].
type command struct {
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
}

var commands = map[string]command{
	"backup":  {"copy a live SQLite database (and the files folder) to a file", runBackup},
	"restore": {"put a backup in place of a database no server is using", runRestore},
	"migrate": {"copy everything from one store to another (resumable)", runMigrate},
	"export":  {"write a user's data or a chat's history as JSON", runExport},
	"admin":   {"list users, grant admin, ban, delete a user, rotate the secret", runAdmin},
}

// subcommand returns the operator command args name, if args[0] names one.
func subcommand(args []string) (func(ctx context.Context) error, bool) {
	if len(args) == 0 {
		return nil, false
	}
	c, ok := commands[args[0]]
	if !ok {
		return nil, false
	}
	return func(ctx context.Context) error {
		err := c.run(ctx, args[1:], os.Stdout)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}, true
}

// commandFlags is a flag set for a subcommand whose --help prints usage,
// then the flags with their CHATR_* variables.
func commandFlags(name, usage string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("chatr "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: chatr %s\n\n", usage)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(fs.Output(), "  --%s (%s)\n    \t%s", f.Name, envName(f.Name), f.Usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
			}
			fmt.Fprintln(fs.Output())
		})
	}
	return fs
}

// openStore opens a store as the server does: a Table Storage connection
// string, a postgres:// URL, or else a SQLite file.
func openStore(ctx context.Context, db string) (chatr.Store, error) {
	switch {
	case db == "":
		return nil, errors.New("no database given")
	case aztables.IsConnectionString(db):
		return aztables.Open(ctx, db)
	case strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://"):
		return postgres.Open(ctx, db)
	}
	return sqlite.Open(ctx, db)
}

func asDumper(st chatr.Store) (chatr.Dumper, error) {
	d, ok := st.(chatr.Dumper)
	if !ok {
		return nil, fmt.Errorf("%T cannot be dumped", st)
	}
	return d, nil
}

// isTerminal reports whether f is a terminal (progress bars) rather than a
// file or pipe (plain lines).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parseArgs is parse (environment, then flags) with flags allowed after
// the positional arguments too (chatr restore FILE --db PATH), which the
// flag package alone stops at. It returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	var pos []string
	for fs.NArg() > 0 {
		rest := fs.Args()
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		if err := fs.Parse(rest[1:]); err != nil {
			return nil, err
		}
	}
	return pos, nil
}
