/* The operand editor: the form view and the YAML view kept in sync.
   A change in the form asks the server for the YAML of the form's values; a change in the
   YAML asks it for the form drawn from that YAML (only when the YAML parses). The server
   owns the conversions (instances/views.py operand_sync), so this file knows no YAML.
   Without it the page still works: a submit merges the fields changed into the YAML. */
(function () {
  "use strict";
  if (window.__operandEditor) return;
  window.__operandEditor = true;

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function init(editor) {
    var form = editor.closest("form");
    var fields = editor.querySelector("[data-operand-fields]");
    var yaml = editor.querySelector("[data-operand-yaml]");
    var yamlError = editor.querySelector("[data-operand-yaml-error]");
    var url = editor.dataset.syncUrl;
    if (!form || !fields || !yaml || !url) return;
    var generation = 0;

    function post(source) {
      var data = new FormData(form);
      data.set("_source", source);
      var mine = ++generation;
      editor.dataset.syncing = "1";
      return fetch(url, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-Requested-With": "fetch" },
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (mine !== generation) return null; // a newer edit is on its way
          delete editor.dataset.syncing;
          return answer;
        })
        .catch(function () { delete editor.dataset.syncing; return null; });
    }

    var formChanged = debounce(function () {
      post("form").then(function (answer) {
        if (!answer || typeof answer.yaml !== "string") return;
        if (document.activeElement !== yaml) yaml.value = answer.yaml;
        yamlError.hidden = true;
        editor.dataset.synced = "form";
      });
    }, 250);

    var yamlChanged = debounce(function () {
      post("yaml").then(function (answer) {
        if (!answer) return;
        if (answer.yaml_error) {
          yamlError.textContent = answer.yaml_error;
          yamlError.hidden = false;
          return;
        }
        yamlError.hidden = true;
        // Keep the open "Advanced" sections open.
        var open = [];
        fields.querySelectorAll("details").forEach(function (d, i) { if (d.open) open.push(i); });
        // Passwords are never drawn by the server: keep what was typed.
        var typed = {};
        fields.querySelectorAll('input[type="password"]').forEach(function (input) {
          if (input.value) typed[input.name] = input.value;
        });
        fields.innerHTML = answer.fields_html;
        Object.keys(typed).forEach(function (name) {
          var input = fields.querySelector('input[type="password"][name="' + CSS.escape(name) + '"]');
          if (input) input.value = typed[name];
        });
        var all = fields.querySelectorAll("details");
        open.forEach(function (i) { if (all[i]) all[i].open = true; });
        showAddButtons(fields);
        editor.dataset.synced = "yaml";
      });
    }, 400);

    var current = form.querySelector('input[name="_current"]');
    function side(name) { if (current) current.value = name; }
    fields.addEventListener("input", function () { side("operand"); });
    yaml.addEventListener("input", function () { side("yaml"); });
    fields.addEventListener("input", formChanged);
    fields.addEventListener("change", formChanged);
    fields.addEventListener("click", function (event) {
      if (event.target.closest("[data-kv-add]")) formChanged();
    });
    yaml.addEventListener("input", yamlChanged);
  }

  function showAddButtons(root) {
    root.querySelectorAll("[data-kv-add]").forEach(function (el) { el.hidden = false; });
  }

  function ready() {
    document.querySelectorAll("[data-operand-editor]").forEach(init);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
