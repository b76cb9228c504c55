#!/usr/bin/env bash
# A complete booking against a running `make run`, by curl, the way the portals would do it:
# alice books a car, pays (the sandbox authorizes), picks it up (carla records the odometer
# and a full tank), returns it with a quarter tank missing (a REFUEL charge) and gets an
# invoice of every priced line and four emails; then she books another car 24–48 hours ahead
# and cancels, paying the 50 % fee from the authorization while the rest is released, with
# an invoice of its own; last, she lists her own bookings.
#
#   make run &            # in another terminal
#   scripts/walkthrough.sh
#
# Needs curl, jq and GNU date. BASE overrides the address. Bookings must fit the branch's
# opening hours (BER-HBF: Mon–Fri 07:00–21:00, Sat 08:00–20:00, Sun 09:00–18:00,
# Europe/Berlin; docs/counter.md): the first pickup is in ten minutes, so run it while the
# branch is open; the other times are chosen inside the hours.
set -euo pipefail
BASE=${BASE:-http://localhost:8080}
ALICE_ID=11111111-1111-4111-8111-111111111111

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
token() {
  curl -sf "$BASE/realms/orange-car-rental/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=public-portal -d username="$1" -d password="$1" | jq -r .access_token
}
at() { date -u -d "$1" +%FT%TZ; }
# berlin_noon <days ahead>: 12:00 in Berlin that day (inside BER-HBF's hours every day).
berlin_noon() { date -u -d "TZ=\"Europe/Berlin\" $(TZ=Europe/Berlin date -d "+$1 days" +%F) 12:00" +%FT%TZ; }
# in_fee_window: the first whole hour 26–46 h ahead between 10:00 and 14:00 in Berlin — a
# pickup the branch is open for, cancelled 24–48 h ahead (a 50 % fee).
in_fee_window() {
  local h t local_hour
  for h in $(seq 26 46); do
    t=$(date -u -d "+$h hours" +%FT%H:00:00Z)
    local_hour=$(TZ=Europe/Berlin date -d "$t" +%-H)
    if [ "$local_hour" -ge 10 ] && [ "$local_hour" -le 14 ]; then echo "$t"; return; fi
  done
}
# wait_for <what> <command…>: retries the command until it succeeds (events take a moment).
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for: $what" >&2
  return 1
}
reservation() { curl -sf "$BASE/api/reservations/$1" -H "Authorization: Bearer $ALICE"; }
status_is() { [ "$(reservation "$1" | jq -r .status)" = "$2" ]; }
mails_to_alice() { curl -sf "$BASE/dev/mail" | jq '[.items[] | select(.to | contains("alice@example.com"))] | length'; }

ALICE=$(token alice)
AGENT=$(token carla)
MAILS_BEFORE=$(mails_to_alice)

# Card details go to payments-api only: it answers an opaque payment method (pm_…), which is
# all a booking carries (4242… is the sandbox's card that pays).
card() { # card → payment method id
  curl -sf "$BASE/api/payments/methods" -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
    -d '{"card": {"number": "4242 4242 4242 4242", "expMonth": 12, "expYear": '"$(( $(date +%Y) + 2 ))"', "cvc": "123", "holder": "Alice Hartmann"}}' |
    jq -r .id
}

book() { # book <pickup> <return> → reservation id
  local car pm answer
  car=$(curl -sf "$BASE/api/vehicles?location=BER-HBF&pickup=$1&return=$2&category=KOMPAKT" | jq -r '.items[0].id')
  [ "$car" != null ] || { echo "no free KOMPAKT in Berlin" >&2; exit 1; }
  pm=$(card)
  answer=$(curl -s "$BASE/api/reservations" -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: walkthrough-$(date +%s%N)" \
    -d '{"vehicleId": "'"$car"'", "pickupLocation": "BER-HBF", "pickupAt": "'"$1"'", "returnAt": "'"$2"'",
         "insurance": "PARTIAL", "paymentMethodId": "'"$pm"'"}')
  # A refusal (a branch closed at that hour: 422) is shown as the problem it is.
  jq -e '.id' <<<"$answer" >/dev/null 2>&1 || { echo "the booking was refused:" >&2; jq . <<<"$answer" >&2; exit 1; }
  jq -r .id <<<"$answer"
}
# counter <reservation> <activate|complete> <json body>: carla at the desk; the readings are required.
counter() {
  curl -sf -X POST "$BASE/api/reservations/$1/$2" -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: walkthrough-$(date +%s%N)" -d "$3"
}

