-- Guest holds (issue 11): five guest bookings with throw-away addresses held every free car
-- of a branch, renewably. Each guest booking that reaches the hold is recorded here — who (by
-- mailbox and by client address) and when — and a new one is refused while the mailbox has
-- RESERVATION_GUEST_HOLDS_PER_EMAIL open holds or the address made
-- RESERVATION_GUEST_HOLDS_PER_ADDRESS guest bookings within RESERVATION_GUEST_WINDOW
-- (docs/security.md has the numbers).
--
-- The mailbox is kept as the SHA-256 of its normalized address (lower case, "+tag" removed),
-- not the address: it only has to be compared. The client address is the one the gateway
-- decided (IPv6 by its /64). Rows are deleted once older than the window, by the next guest
-- booking: this table remembers an hour, not a person.
CREATE TABLE reservations.guest_holds (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NULL while the booking is on its way (its claim counts already); the hold once made.
    reservation_id uuid UNIQUE REFERENCES reservations.reservations (id) ON DELETE CASCADE,
    mailbox        text NOT NULL CHECK (mailbox ~ '^[0-9a-f]{64}$'),
    client_address text NOT NULL CHECK (char_length(client_address) BETWEEN 1 AND 64),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX guest_holds_address_idx ON reservations.guest_holds (client_address, created_at);
CREATE INDEX guest_holds_mailbox_idx ON reservations.guest_holds (mailbox, created_at);
CREATE INDEX guest_holds_created_idx ON reservations.guest_holds (created_at);
