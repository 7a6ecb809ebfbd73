package postgres_test

import (
	"testing"

	"github.com/chatr/chatr/storetest"
)

func TestFiles(t *testing.T) {
	server(t) // skip (or fail in CI) once, not in every subtest
	storetest.RunFiles(t, func(t *testing.T) storetest.FileStore { return openFresh(t) })
}
