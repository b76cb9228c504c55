#!/usr/bin/env bash
# A complete booking against a running `make run`, by curl, the way the portals would do it:
# alice books a car, pays (the sandbox authorizes), picks it up, returns it and gets an
# invoice and three emails; then she books another car 30 hours ahead and cancels, paying
# the 50 % fee from the authorization while the rest is released.
#
#   make run &            # in another terminal
#   scripts/walkthrough.sh
#
# Needs curl and jq. BASE overrides the address.
set -euo pipefail
BASE=${BASE:-http://localhost:8080}
ALICE_ID=11111111-1111-4111-8111-111111111111

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
token() {
  curl -sf "$BASE/realms/orange-car-rental/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=public-portal -d username="$1" -d password="$1" | jq -r .access_token
}
at() { date -u -d "$1" +%FT%TZ; }
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
  local car pm
  car=$(curl -sf "$BASE/api/vehicles?location=BER-HBF&pickup=$1&return=$2&category=KOMPAKT" | jq -r '.items[0].id')
  [ "$car" != null ] || { echo "no free KOMPAKT in Berlin" >&2; exit 1; }
  pm=$(card)
  curl -sf "$BASE/api/reservations" -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: walkthrough-$(date +%s%N)" \
    -d '{"vehicleId": "'"$car"'", "pickupLocation": "BER-HBF", "pickupAt": "'"$1"'", "returnAt": "'"$2"'",
         "insurance": "PARTIAL", "paymentMethodId": "'"$pm"'"}' | jq -r .id
}

say "1. Alice books a compact car in Berlin from today for three days"
R1=$(book "$(at '+10 minutes')" "$(at '+3 days')")
reservation "$R1" | jq -c '{id, status, totalGrossCents, holdExpiresAt}'

say "2. payments-api authorizes the card on reservation.created; payment.authorized confirms the booking"
wait_for "confirmation of $R1" status_is "$R1" confirmed
reservation "$R1" | jq -c '{id, status}'
curl -sf "$BASE/api/payments?reservation=$R1" -H "Authorization: Bearer $ALICE" | jq -c '.items[] | {status, authorizedCents}'

say "3. Carla at the counter hands over the car (pickup) …"
curl -sf -X POST "$BASE/api/reservations/$R1/activate" -H "Authorization: Bearer $AGENT" | jq -c '{id, status}'

say "4. … and takes it back (return): payments captures and issues the invoice"
curl -sf -X POST "$BASE/api/reservations/$R1/complete" -H "Authorization: Bearer $AGENT" | jq -c '{id, status, lateFeeCents}'
invoice() { curl -sf "$BASE/api/invoices?customer=$ALICE_ID" -H "Authorization: Bearer $ALICE" |
  jq -e --arg r "$R1" '.items[] | select(.reservationId == $r)'; }
wait_for "the invoice of $R1" invoice
invoice | jq -c '{number, netCents, vatCents, grossCents}'
curl -sf "$BASE/api/payments?reservation=$R1" -H "Authorization: Bearer $ALICE" | jq -c '.items[] | {status, authorizedCents, capturedCents}'

say "5. Three emails: confirmed, returned, invoice"
three_more() { [ "$(mails_to_alice)" -ge $((MAILS_BEFORE + 3)) ]; }
wait_for "three emails to alice" three_more
curl -sf "$BASE/dev/mail" | jq -r '.items[] | select(.to | contains("alice@example.com")) | "  \(.date)  \(.subject)"' | head -3

say "6. Alice books another car 30 hours ahead, then cancels: 50 % fee, the rest released"
R2=$(book "$(at '+30 hours')" "$(at '+33 hours')")
wait_for "confirmation of $R2" status_is "$R2" confirmed
curl -sf -X POST "$BASE/api/reservations/$R2/cancel" -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -d '{"reason": "plans changed"}' | jq -c '{id, status, feeCents, totalGrossCents}'
settled() { curl -sf "$BASE/api/payments?reservation=$R2" -H "Authorization: Bearer $ALICE" | jq -e '.items[] | select(.status == "captured")'; }
wait_for "the fee capture of $R2" settled
curl -sf "$BASE/api/payments?reservation=$R2" -H "Authorization: Bearer $ALICE" | jq -c '.items[] | {status, authorizedCents, capturedCents}'

say "Done."
