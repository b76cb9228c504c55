package database

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// BackgroundConns bounds the background pool (DB.Background).
var BackgroundConns int32 = 4

// Background is a small pool of its own beside db.Pool for the event pipeline's plumbing —
// the outbox relays' passes and marks, the in-process broker's queues — opened on first use
// and closed by DB.Close (issue 19). On the request pool they queued behind the requests:
// with `orange dev`'s 16 connections busy with bookings and deliveries, a relay's empty
// pass waited 0.2–0.5 s for a connection and a booking's confirmation seconds, while the
// work it queued behind could not finish before the events it waited for were relayed. Its
// connections are few and short-lived (one statement each, no transaction held open
// across a call), so it adds at most BackgroundConns connections per process, idle ones
// closed after pgxpool's idle time.
func (db *DB) Background() *pgxpool.Pool {
	db.sessMu.Lock()
	defer db.sessMu.Unlock()
	if db.bg == nil {
		cfg := db.Pool.Config() // a copy
		cfg.MaxConns, cfg.MinConns = BackgroundConns, 0
		if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
			cfg.ConnConfig.RuntimeParams["application_name"] = "orange-background"
		}
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			return db.Pool // cannot happen for a config a pool was made of; the request pool still works
		}
		db.bg = pool
	}
	return db.bg
}

// closeBackground closes the background pool, if it was opened.
func (db *DB) closeBackground() {
	db.sessMu.Lock()
	bg := db.bg
	db.bg = nil
	db.sessMu.Unlock()
	if bg != nil {
		bg.Close()
	}
}
