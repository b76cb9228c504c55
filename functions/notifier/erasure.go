package notifier

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// erase applies customer.erased inside tx: the recipient becomes a tombstone (no address,
// no name, no phone; customer events arriving later cannot bring them back, and no mail or
// SMS is made for the customer any more), every notification of the customer loses its
// address, name and body (one still pending is given up), their pickup reminders are
// deleted (and no reservation event schedules one again), and in folder mode their mail and
// SMS files are deleted. A repeat changes nothing. The files go before the commit: should
// the commit fail, the redelivered event deletes nothing more and commits the rest.
//
// The reminders go first: a sweep locks a reminder and then the recipient (FOR SHARE), so the
// erasure takes its locks in the same order — it waits for a sweep queuing the customer's
// reminder and then redacts what that queued, instead of deadlocking with it.
func (s *Service) erase(ctx context.Context, tx pgx.Tx, customerID string, version int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM notifier.reminders WHERE customer_id = $1`, customerID); err != nil {
		return err
	}
	ids, err := eraseRecipient(ctx, tx, customerID, version)
	if err != nil {
		return err
	}
	if err := s.removeFiles(ids); err != nil {
		return err
	}
	platform.LoggerFrom(ctx).InfoContext(ctx, "customer erased", slog.String("customer", customerID),
		slog.Int("notifications", len(ids)))
	return nil
}

// forgetIfErased removes the file of notification id, just written by a folder sender,
// when its customer was erased while the message was being written: the erasure deleted the
// files that existed then, and the sender's outcome found the row no longer pending.
func (s *Service) forgetIfErased(ctx context.Context, logger *slog.Logger, id string) {
	if s.folder == "" && s.smsFolder == "" {
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
	if err := s.removeFiles([]string{id}); err != nil {
		logger.ErrorContext(ctx, "remove the message of an erased customer", slog.String("error", err.Error()))
		return
	}
	logger.InfoContext(ctx, "message of a customer erased during the send removed")
}

// removeFiles deletes the files of notifications ids from the mail and SMS folders (those
// that are in folder mode): a notification's file is in one of them, by its channel.
func (s *Service) removeFiles(ids []string) error {
	if s.folder != "" {
		if err := removeMail(s.folder, ids); err != nil {
			return err
		}
	}
	if s.smsFolder != "" {
		return removeSMS(s.smsFolder, ids)
	}
	return nil
}
