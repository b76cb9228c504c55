package reports_test

import (
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reports"
)

// november is a small month of events at branch BER (Berlin, UTC+1 in November): three
// cars (two compacts all month, an SUV from the 16th), five bookings — a rental, a one-way
// rental, an SUV rental still running, a cancellation with a fee, a no-show — and an
// unpaid hold that expired. The expected figures below are worked out by hand.
func november() []event {
	var evs []event
	n := 0
	add := func(typ, when string, data any) {
		n++
		evs = append(evs, event{id: fmt.Sprintf("e%02d", n), typ: typ, at: at(when), data: data})
	}
	car := func(typ, id string, version int64, category, status, when string) {
		add(typ, when, events.Vehicle{VehicleID: id, Version: version, Category: category, LocationCode: "BER", Status: status, LicensePlate: "B-OC " + id})
	}
	car(events.VehicleCreated, "car1", 1, "compact", "available", "2026-10-01T08:00:00Z")
	car(events.VehicleUpdated, "car1", 2, "compact", "available", "2026-10-20T08:00:00Z")
	car(events.VehicleCreated, "car2", 1, "compact", "available", "2026-10-01T08:00:00Z")
	car(events.VehicleMoved, "car2", 2, "compact", "available", "2026-10-02T08:00:00Z")
	car(events.VehicleCreated, "car3", 1, "suv", "available", "2026-11-16T09:00:00Z")
	car(events.VehicleStatusChanged, "car3", 2, "suv", "rented", "2026-11-20T10:00:00Z")

	booking := func(id, category, ret, pickup, back string) func(typ string, version int64, status, when string, fee int64) {
		return func(typ string, version int64, status, when string, fee int64) {
			add(typ, when, events.Reservation{ReservationID: id, Version: version, CustomerID: "c-" + id, VehicleID: "v", Category: category,
				PickupLocation: "BER", ReturnLocation: ret, PickupAt: pickup, ReturnAt: back, Status: status, TotalGross: 1, Currency: "EUR", FeeCents: fee})
		}
	}
	invoice := func(id, reservation, kind string, net, vat int64, when string) {
		add(events.InvoiceIssued, when, events.Invoice{InvoiceID: id, Version: 1, Number: "N-" + id, ReservationID: reservation, CustomerID: "c",
			NetCents: net, VatCents: vat, GrossCents: net + vat, Currency: "EUR", Kind: kind})
	}
	// R1: compact, 3 days (5th–7th), booked 95 h before pickup; invoiced 300.00 net.
	r1 := booking("r1", "compact", "BER", "2026-11-05T09:00:00Z", "2026-11-08T09:00:00Z")
	r1(events.ReservationCreated, 1, "pending", "2026-11-01T10:00:00Z", 0)
	r1(events.ReservationConfirmed, 2, "confirmed", "2026-11-01T10:05:00Z", 0)
	r1(events.ReservationActivated, 3, "active", "2026-11-05T09:00:00Z", 0)
	r1(events.ReservationCompleted, 4, "completed", "2026-11-08T09:30:00Z", 0)
	invoice("i1", "r1", "rental", 30000, 5700, "2026-11-08T09:31:00Z")
	add(events.PaymentCaptured, "2026-11-08T09:32:00Z", events.Payment{PaymentID: "p1", Version: 3, ReservationID: "r1", AmountCents: 35700, Currency: "EUR", Status: "captured"})
	// R2: one-way to HAM, 50 h = 3 charged days (10th–12th), booked 188 h ahead; 200.00 net.
	r2 := booking("r2", "compact", "HAM", "2026-11-10T08:00:00Z", "2026-11-12T10:00:00Z")
	r2(events.ReservationCreated, 1, "pending", "2026-11-02T12:00:00Z", 0)
	r2(events.ReservationConfirmed, 2, "confirmed", "2026-11-02T12:01:00Z", 0)
	r2(events.ReservationActivated, 3, "active", "2026-11-10T08:00:00Z", 0)
	r2(events.ReservationCompleted, 4, "completed", "2026-11-12T10:00:00Z", 0)
	invoice("i2", "r2", "rental", 20000, 3800, "2026-11-12T10:01:00Z")
	// R3: SUV, 1 day (20th), still running at the month's end: car-days, no revenue yet.
	r3 := booking("r3", "suv", "BER", "2026-11-20T10:00:00Z", "2026-11-21T10:00:00Z")
	r3(events.ReservationCreated, 1, "pending", "2026-11-15T10:00:00Z", 0)
	r3(events.ReservationConfirmed, 2, "confirmed", "2026-11-15T10:01:00Z", 0)
	r3(events.ReservationActivated, 3, "active", "2026-11-20T10:00:00Z", 0)
	// R4: compact, booked 528 h ahead, cancelled on the 20th with a fee of 50.00 gross.
	r4 := booking("r4", "compact", "BER", "2026-11-25T10:00:00Z", "2026-11-27T10:00:00Z")
	r4(events.ReservationCreated, 1, "pending", "2026-11-03T10:00:00Z", 0)
	r4(events.ReservationConfirmed, 2, "confirmed", "2026-11-03T10:01:00Z", 0)
	r4(events.ReservationCancelled, 3, "cancelled", "2026-11-20T15:00:00Z", 5000)
	invoice("i4", "r4", "cancellation", 4202, 798, "2026-11-20T15:01:00Z")
	add(events.PaymentRefunded, "2026-11-20T15:02:00Z", events.Payment{PaymentID: "p4", Version: 4, ReservationID: "r4", AmountCents: 1000, Currency: "EUR", Status: "refunded"})
	// R5: SUV, booked 144 h ahead, a no-show marked at 02:00 Berlin on the 23rd; fee 80.00.
	r5 := booking("r5", "suv", "BER", "2026-11-22T10:00:00Z", "2026-11-24T10:00:00Z")
	r5(events.ReservationCreated, 1, "pending", "2026-11-16T10:00:00Z", 0)
	r5(events.ReservationConfirmed, 2, "confirmed", "2026-11-16T10:01:00Z", 0)
	r5(events.ReservationNoShow, 3, "no_show", "2026-11-23T01:00:00Z", 8000)
	invoice("i5", "r5", "no_show", 6723, 1277, "2026-11-23T01:01:00Z")
	// R6: an unpaid hold that expired: no booking.
	r6 := booking("r6", "compact", "BER", "2026-11-28T10:00:00Z", "2026-11-29T10:00:00Z")
	r6(events.ReservationCreated, 1, "pending", "2026-11-04T10:00:00Z", 0)
	r6(events.ReservationExpired, 2, "expired", "2026-11-04T10:20:00Z", 0)
	return evs
}

