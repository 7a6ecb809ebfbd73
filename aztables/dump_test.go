package aztables_test

import (
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/storetest"
)

func TestDump(t *testing.T) {
	storetest.RunDump(t, func(t *testing.T) chatr.Store { return open(t, connString(t)) })
}

func TestDeleteUser(t *testing.T) {
	storetest.RunDeleteUser(t, func(t *testing.T) chatr.Store { return open(t, connString(t)) })
}