say "1. Alice books a compact car in Berlin from now until noon in three days"
R1=$(book "$(at '+10 minutes')" "$(berlin_noon 3)")
reservation "$R1" | jq -c '{id, status, totalGrossCents, holdExpiresAt}'

say "2. payments-api authorizes the card on reservation.created; payment.authorized confirms the booking"
wait_for "confirmation of $R1" status_is "$R1" confirmed
reservation "$R1" | jq -c '{id, status}'
curl -sf "$BASE/api/payments?reservation=$R1" -H "Authorization: Bearer $ALICE" | jq -c '.items[] | {status, authorizedCents}'

say "3. Carla at the counter hands over the car (pickup), recording the odometer and a full tank …"
counter "$R1" activate '{"odometerKm": 12000, "fuelEighths": 8}' | jq -c '{id, status, counter}'

say "4. … and takes it back (return) with 6/8 of a tank: REFUEL 2 × 12.00 € net; payments captures and invoices every line"
counter "$R1" complete '{"odometerKm": 12480, "fuelEighths": 6, "damageNotes": "small scratch, rear bumper"}' |
  jq -c '{id, status, lateFeeCents, returnCharges: .counter.returnCharges}'
invoice() { # invoice <reservation>
  curl -sf "$BASE/api/invoices?customer=$ALICE_ID&pageSize=100" -H "Authorization: Bearer $ALICE" |
    jq -e --arg r "$1" '.items[] | select(.reservationId == $r)'; }
wait_for "the invoice of $R1" invoice "$R1"
invoice "$R1" | jq -c '{number, kind, netCents, vatCents, grossCents}'
invoice "$R1" | jq -r '.lines[] | "  \(.code)  \(.quantity) × \(.unitNetCents) = \(.netCents)"'
curl -sf "$BASE/api/payments?reservation=$R1" -H "Authorization: Bearer $ALICE" | jq -c '.items[] | {status, authorizedCents, capturedCents}'

say "5. Four emails: confirmed, returned, payment, invoice"
four_more() { [ "$(mails_to_alice)" -ge $((MAILS_BEFORE + 4)) ]; }
wait_for "four emails to alice" four_more
curl -sf "$BASE/dev/mail" | jq -r '.items[] | select(.to | contains("alice@example.com")) | "  \(.date)  \(.subject)"' | head -4

say "6. Alice books another car between 24 and 48 hours ahead, then cancels: 50 % fee, the rest released"
P2=$(in_fee_window)
R2=$(book "$P2" "$(date -u -d "$P2 + 3 hours" +%FT%TZ)")
wait_for "confirmation of $R2" status_is "$R2" confirmed
curl -sf -X POST "$BASE/api/reservations/$R2/cancel" -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -d '{"reason": "plans changed"}' | jq -c '{id, status, feeCents, totalGrossCents}'
settled() { curl -sf "$BASE/api/payments?reservation=$R2" -H "Authorization: Bearer $ALICE" | jq -e '.items[] | select(.status == "captured")'; }
wait_for "the fee capture of $R2" settled
curl -sf "$BASE/api/payments?reservation=$R2" -H "Authorization: Bearer $ALICE" | jq -c '.items[] | {status, authorizedCents, capturedCents}'
wait_for "the cancellation invoice of $R2" invoice "$R2"
invoice "$R2" | jq -c '{number, kind, lines: [.lines[] | {code, netCents}], vatCents, grossCents}'

say "7. Alice lists her own bookings (a customer sees only hers)"
curl -sf "$BASE/api/reservations?sort=-createdAt&pageSize=5" -H "Authorization: Bearer $ALICE" |
  jq -c '.items[] | {id, status, totalGrossCents, feeCents}'

say "Done."