// The hand-computed figures of November (docs/reports.md has the definitions).
var (
	wantTotal = reports.Figures{
		AvailableCarDays: 75, RentedCarDays: 7, Utilisation: 0.0933, // 2 × 30 + 15 car-days; 3 + 3 + 1
		RevenueNetCents: 60925, RevenueVatCents: 11575, RevenueGrossCents: 72500,
		RentalNetCents: 50000, FeeNetCents: 10925,
		// ADR over the 6 invoiced car-days (R3's running day has no invoice yet); RevPAC per
		// available car-day: 50000 / 6 = 8333.3; 50000 / 75 = 666.7.
		ADRCents: 8333, RevPACCents: 667,
		Bookings: 5, Cancellations: 1, CancellationFeeCents: 5000, NoShows: 1,
		AverageLeadTimeDays: 9, OneWayShare: 0.2, // (95 + 188 + 120 + 528 + 144) h / 5 / 24 = 8.96
	}
	wantCompact = reports.Row{Period: "2026-11-01", Branch: "BER", Category: "compact", Figures: reports.Figures{
		AvailableCarDays: 60, RentedCarDays: 6, Utilisation: 0.1,
		RevenueNetCents: 54202, RevenueVatCents: 10298, RevenueGrossCents: 64500, RentalNetCents: 50000, FeeNetCents: 4202,
		ADRCents: 8333, RevPACCents: 833, Bookings: 3, Cancellations: 1, CancellationFeeCents: 5000, // 50000 / 6; 50000 / 60
		AverageLeadTimeDays: 11.3, OneWayShare: 0.3333, // 811 h / 3 / 24 = 11.26
	}}
	wantSUV = reports.Row{Period: "2026-11-01", Branch: "BER", Category: "suv", Figures: reports.Figures{
		AvailableCarDays: 15, RentedCarDays: 1, Utilisation: 0.0667,
		RevenueNetCents: 6723, RevenueVatCents: 1277, RevenueGrossCents: 8000, FeeNetCents: 6723,
		Bookings: 2, NoShows: 1, AverageLeadTimeDays: 5.5,
	}}
)

