package postgres_test

import (
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/storetest"
)

func TestDump(t *testing.T) {
	server(t)
	storetest.RunDump(t, func(t *testing.T) chatr.Store { return openFresh(t) })
}

func TestDeleteUser(t *testing.T) {
	server(t)
	storetest.RunDeleteUser(t, func(t *testing.T) chatr.Store { return openFresh(t) })
}
