// The public portal's progressive enhancement. Every page works without this file; with it:
// the card is tokenized in the browser (straight to payments-api: the portal never sees the
// number), the quote is re-priced as options change, a guest's manage link hands its token
// over from the URL fragment, and a booking waiting for its payment refreshes itself.
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }

  // --- card entry -------------------------------------------------------------------------
  function cardForm(form) {
    var box = $("#card", form);
    if (!box) { return; }
    var fields = $(".card-fields", box);
    var noscript = $(".card-noscript", box);
    var pm = $("[name=paymentMethodId]", box);
    var message = $("#card-js-error", box);
    fields.hidden = false;
    if (noscript) {
      noscript.hidden = true;
      var sandbox = $("[name=sandboxCard]", noscript);
      if (sandbox) { sandbox.disabled = true; }
    }
    var inputs = { "card.number": "#card-number", "card.expMonth": "#card-exp-month", "card.expYear": "#card-exp-year", "card.cvc": "#card-cvc", "card.holder": "#card-holder" };
    function show(text, field) {
      message.textContent = text;
      message.hidden = !text;
      Object.keys(inputs).forEach(function (k) { $(inputs[k], box).removeAttribute("aria-invalid"); });
      if (field && inputs[field]) {
        var el = $(inputs[field], box);
        el.setAttribute("aria-invalid", "true");
        el.setAttribute("aria-describedby", "card-js-error");
        el.focus();
      }
    }
    form.addEventListener("submit", function (e) {
      var number = $("#card-number", box).value.trim();
      if (!number && pm.value) { return; } // a card already tokenized for this form
      e.preventDefault();
      var body = { card: {
        number: number,
        expMonth: parseInt($("#card-exp-month", box).value, 10) || 0,
        expYear: parseInt($("#card-exp-year", box).value, 10) || 0,
        cvc: $("#card-cvc", box).value.trim(),
        holder: $("#card-holder", box).value.trim()
      } };
      var button = $("button[type=submit]", form);
      if (button) { button.disabled = true; }
      fetch(box.getAttribute("data-api") || "/api/payments/methods", {
        method: "POST", credentials: "omit",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      }).then(function (resp) {
        return resp.json().then(function (doc) { return { ok: resp.ok, doc: doc }; });
      }).then(function (r) {
        if (button) { button.disabled = false; }
        if (r.ok && r.doc.id) {
          pm.value = r.doc.id;
          // The card's fields have no name: submitting sends only the payment method.
          form.submit();
          return;
        }
        var first = (r.doc.errors && r.doc.errors[0]) || {};
        show(first.reason || r.doc.detail || r.doc.title || "card refused", first.field);
      }).catch(function () {
        if (button) { button.disabled = false; }
        show("The payment service could not be reached. Please try again.");
      });
    });
  }

  // --- live quote ---------------------------------------------------------------------------
  function liveQuote(form) {
    var timer;
    form.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = form.action + "?" + new URLSearchParams(new FormData(form)).toString();
        fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
          .then(function (resp) { return resp.text(); })
          .then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.getElementById("quote");
            var old = document.getElementById("quote");
            if (fresh && old) {
              old.replaceWith(document.importNode(fresh, true));
              history.replaceState(null, "", url);
            }
          })
          .catch(function () { /* the button still re-prices */ });
      }, 250);
    });
  }

  // --- the guest's manage link: the token travels in the fragment ----------------------------
  function fragmentToken(form) {
    var m = /^#token=([^&]+)/.exec(window.location.hash);
    if (!m) { return; }
    var input = $("[name=token]", form);
    input.value = decodeURIComponent(m[1]);
    history.replaceState(null, "", window.location.pathname + window.location.search);
    form.submit();
  }

  // --- a booking waiting for its payment -----------------------------------------------------
  function poll(el) {
    var n = parseInt(sessionStorage.getItem("portal-poll") || "0", 10);
    if (n > 60) { return; }
    sessionStorage.setItem("portal-poll", String(n + 1));
    setTimeout(function () { window.location.replace(el.getAttribute("data-poll")); }, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["#book-form", "#retry-card-form"].forEach(function (sel) {
      var f = $(sel);
      if (f) { cardForm(f); }
    });
    var q = $("#quote-form");
    if (q) { liveQuote(q); }
    var t = $("form[data-fragment-token]");
    if (t) { fragmentToken(t); }
    var p = $("[data-poll]");
    if (p) { poll(p); } else { sessionStorage.removeItem("portal-poll"); }
  });
})();
