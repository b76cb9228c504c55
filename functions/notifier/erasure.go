package notifier

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// erase applies customer.erased inside tx: the recipient becomes a tombstone (no address,
// no name; customer events arriving later cannot bring them back, and no mail is made for
// the customer any more), every notification of the customer loses its address, name and
// body (one still pending is given up), and in folder mode their mail files are deleted. A
// repeat changes nothing. The files go before the commit: should the commit fail, the
// redelivered event deletes nothing more and commits the rest.
func (s *Service) erase(ctx context.Context, tx pgx.Tx, customerID string, version int64) error {
	ids, err := eraseRecipient(ctx, tx, customerID, version)
	if err != nil {
		return err
	}
	if s.folder != "" {
		if err := removeMail(s.folder, ids); err != nil {
			return err
		}
	}
	platform.LoggerFrom(ctx).InfoContext(ctx, "customer erased", slog.String("customer", customerID),
		slog.Int("notifications", len(ids)))
	return nil
}

// forgetIfErased removes the file of notification id, just written by the folder sender,
// when its customer was erased while the message was being written: the erasure deleted the
// files that existed then, and the sender's outcome found the row no longer pending.
func (s *Service) forgetIfErased(ctx context.Context, logger *slog.Logger, id string) {
	if s.folder == "" {
		return
	}
	var erased bool
	if err := s.db.Pool.QueryRow(ctx, erasedNotificationSQL, id).Scan(&erased); err != nil {
		logger.ErrorContext(ctx, "check for an erasure during the send", slog.String("error", err.Error()))
		return
	}
	if !erased {
		return // another replica sent and marked it meanwhile
	}
	if err := removeMail(s.folder, []string{id}); err != nil {
		logger.ErrorContext(ctx, "remove the mail of an erased customer", slog.String("error", err.Error()))
		return
	}
	logger.InfoContext(ctx, "mail of a customer erased during the send removed")
}