const novemberMonthly = "/api/reports?from=2026-11&to=2026-11&granularity=month"

// TestNovemberByHand delivers the month shuffled and every event twice (Knative delivers
// at least once; brokers keep no order), in four different orders: the figures are the
// hand-computed ones each time, and a rebuild from the raw log gives the same model and
// the same report. The fourth order is the month backwards: every newer event before the
// older ones (a confirmed before its created, a car's update before its creation).
func TestNovemberByHand(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("order %d", seed), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			evs := november()
			evs = append(evs, evs...)
			if seed == 3 {
				slices.Reverse(evs)
			} else {
				rand.New(rand.NewPCG(seed, 15)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
			}
			for _, e := range evs {
				r := w.deliver(e)
				require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r.status, r.String())
			}
			require.Equal(t, len(november()), w.count(`SELECT count(*) FROM reports.events`))
			r := w.get("frank", novemberMonthly, "")
			require.Equal(t, http.StatusOK, r.status, r.String())
			rep := decode[reports.Report](t, r)
			assert.Equal(t, wantTotal, rep.Total)
			assert.Equal(t, []reports.Row{wantCompact, wantSUV}, rep.Rows)
			assert.Zero(t, w.count(`SELECT count(*) FROM reports.events WHERE payload::text LIKE '%c-r%'`),
				"no customer id in the raw log")

			before, model := r.body, w.dump()
			rb := w.post("ada", "/api/reports/rebuild")
			require.Equal(t, http.StatusOK, rb.status, rb.String())
			assert.Equal(t, len(november()), decode[reports.Rebuilt](t, rb).Replayed)
			assert.Equal(t, model, w.dump(), "the rebuilt model equals the incremental one")
			assert.JSONEq(t, string(before), string(w.get("frank", novemberMonthly, "").body))
		})
	}
}

// TestDailyFigures checks single days: a rental's revenue spread over its charged days (the
// odd cents on the first), a fee on the day of the no-show in Berlin time.
func TestDailyFigures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, e := range november() {
		require.Less(t, w.deliver(e).status, 300)
	}
	rep := decode[reports.Report](t, w.get("ada", "/api/reports?from=2026-11-10&to=2026-11-23&granularity=day&branch=BER", ""))
	rows := map[string]reports.Row{}
	for _, r := range rep.Rows {
		rows[r.Period+" "+r.Category] = r
	}
	for _, c := range []struct {
		key                string
		available, rented  int64
		net, vat, gross    int64
		noShows, cancelled int64
	}{
		{"2026-11-10 compact", 2, 1, 6667, 1267, 7934, 0, 0},
		{"2026-11-11 compact", 2, 1, 6667, 1267, 7934, 0, 0}, // a day's gross is its net + VAT
		{"2026-11-12 compact", 2, 1, 6666, 1266, 7932, 0, 0},
		{"2026-11-16 suv", 1, 0, 0, 0, 0, 0, 0},
		{"2026-11-20 suv", 1, 1, 0, 0, 0, 0, 0},
		{"2026-11-20 compact", 2, 0, 4202, 798, 5000, 0, 1},
		{"2026-11-23 suv", 1, 0, 6723, 1277, 8000, 1, 0},
	} {
		r, ok := rows[c.key]
		require.True(t, ok, c.key)
		assert.Equal(t, []int64{c.available, c.rented, c.net, c.vat, c.gross, c.noShows, c.cancelled},
			[]int64{r.AvailableCarDays, r.RentedCarDays, r.RevenueNetCents, r.RevenueVatCents, r.RevenueGrossCents, r.NoShows, r.Cancellations}, c.key)
	}
	// R3 was booked on the 15th; the SUV joined the fleet on the 16th.
	assert.EqualValues(t, 1, rows["2026-11-15 suv"].Bookings)
	assert.Zero(t, rows["2026-11-15 suv"].AvailableCarDays)
	assert.EqualValues(t, 14*2+8, rep.Total.AvailableCarDays)

	// A month row of part of a month: the 15 days' car-days, RevPAC per available car-day.
	half := decode[reports.Report](t, w.get("frank", "/api/reports?from=2026-11-01&to=2026-11-15&granularity=month&category=compact", ""))
	require.Len(t, half.Rows, 1)
	assert.Equal(t, "2026-11-01", half.Rows[0].Period)
	assert.Equal(t, []int64{30, 6, 50000, 1667, 8333}, []int64{half.Rows[0].AvailableCarDays, half.Rows[0].RentedCarDays,
		half.Rows[0].RentalNetCents, half.Rows[0].RevPACCents, half.Rows[0].ADRCents}) // 50000 / 30
	// A code in another case is the same code (it found nothing).
	upper := decode[reports.Report](t, w.get("frank", "/api/reports?from=2026-11-01&to=2026-11-15&granularity=month&category=COMPACT", ""))
	require.Len(t, upper.Rows, 1)
	assert.Equal(t, half.Rows[0].Figures, upper.Rows[0].Figures)
}

