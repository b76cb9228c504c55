package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
)

// Reduced payloads: what the model reads of each event, and all the raw log keeps (no
// customer id, no payment method, no price lines).
type (
	reservationFacts struct {
		ReservationID  string `json:"reservationId"`
		Version        int64  `json:"version"`
		Category       string `json:"category"`
		PickupLocation string `json:"pickupLocation"`
		ReturnLocation string `json:"returnLocation"`
		PickupAt       string `json:"pickupAt"`
		ReturnAt       string `json:"returnAt"`
		Status         string `json:"status"`
		FeeCents       int64  `json:"feeCents"`
	}
	invoiceFacts struct {
		InvoiceID     string `json:"invoiceId"`
		Version       int64  `json:"version"`
		ReservationID string `json:"reservationId"`
		Kind          string `json:"kind"`
		NetCents      int64  `json:"netCents"`
		VatCents      int64  `json:"vatCents"`
		GrossCents    int64  `json:"grossCents"`
	}
	paymentFacts struct {
		PaymentID     string `json:"paymentId"`
		Version       int64  `json:"version"`
		ReservationID string `json:"reservationId"`
		Status        string `json:"status"`
		AmountCents   int64  `json:"amountCents"`
	}
	vehicleFacts struct {
		VehicleID    string `json:"vehicleId"`
		Version      int64  `json:"version"`
		Category     string `json:"category"`
		LocationCode string `json:"locationCode"`
		Status       string `json:"status"`
	}
)

// handleEvent applies one delivery inside the inbox transaction: a ping freezes last month,
// any other event is logged and applied.
func (s *Service) handleEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	if e.Type() == events.Ping {
		return nil, s.freeze(ctx, tx, e.ID(), s.pingTime(e))
	}
	at := e.Time()
	if at.IsZero() {
		at = s.now()
	}
	facts, err := reduce(e)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(facts)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO reports.events (source, id, type, at, payload) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, e.Source(), e.ID(), e.Type(), at, payload); err != nil {
		return nil, err
	}
	return nil, apply(ctx, tx, e.Type(), at, facts)
}

// pingTime is when the ping was sent (its time attribute), else now.
func (s *Service) pingTime(e cloudevents.Event) time.Time {
	if t := e.Time(); !t.IsZero() {
		return t
	}
	return s.now()
}

// reduce decodes e's data into the reduced payload of its type; a type report-worker does
// not read, or data that is not its payload, is permanent.
func reduce(e cloudevents.Event) (any, error) {
	t := e.Type()
	switch {
	case strings.HasPrefix(t, "com.orangecarrental.reservation."):
		f, err := events.DecodeData[reservationFacts](e)
		if err == nil {
			err = f.check()
		}
		return f, err
	case t == events.InvoiceIssued:
		f, err := events.DecodeData[invoiceFacts](e)
		if err == nil && (f.InvoiceID == "" || f.ReservationID == "") {
			err = events.Permanentf("invoice.issued without invoiceId or reservationId")
		}
		return f, err
	case t == events.PaymentCaptured || t == events.PaymentCharged || t == events.PaymentRefunded:
		f, err := events.DecodeData[paymentFacts](e)
		if err == nil && f.PaymentID == "" {
			err = events.Permanentf("%s without paymentId", t)
		}
		return f, err
	case strings.HasPrefix(t, "com.orangecarrental.vehicle."):
		f, err := events.DecodeData[vehicleFacts](e)
		if err == nil && (f.VehicleID == "" || f.LocationCode == "" || f.Category == "") {
			err = events.Permanentf("%s without vehicleId, locationCode or category", t)
		}
		return f, err
	}
	return nil, events.Permanentf("report-worker does not read %s", t)
}

func (f reservationFacts) check() error {
	if f.ReservationID == "" || f.PickupLocation == "" || f.Category == "" || f.Status == "" {
		return events.Permanentf("reservation event without reservationId, pickupLocation, category or status")
	}
	if _, err := time.Parse(time.RFC3339, f.PickupAt); err != nil {
		return events.Permanentf("reservation %s: pickupAt is not RFC 3339", f.ReservationID)
	}
	if _, err := time.Parse(time.RFC3339, f.ReturnAt); err != nil {
		return events.Permanentf("reservation %s: returnAt is not RFC 3339", f.ReservationID)
	}
	return nil
}

