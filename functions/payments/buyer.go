package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/platform"
)

// An invoice names a business customer's company and VAT id, read from customers-api. That
// call is made before the transaction that issues the invoice, never inside it: a
// transaction holds a database connection, and customers-api (in `orange dev` on the same
// pool) may need one to answer — a burst of invoices would wait on itself. The record read
// travels in the context to where the invoice is issued.

type buyerKey struct{}

// withBuyer returns ctx carrying customer c as customers-api has it.
func withBuyer(ctx context.Context, c customersapi.Record) context.Context {
	return context.WithValue(ctx, buyerKey{}, c)
}

// buyerIn returns what an invoice of customerID says of its buyer: a business's company name
// and VAT id, if ctx carries that customer's record; else nothing (billed by id).
func buyerIn(ctx context.Context, customerID string) customersapi.Record {
	c, ok := ctx.Value(buyerKey{}).(customersapi.Record)
	if !ok || c.ID != customerID || c.Type != "business" {
		return customersapi.Record{}
	}
	return c
}

// readBuyer reads customer id from customers-api, as payments-api, into ctx. A customer
// customers-api does not know is billed by id; customers-api unreachable or failing is an
// error (a 5xx: the caller, or the Broker, retries).
func (s *Service) readBuyer(ctx context.Context, id string) (context.Context, error) {
	if s.customers == nil || !platform.ValidUUID(id) {
		return ctx, nil
	}
	c, err := s.customers.Customer(ctx, id)
	var ce *platform.CallError
	switch {
	case errors.As(err, &ce) && ce.Status == http.StatusNotFound:
		return ctx, nil
	case err != nil:
		return ctx, fmt.Errorf("reading customer %s for an invoice: %w", id, err)
	}
	c.ID = id
	return withBuyer(ctx, c), nil
}

// invoicing are the events whose handling may issue an invoice, and whether it must wait
// for customers-api: the return and the fees do (the Broker retries); an authorization only
// invoices a fee when the booking's end came first, and is never held up by customers-api
// (without it that rare invoice names no company).
var invoicing = map[string]bool{
	events.ReservationCompleted: true, events.ReservationCancelled: true, events.ReservationNoShow: true,
	events.ReservationCreated: false, events.ReservationPaymentRequested: false,
}

// prefetchBuyer reads, before the receiver's transaction, the customer of an event that may
// issue an invoice. It only peeks: the body is given back untouched for the receiver to
// decode and judge (a malformed event is still its 400).
func (s *Service) prefetchBuyer(next platform.HandlerFunc) platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.customers == nil || r.Body == nil {
			return next(w, r)
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, events.MaxEventBytes+1))
		if err != nil {
			return platform.Invalid("the event could not be read")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		typ, data := r.Header.Get("Ce-Type"), body
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/cloudevents+json" {
			var structured struct {
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			}
			if json.Unmarshal(body, &structured) != nil {
				return next(w, r)
			}
			typ, data = structured.Type, structured.Data
		}
		required, ok := invoicing[typ]
		if !ok {
			return next(w, r)
		}
		var res struct {
			CustomerID string `json:"customerId"`
		}
		if json.Unmarshal(data, &res) != nil {
			return next(w, r)
		}
		ctx, err := s.readBuyer(r.Context(), res.CustomerID)
		if err != nil && required {
			return err
		}
		return next(w, r.WithContext(ctx))
	}
}
