package aztables_test

import (
	"testing"

	"github.com/chatr/chatr/storetest"
)

func TestFiles(t *testing.T) {
	storetest.RunFiles(t, func(t *testing.T) storetest.FileStore { return open(t, connString(t)) })
}
