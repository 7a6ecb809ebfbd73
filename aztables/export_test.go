package aztables

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Submit is the function that runs a message transaction.
type Submit = func(ctx context.Context, actions []aztables.TransactionAction) error

// WrapSubmit makes the store run its message transactions through wrap,
// which gets the real one.
func WrapSubmit(s *Store, wrap func(ctx context.Context, actions []aztables.TransactionAction, real Submit) error) {
	real := s.submit
	s.submit = func(ctx context.Context, actions []aztables.TransactionAction) error { return wrap(ctx, actions, real) }
}
