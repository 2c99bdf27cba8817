/* Small progressive enhancements; every page works without them. */
(function () {
  "use strict";
  // Forms with alternative credential fields show only the chosen kind's fields.
  function syncChoiceGroups(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (el) {
      var rule = el.dataset.showWhen.split("=");
      var chosen = document.querySelector('input[name="' + rule[0] + '"]:checked');
      var field = el.closest(".field") || el;
      field.hidden = chosen ? chosen.value !== rule[1] : false;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.type === "radio") syncChoiceGroups(document);
    // A <select data-autosubmit> submits its form when changed (no inline onchange: the
    // Content-Security-Policy allows none); data-autosubmit-clear names a field to empty
    // first (a new tenant's projects are not the old one's).
    var select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) {
      var clear = select.dataset.autosubmitClear;
      if (clear && select.form.elements[clear]) select.form.elements[clear].value = "";
      select.form.submit();
    }
  });
  document.addEventListener("DOMContentLoaded", function () { syncChoiceGroups(document); });
  // On a phone the sidebar folds behind the Menu button (CSS hides it under 760 px).
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".menu-toggle");
    if (!toggle) return;
    var open = document.body.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
  // Ask before a destructive action marked with data-confirm.
  document.addEventListener("submit", function (event) {
    var message = event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
