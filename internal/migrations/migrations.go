// Package migrations reads a store's numbered schema migrations
// ("0001_init.sql", "0002_read_markers.sql", ...) from an embedded folder,
// in the order they must run. Applying them is each store's own business.
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Step is one migration: its number and SQL.
type Step struct {
	Version int
	Name    string
	SQL     string
}

// Load returns the *.sql files of dir in fsys, ordered by their number
// prefix. A file without a number prefix, or two files with one number, is
// an error.
func Load(fsys fs.FS, dir string) ([]Step, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	steps := make([]Step, 0, len(names))
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("migration %s has no number prefix", name)
		}
		if other, dup := seen[n]; dup {
			return nil, fmt.Errorf("migrations %s and %s share number %d", other, name, n)
		}
		seen[n] = name
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		steps = append(steps, Step{Version: n, Name: name, SQL: string(body)})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].Version < steps[j].Version })
	return steps, nil
}