// TestRentedDaysAreChargedDays: a rental's car-days are the days pricing charges it for, its
// grace hour included — a Saturday-to-Sunday rental over October's clock change lasts 25 h
// and is one day charged; counted as two, it halved the average daily rate.
func TestRentedDaysAreChargedDays(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for i, e := range []event{
		{typ: events.VehicleCreated, at: "2027-10-01T08:00:00Z", data: events.Vehicle{VehicleID: "car1", Version: 1, Category: "compact",
			LocationCode: "BER", Status: "available", LicensePlate: "B-OC 1"}},
		{typ: events.ReservationActivated, at: "2027-10-30T08:00:00Z", data: events.Reservation{ReservationID: "r1", Version: 3,
			CustomerID: "c", VehicleID: "car1", Category: "compact", PickupLocation: "BER", ReturnLocation: "BER",
			PickupAt: "2027-10-30T10:00:00+02:00", ReturnAt: "2027-10-31T10:00:00+01:00", Status: "active", TotalGross: 1, Currency: "EUR"}},
		{typ: events.ReservationCompleted, at: "2027-10-31T09:00:00Z", data: events.Reservation{ReservationID: "r1", Version: 4,
			CustomerID: "c", VehicleID: "car1", Category: "compact", PickupLocation: "BER", ReturnLocation: "BER",
			PickupAt: "2027-10-30T10:00:00+02:00", ReturnAt: "2027-10-31T10:00:00+01:00", Status: "completed", TotalGross: 1, Currency: "EUR"}},
		{typ: events.InvoiceIssued, at: "2027-10-31T09:01:00Z", data: events.Invoice{InvoiceID: "i1", Version: 1, Number: "N-1",
			ReservationID: "r1", CustomerID: "c", NetCents: 4000, VatCents: 760, GrossCents: 4760, Currency: "EUR", Kind: "rental"}},
	} {
		e.id = fmt.Sprintf("d%02d", i)
		require.Less(t, w.deliver(e).status, 300)
	}
	rep := decode[reports.Report](t, w.get("ada", "/api/reports?from=2027-10-30&to=2027-10-31&granularity=day&branch=BER", ""))
	assert.EqualValues(t, 1, rep.Total.RentedCarDays)
	assert.EqualValues(t, 4000, rep.Total.RentalNetCents)
	assert.EqualValues(t, 4000, rep.Total.ADRCents, "the daily rate charged")
}

