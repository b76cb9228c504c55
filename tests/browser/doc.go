// Package browser holds the browser tests of the two portals (issue 16): Debian's Chromium,
// headless, driven by chromedp through the real system started in this process exactly as
// `orange dev` runs it — every function behind one port, the gateway, the development
// issuer's login page, the in-process broker, the notifier's mailbox — over a PostgreSQL of
// its own.
//
// What runs (portals_test.go, TestPortals): a guest books and pays with the sandbox card
// 4242424242424242, reads the mail with the manage link in the development mailbox, opens
// it in a fresh browser and cancels, the fee shown first; alice mistypes her password, signs
// in, books, changes the dates and sees the new price before and after confirming; bob's
// card 4000000000000002 is declined, the page says so and the second card books; an agent
// finds a customer by name, hands the car over at the counter, has a bad odometer reading
// refused in place, takes the car back and sees the invoice; refused forms — the search, a
// guest's details, a change ending before it starts, the login, the call center's customer
// search, a return reading — show the field's error in place and keep what was typed;
// an agent's session does not reach the public portal and the public portal refuses the
// agent's account, and the reverse for a customer; the search works with the keyboard
// alone (skip link, focus order, Enter); with JavaScript off, bob books with the sandbox's
// test card (progressive enhancement). Every main page is audited with axe-core (WCAG 2.1
// A/AA and best practices; any serious or critical violation fails) and must fit a phone
// (375 px: a viewport tag, no sideways scrolling). TestHarnessChecksCanFail shows on pages
// with known faults that each of those checks can fail.
//
// Decisions:
//   - Chromium missing is a failure, not a skip: `make test` must not pass without the
//     browser tests having run. `.ci/run` installs it; the message says how.
//   - axe-core comes from the npm registry (`make axe-core`, a prerequisite of `make test`),
//     pinned and checked by its registry checksum, into the git-ignored .cache/. It is put
//     into each page through the DevTools protocol (Runtime.evaluate), which the portals'
//     Content-Security-Policy does not govern: the CSP stays exactly as served.
//   - Each journey has its own browser context (cookies, storage), its own timeout and its
//     own branch, so journeys run in parallel without picking each other's cars.
//   - Branches are opened around the clock (the tests book at whatever hour the clock
//     shows); the counter journey needs "today" to last a while in the pickup branch's time
//     zone, so late in Berlin's evening it moves that branch to a zone where it is daytime.
//   - A page that throws a script error or reports a CSP violation fails its journey.
//   - Each step (a navigation, a wait for an element) has 30 s, each journey 150 s: a page
//     that does not show what is awaited fails in seconds, with the page's text printed.
//   - The refused forms are sent with the browser's own checks turned off (noValidate): they
//     stop a person before the server, and the acceptance is about the server's answer.
//   - The declined card is bob's, signed in: he gives another card on the same page. A guest
//     does it through the mailed link (docs/public-portal.md); the guest journey covers
//     that link.
//   - ORANGE_SCREENSHOTS=<dir> (`make screenshots`: docs/screenshots) writes each main
//     page at desktop (1280×800) and phone (375×812) width as PNG, viewport only (about
//     1.8 MB for the 16 pages); the steps between them are checked but not photographed.
package browser
