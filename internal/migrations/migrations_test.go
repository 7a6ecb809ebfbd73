package migrations_test

import (
	"testing"
	"testing/fstest"

	"github.com/chatr/chatr/internal/migrations"
)

func TestLoadOrdersByNumber(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql": {Data: []byte("B")},
		"m/0002_first.sql": {Data: []byte("A")},
		"m/README.md":      {Data: []byte("not a migration")},
	}
	steps, err := migrations.Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].Version != 2 || steps[0].SQL != "A" || steps[1].Version != 10 || steps[1].Name != "m/0010_later.sql" {
		t.Errorf("steps = %+v", steps)
	}
	for _, bad := range []fstest.MapFS{
		{"m/init.sql": {}},
		{"m/0001_a.sql": {}, "m/1_b.sql": {}},
	} {
		if _, err := migrations.Load(bad, "m"); err == nil {
			t.Errorf("Load(%v) accepted bad names", bad)
		}
	}
}