// TestAnInvoiceByHandOfABookingNeverRented: payments invoices a cancelled booking by hand
// (kind rental, as every invoice by hand); it is revenue on the day the booking ended, not a
// rental spread over days nobody rented — it added them to ADR's divisor.
func TestAnInvoiceByHandOfABookingNeverRented(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	booking := events.Reservation{CustomerID: "c", VehicleID: "car1", Category: "compact", PickupLocation: "BER", ReturnLocation: "BER",
		PickupAt: "2027-10-10T10:00:00+02:00", ReturnAt: "2027-10-13T10:00:00+02:00", TotalGross: 1, Currency: "EUR"}
	rented, cancelled := booking, booking
	rented.ReservationID, rented.Version, rented.Status = "r1", 4, "completed"
	cancelled.ReservationID, cancelled.Version, cancelled.Status = "r2", 3, "cancelled"
	for i, e := range []event{
		{typ: events.VehicleCreated, at: "2027-10-01T08:00:00Z", data: events.Vehicle{VehicleID: "car1", Version: 1, Category: "compact",
			LocationCode: "BER", Status: "available", LicensePlate: "B-OC 1"}},
		{typ: events.ReservationCompleted, at: "2027-10-13T08:00:00Z", data: rented},
		{typ: events.InvoiceIssued, at: "2027-10-13T08:01:00Z", data: events.Invoice{InvoiceID: "i1", Version: 1, Number: "N-1",
			ReservationID: "r1", CustomerID: "c", NetCents: 9000, VatCents: 1710, GrossCents: 10710, Currency: "EUR", Kind: "rental"}},
		{typ: events.ReservationCancelled, at: "2027-10-05T08:00:00Z", data: cancelled},
		{typ: events.InvoiceIssued, at: "2027-10-20T08:00:00Z", data: events.Invoice{InvoiceID: "i2", Version: 1, Number: "N-2",
			ReservationID: "r2", CustomerID: "c", NetCents: 1000, VatCents: 190, GrossCents: 1190, Currency: "EUR", Kind: "rental"}},
	} {
		e.id = fmt.Sprintf("h%02d", i)
		require.Less(t, w.deliver(e).status, 300)
	}
	rep := decode[reports.Report](t, w.get("ada", "/api/reports?from=2027-10-01&to=2027-10-31&granularity=month&branch=BER", ""))
	assert.EqualValues(t, 3, rep.Total.RentedCarDays)
	assert.EqualValues(t, 9000, rep.Total.RentalNetCents, "the rental only")
	assert.EqualValues(t, 3000, rep.Total.ADRCents, "9000 over the 3 rented days, not over 6")
	assert.EqualValues(t, 10000, rep.Total.RevenueNetCents, "both invoices are revenue")
	assert.EqualValues(t, 1900, rep.Total.RevenueVatCents)
}

// TestFreezeOnce: the ping of 1 December, 02:00 Berlin, freezes November once (a second
// ping, a redelivery, change nothing and announce nothing again), the frozen report is not
// changed by a later event while the live report is, and the announcement holds no
// personal data.
func TestFreezeOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, e := range november() {
		require.Less(t, w.deliver(e).status, 300)
	}
	assert.Equal(t, http.StatusNotFound, w.get("frank", "/api/reports/monthly/2026-11", "").status)
	// Two pings at once (two replicas, a retry racing the original), then a redelivery.
	ping := event{id: "ping-1", typ: events.Ping, at: "2026-12-01T01:00:00Z", data: map[string]string{"report": "monthly"}}
	pings := []event{ping, {id: "ping-2", typ: events.Ping, at: "2026-12-01T01:00:30Z", data: map[string]string{}}}
	statuses := make(chan int, len(pings))
	var wg sync.WaitGroup
	for _, p := range pings {
		wg.Go(func() { statuses <- w.deliver(p).status })
	}
	wg.Wait()
	close(statuses)
	for status := range statuses {
		require.Less(t, status, 300)
	}
	require.Less(t, w.deliver(ping).status, 300)
	assert.Equal(t, 1, w.count(`SELECT count(*) FROM reports.frozen`))
	assert.Equal(t, 1, w.count(`SELECT count(*) FROM reports.outbox WHERE type = $1 AND subject = '2026-11'`, events.ReportFrozen))
	var data string
	require.NoError(t, w.db.Pool.QueryRow(t.Context(), `SELECT data::text FROM reports.outbox WHERE type = $1`, events.ReportFrozen).Scan(&data))
	assert.Contains(t, data, `"revenueNetCents": 60925`)
	assert.NotContains(t, data, "c-r")

	frozen := w.get("frank", "/api/reports/monthly/2026-11", "")
	require.Equal(t, http.StatusOK, frozen.status, frozen.String())
	f := decode[reports.Frozen](t, frozen)
	assert.Equal(t, wantTotal, f.Report.Total)

	// A late invoice for November: the live report moves, the frozen one does not.
	late := event{id: "late", typ: events.InvoiceIssued, at: "2026-12-02T09:00:00Z", data: events.Invoice{InvoiceID: "i3", Version: 1,
		Number: "N-i3", ReservationID: "r3", NetCents: 10000, VatCents: 1900, GrossCents: 11900, Currency: "EUR", Kind: "rental"}}
	require.Less(t, w.deliver(late).status, 300)
	assert.EqualValues(t, 70925, decode[reports.Report](t, w.get("frank", novemberMonthly, "")).Total.RevenueNetCents)
	assert.JSONEq(t, string(frozen.body), string(w.get("frank", "/api/reports/monthly/2026-11", "").body))
}

