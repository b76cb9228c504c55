package payments

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// UseMethod is useMethod, for the tests of how payments on one card run side by side.
func (s *Store) UseMethod(ctx context.Context, tx pgx.Tx, id, customerID string) (string, error) {
	return s.useMethod(ctx, tx, id, customerID)
}

// ErrUnusableMethod is errUnusableMethod.
var ErrUnusableMethod = errUnusableMethod
