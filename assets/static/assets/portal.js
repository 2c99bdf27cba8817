/* Provider portal: small progressive enhancements; every form also works without them. */
(function () {
  "use strict";

  // "Other info": Markdown or an external link, one at a time.
  function syncMode(fieldset) {
    var checked = fieldset.querySelector(".mode-switch input:checked");
    var mode = checked ? checked.value : "markdown";
    fieldset.querySelectorAll("[data-show-mode]").forEach(function (block) {
      block.hidden = block.getAttribute("data-show-mode") !== mode;
    });
  }
  document.querySelectorAll("[data-other-info]").forEach(function (fieldset) {
    syncMode(fieldset);
    fieldset.addEventListener("change", function () { syncMode(fieldset); });
  });

  // Specs & pricing rows: "+ Add plan" clones the empty form; "Remove" marks it deleted.
  var rows = document.getElementById("plan-rows");
  var template = document.getElementById("plan-row-template");
  var total = document.querySelector("input[name$='-TOTAL_FORMS']");
  var add = document.querySelector("[data-add-plan]");
  if (rows && template && total && add) {
    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10) || 0;
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var first = rows.lastElementChild.querySelector("input[type=text]");
      if (first) { first.focus(); }
    });
    rows.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-plan]");
      if (!button) { return; }
      var row = button.closest("[data-plan-row]");
      var flag = row.querySelector("input[name$='-DELETE']");
      if (flag) { flag.checked = true; }
      row.hidden = true;
    });
  }
})();