// TestFormats: CSV (by Accept and by format=csv) has the header, a row per row and the
// total; the SVG parses as XML with a title and a description and no script.
func TestFormats(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, e := range november() {
		require.Less(t, w.deliver(e).status, 300)
	}
	for _, path := range []string{novemberMonthly + "&format=csv", novemberMonthly} {
		r := w.get("frank", path, "text/csv")
		require.Equal(t, http.StatusOK, r.status, r.String())
		assert.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
		records, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		require.NoError(t, err)
		require.Len(t, records, 4)
		assert.Equal(t, []string{"period", "branch", "category"}, records[0][:3])
		assert.Equal(t, []string{"2026-11-01", "BER", "compact", "60", "6", "0.1"}, records[1][:6])
		assert.Equal(t, "total", records[3][0])
		assert.Equal(t, "60925", records[3][6])
	}

	r := w.get("frank", "/api/reports?from=2026-11&to=2026-11&format=svg", "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, "image/svg+xml; charset=utf-8", r.header.Get("Content-Type"))
	dec := xml.NewDecoder(strings.NewReader(string(r.body)))
	var names []string
	var title string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the SVG is well-formed XML")
		if se, ok := tok.(xml.StartElement); ok {
			names = append(names, se.Name.Local)
			if se.Name.Local == "title" && title == "" {
				var s string
				require.NoError(t, dec.DecodeElement(&s, &se))
				title = s
			}
		}
	}
	assert.Equal(t, "svg", names[0])
	rects := 0
	for _, n := range names {
		if n == "rect" {
			rects++
		}
	}
	assert.Equal(t, 1+30, rects, "the background and a bar for every day of November")
	assert.Contains(t, names, "desc")
	assert.Contains(t, names, "polyline")
	assert.NotContains(t, names, "script")
	assert.Contains(t, title, "2026-11-01 to 2026-11-30")
}

// TestBadQueries: every bad key is named in a 400 problem; who may read.
func TestBadQueries(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, c := range []struct {
		query, field string
	}{
		{"to=2026-11-30", "from"},
		{"from=2026-11-01", "to"},
		{"from=2026-13-01&to=2026-12-01", "from"},
		{"from=2026-11-30&to=2026-11-01", "to"},
		{"from=2020-01-01&to=2026-11-01", "to"},
		{"from=2025-01-01&to=2027-01-02", "to"}, // 732 days: one over REPORT_MAX_DAYS
		{"from=2026-11&to=2026-11&granularity=week", "granularity"},
		{"from=2026-11&to=2026-11&format=pdf", "format"},
		{"from=2026-11&to=2026-11&branch=%3Cscript%3E", "branch"},
		{"from=2026-11&to=2026-11&category=", "category"},
		{"from=2026-11&to=2026-11&sort=x", "sort"},
	} {
		r := w.get("frank", "/api/reports?"+c.query, "")
		require.Equal(t, http.StatusBadRequest, r.status, c.query)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), c.query)
		assert.Contains(t, string(r.body), `"`+c.field+`"`, c.query)
	}
	assert.Equal(t, http.StatusOK, w.get("frank", "/api/reports?from=2025-01-01&to=2027-01-01&granularity=month", "").status,
		"731 days, both counted, are within the bound")
	assert.Equal(t, http.StatusBadRequest, w.get("frank", "/api/reports/monthly/2026-1", "").status)
	assert.Equal(t, http.StatusBadRequest, w.get("frank", "/api/reports/monthly/november", "").status)
	for user, status := range map[string]int{"": 401, "carla": 403, "frank": 200, "ada": 200} {
		assert.Equal(t, status, w.get(user, "/api/reports?from=2026-11&to=2026-11", "").status, user)
	}
	assert.Equal(t, http.StatusForbidden, w.post("frank", "/api/reports/rebuild").status)
}

