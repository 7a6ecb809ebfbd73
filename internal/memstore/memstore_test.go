package memstore_test

import (
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/memstore"
	"github.com/chatr/chatr/storetest"
)

// TestContract runs the conformance suite, so that the fuzz targets built
// on this store see what a real store would answer.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chatr.Store { return memstore.New() })
}

func TestDump(t *testing.T) {
	storetest.RunDump(t, func(t *testing.T) chatr.Store { return memstore.New() })
}