// The upserts. Each writes the newer version's fields only (version guard) and folds the
// times order-independently: booked_at and in_fleet_from keep the earliest event time.
const (
	upsertReservation = `INSERT INTO reports.reservations AS r
		(reservation_id, version, branch, return_branch, category, pickup_at, return_at, status, booked_at, ended_at, fee_cents)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $8 IN ('cancelled', 'no_show', 'expired') THEN $9::timestamptz END, $10)
		ON CONFLICT (reservation_id) DO UPDATE SET
			booked_at = least(r.booked_at, excluded.booked_at),
			version = CASE WHEN excluded.version > r.version THEN excluded.version ELSE r.version END,
			branch = CASE WHEN excluded.version > r.version THEN excluded.branch ELSE r.branch END,
			return_branch = CASE WHEN excluded.version > r.version THEN excluded.return_branch ELSE r.return_branch END,
			category = CASE WHEN excluded.version > r.version THEN excluded.category ELSE r.category END,
			pickup_at = CASE WHEN excluded.version > r.version THEN excluded.pickup_at ELSE r.pickup_at END,
			return_at = CASE WHEN excluded.version > r.version THEN excluded.return_at ELSE r.return_at END,
			status = CASE WHEN excluded.version > r.version THEN excluded.status ELSE r.status END,
			ended_at = CASE WHEN excluded.version > r.version THEN excluded.ended_at ELSE r.ended_at END,
			fee_cents = CASE WHEN excluded.version > r.version THEN excluded.fee_cents ELSE r.fee_cents END`
	upsertInvoice = `INSERT INTO reports.invoices (invoice_id, version, reservation_id, kind, net_cents, vat_cents, gross_cents, issued_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (invoice_id) DO UPDATE SET version = excluded.version, reservation_id = excluded.reservation_id,
			kind = excluded.kind, net_cents = excluded.net_cents, vat_cents = excluded.vat_cents,
			gross_cents = excluded.gross_cents, issued_at = excluded.issued_at
		WHERE excluded.version > reports.invoices.version`
	upsertPayment = `INSERT INTO reports.payments (payment_id, version, reservation_id, status, amount_cents, at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (payment_id) DO UPDATE SET version = excluded.version, reservation_id = excluded.reservation_id,
			status = excluded.status, amount_cents = excluded.amount_cents, at = excluded.at
		WHERE excluded.version > reports.payments.version`
	upsertVehicle = `INSERT INTO reports.vehicles AS v (vehicle_id, version, branch, category, status, in_fleet_from, in_fleet_to)
		VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $5 = 'out_of_service' THEN $6::timestamptz END)
		ON CONFLICT (vehicle_id) DO UPDATE SET
			in_fleet_from = least(v.in_fleet_from, excluded.in_fleet_from),
			version = CASE WHEN excluded.version > v.version THEN excluded.version ELSE v.version END,
			branch = CASE WHEN excluded.version > v.version THEN excluded.branch ELSE v.branch END,
			category = CASE WHEN excluded.version > v.version THEN excluded.category ELSE v.category END,
			status = CASE WHEN excluded.version > v.version THEN excluded.status ELSE v.status END,
			in_fleet_to = CASE WHEN excluded.version > v.version THEN excluded.in_fleet_to ELSE v.in_fleet_to END`
)

// apply writes one event's facts into the model.
func apply(ctx context.Context, tx pgx.Tx, typ string, at time.Time, facts any) error {
	var err error
	switch f := facts.(type) {
	case reservationFacts:
		pickup, _ := time.Parse(time.RFC3339, f.PickupAt)
		ret, _ := time.Parse(time.RFC3339, f.ReturnAt)
		returnBranch := f.ReturnLocation
		if returnBranch == "" {
			returnBranch = f.PickupLocation
		}
		_, err = tx.Exec(ctx, upsertReservation, f.ReservationID, f.Version, f.PickupLocation, returnBranch,
			f.Category, pickup, ret, f.Status, at, f.FeeCents)
	case invoiceFacts:
		kind := f.Kind
		if kind == "" {
			kind = "rental"
		}
		_, err = tx.Exec(ctx, upsertInvoice, f.InvoiceID, f.Version, f.ReservationID, kind, f.NetCents, f.VatCents, f.GrossCents, at)
	case paymentFacts:
		_, err = tx.Exec(ctx, upsertPayment, f.PaymentID, f.Version, f.ReservationID, f.Status, f.AmountCents, at)
	case vehicleFacts:
		_, err = tx.Exec(ctx, upsertVehicle, f.VehicleID, f.Version, f.LocationCode, f.Category, f.Status, at)
	default:
		return fmt.Errorf("no model for %s", typ)
	}
	return err
}

// Rebuild truncates the model and re-applies the raw log (frozen months stay as they are).
// It locks the log against concurrent deliveries for its length: they wait, then apply on
// the rebuilt model.
func (s *Service) Rebuild(ctx context.Context) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE reports.events IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `TRUNCATE reports.reservations, reports.invoices, reports.payments, reports.vehicles`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT type, at, payload FROM reports.events`)
		if err != nil {
			return err
		}
		type logged struct {
			typ     string
			at      time.Time
			payload []byte
		}
		var all []logged
		for rows.Next() {
			var l logged
			if err := rows.Scan(&l.typ, &l.at, &l.payload); err != nil {
				return err
			}
			all = append(all, l)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, l := range all {
			e := cloudevents.NewEvent()
			e.SetType(l.typ)
			if err := e.SetData(cloudevents.ApplicationJSON, json.RawMessage(l.payload)); err != nil {
				return err
			}
			facts, err := reduce(e)
			if err != nil {
				return fmt.Errorf("replay %s: %w", l.typ, err)
			}
			if err := apply(ctx, tx, l.typ, l.at, facts); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
