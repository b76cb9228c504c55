package payments

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// kindTitles name what an invoice bills, on its PDF.
var kindTitles = map[string]string{
	KindRental:       "Car rental",
	KindCancellation: "Cancellation fee",
	KindNoShow:       "No-show fee",
}

// berlin is where invoices are dated (their numbers count Europe/Berlin years too).
var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}()

// money shows cents as euros with two decimals: -1234 → "-12.34".
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// InvoicePDF renders inv as an A4 PDF: who issued it and for whom (a business's company
// name and VAT id), the number, date and kind, every line (quantity, unit net, net), the
// net total, VAT 19 % and the gross. The same invoice always renders to the same bytes
// (the document's dates are the issue time). Text uses the PDF core font Helvetica in
// Windows-1252, which covers German.
func InvoicePDF(inv Invoice) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	issued := inv.IssuedAt.In(berlin)
	pdf.SetCreationDate(issued)
	pdf.SetModificationDate(issued)
	pdf.SetCatalogSort(true)
	pdf.SetTitle("Invoice "+inv.Number, true)
	pdf.SetCreator("Orange Car Rental payments-api", true)
	pdf.SetAutoPageBreak(true, 20)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252
	text := func(style string, size float64, w, h float64, s, align string, ln int) {
		pdf.SetFont("Helvetica", style, size)
		pdf.CellFormat(w, h, tr(s), "", ln, align, false, 0, "")
	}
	pdf.AddPage()
	text("B", 16, 0, 8, "Orange Car Rental", "L", 1)
	pdf.Ln(6)
	text("B", 14, 0, 8, "Invoice "+inv.Number, "L", 1)
	text("", 10, 0, 5, kindTitles[inv.Kind], "L", 1)
	text("", 10, 0, 5, "Date: "+issued.Format("2006-01-02"), "L", 1)
	text("", 10, 0, 5, "Reservation: "+inv.ReservationID, "L", 1)
	text("", 10, 0, 5, "Customer: "+inv.CustomerID, "L", 1)
	if inv.CompanyName != "" {
		text("", 10, 0, 5, "Company: "+inv.CompanyName, "L", 1)
	}
	if inv.VATID != "" {
		text("", 10, 0, 5, "VAT id: "+inv.VATID, "L", 1)
	}
	pdf.Ln(6)

	cols := []struct {
		title string
		w     float64
		align string
	}{{"Description", 90, "L"}, {"Quantity", 20, "R"}, {"Per", 20, "L"}, {"Unit net", 25, "R"}, {"Net " + inv.Currency, 25, "R"}}
	pdf.SetFont("Helvetica", "B", 10)
	for _, c := range cols {
		pdf.CellFormat(c.w, 7, tr(c.title), "B", 0, c.align, false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range inv.Lines {
		cells := []string{l.Description, fmt.Sprint(l.Quantity), l.Per, money(l.UnitNetCents), money(l.NetCents)}
		for i, c := range cols {
			pdf.CellFormat(c.w, 6, tr(cells[i]), "", 0, c.align, false, 0, "")
		}
		pdf.Ln(-1)
	}
	pdf.Ln(2)
	total := func(style, label, amount string) {
		pdf.SetFont("Helvetica", style, 10)
		pdf.CellFormat(155, 6, tr(label), "", 0, "R", false, 0, "")
		pdf.CellFormat(25, 6, tr(amount), "", 1, "R", false, 0, "")
	}
	total("", "Net", money(inv.NetCents))
	total("", fmt.Sprintf("VAT %d %%", inv.VATRatePercent), money(inv.VATCents))
	total("B", "Gross "+inv.Currency, money(inv.GrossCents))
	pdf.Ln(6)
	// Nothing about how it is paid: the invoice stays the same record whatever happens to
	// the payment (a second charge declined, a refund), and an invoice by hand is charged to
	// no card, named payment or not. It said "Paid by the card of the booking" on all of them.
	text("", 9, 0, 5, "Amounts in "+inv.Currency+".", "L", 1)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// handleGetInvoicePDF answers an invoice as a PDF (application/pdf), to whom may read it.
func (s *Service) handleGetInvoicePDF(w http.ResponseWriter, r *http.Request) error {
	inv, err := s.invoiceFor(r)
	if err != nil {
		return err
	}
	b, err := InvoicePDF(inv)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s.pdf"`, inv.Number))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}
