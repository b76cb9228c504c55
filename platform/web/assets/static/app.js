// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Focus the first invalid field of a form that came back with errors, so keyboard and
  // screen-reader users land where the problem is.
  document.addEventListener("DOMContentLoaded", function () {
    var bad = document.querySelector("[aria-invalid=true]");
    if (bad) { bad.focus(); }
    // Forms marked data-autosubmit submit when one of their fields changes (a quote that
    // updates as options change); without script the form's own button does the same.
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("change", function () {
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      });
    });
    // A form marked data-autopost is sent at once (the sign-out's step to the issuer,
    // posted so that the ID token it carries is in no URL); without script its button.
    document.querySelectorAll("form[data-autopost]").forEach(function (form) { form.submit(); });
    // Buttons marked data-confirm ask before their form is sent (cancellations).
    document.querySelectorAll("[data-confirm]").forEach(function (el) {
      el.addEventListener("click", function (e) {
        if (!window.confirm(el.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });
  });
})();