// TestRefusedEvents: an event report-worker cannot read is answered 400 and changes
// nothing; a delivery from a sender not its own is refused.
func TestRefusedEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, e := range []event{
		{id: "x1", typ: events.ReservationCreated, at: "2026-11-01T10:00:00Z", data: map[string]any{"reservationId": "r"}},
		{id: "x2", typ: events.VehicleCreated, at: "2026-11-01T10:00:00Z", data: map[string]any{"vehicleId": "v"}},
		{id: "x3", typ: events.InvoiceIssued, at: "2026-11-01T10:00:00Z", data: "not an object"},
	} {
		r := w.deliver(e)
		assert.Equal(t, http.StatusBadRequest, r.status, r.String())
	}
	assert.Zero(t, w.count(`SELECT count(*) FROM reports.events`))
	assert.Zero(t, w.count(`SELECT count(*) FROM reports.reservations`))
}

// TestCSVCells: a code that a spreadsheet would read as a formula is written as text.
func TestCSVCells(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	require.Less(t, w.deliver(event{id: "v", typ: events.VehicleCreated, at: "2026-11-01T08:00:00Z", data: events.Vehicle{
		VehicleID: "car", Version: 1, Category: "+compact", LocationCode: `=HYPERLINK("http://x")`, Status: "available"}}).status, 300)
	r := w.get("frank", "/api/reports?from=2026-11-02&to=2026-11-02&format=csv", "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	records, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 3)
	assert.Equal(t, []string{"2026-11-02", `'=HYPERLINK("http://x")`, "'+compact", "1"}, records[1][:4])
}

// TestEventWithoutTime: an event without a time attribute counts at its receipt, and the
// raw log keeps that time, so a rebuild later dates it the same.
func TestEventWithoutTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	received, err := time.Parse(time.RFC3339, "2026-11-03T23:30:00Z") // the 4th in Berlin
	require.NoError(t, err)
	reports.SetClock(w.svc, func() time.Time { return received })
	require.Less(t, w.deliver(event{id: "x", typ: events.ReservationCreated, data: events.Reservation{ReservationID: "r", Version: 1,
		Category: "compact", PickupLocation: "BER", PickupAt: "2026-11-10T10:00:00Z", ReturnAt: "2026-11-11T10:00:00Z",
		Status: "pending"}}).status, 300)
	reports.SetClock(w.svc, time.Now)
	bookingsOn := func() map[string]int64 {
		rep := decode[reports.Report](t, w.get("frank", "/api/reports?from=2026-11&to=2026-11", ""))
		out := map[string]int64{}
		for _, r := range rep.Rows {
			out[r.Period] += r.Bookings
		}
		return out
	}
	assert.Equal(t, map[string]int64{"2026-11-04": 1}, bookingsOn())
	require.Equal(t, http.StatusOK, w.post("ada", "/api/reports/rebuild").status)
	assert.Equal(t, map[string]int64{"2026-11-04": 1}, bookingsOn())
}

// TestNegotiate: the Accept header's qualities and order decide, not the mere mention of a
// type (which answered CSV to "application/json, text/csv" and to "text/csv;q=0").
func TestNegotiate(t *testing.T) {
	t.Parallel()
	for accept, want := range map[string]string{
		"":                               reports.FormatJSON,
		"application/json":               reports.FormatJSON,
		"text/csv":                       reports.FormatCSV,
		"image/svg+xml":                  reports.FormatSVG,
		"application/json, text/csv":     reports.FormatJSON,
		"text/csv, application/json":     reports.FormatCSV,
		"text/csv;q=0, application/json": reports.FormatJSON,
		"image/svg+xml;q=0.1, application/json;q=0.9": reports.FormatJSON,
		"application/json;q=0.5, TEXT/CSV":            reports.FormatCSV,
		"text/html, */*;q=0.8":                        reports.FormatJSON,
		"text/*, image/svg+xml;q=0.5":                 reports.FormatCSV, // text/* names text/csv
		"image/*;q=0.9, application/json;q=0.5":       reports.FormatSVG,
		"*/*":                                         reports.FormatJSON,
		"*/*;q=0.1, text/csv;q=0.2":                   reports.FormatCSV,
		"application/json;q=0":                        reports.FormatJSON, // nothing acceptable: disregarded
		"text/csv;q=0":                                reports.FormatJSON,
		"garbage":                                     reports.FormatJSON,
	} {
		assert.Equal(t, want, reports.Negotiate(accept), accept)
	}
}
