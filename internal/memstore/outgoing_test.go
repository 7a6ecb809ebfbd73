package memstore_test

import (
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/memstore"
	"github.com/chatr/chatr/storetest"
)

func TestOutgoingWebhooks(t *testing.T) {
	storetest.RunOutgoing(t, func(t *testing.T) chatr.Store { return memstore.New() })
}
