/* Operator instances: node-selector rows, the recommended resources, the monitoring charts.
   Every page works without it. */
(function () {
  "use strict";
  if (window.__instancesScript) return;
  window.__instancesScript = true;

  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  // nodeSelector: "+ Add a label" copies the last row, empty.
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-kv-add]");
    if (add) {
      event.preventDefault();
      var rows = add.closest(".kv-rows").querySelectorAll(".kv-row");
      var last = rows[rows.length - 1];
      var copy = last.cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      last.after(copy);
      copy.querySelector("input").focus();
      return;
    }
    var recommended = event.target.closest("[data-recommended-resources]");
    if (recommended) {
      event.preventDefault();
      var form = recommended.closest("form");
      [["requests_cpu", "1"], ["limits_cpu", "1"], ["requests_memory", "512Mi"], ["limits_memory", "512Mi"]]
        .forEach(function (pair) {
          var input = form.querySelector('[name="' + pair[0] + '"]');
          if (input) input.value = pair[1];
        });
    }
  });

  function humanBytes(value) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (Math.abs(value) >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
    return (i ? value.toFixed(1) : value) + " " + units[i];
  }

  function drawCharts() {
    document.querySelectorAll("[data-kv-add], [data-recommended-resources]").forEach(function (el) {
      el.hidden = false;
    });
    var box = document.getElementById("instance-charts");
    if (!box || !window.Chart) return;
    var names = JSON.parse(document.getElementById("chart-labels").textContent);
    fetch(box.dataset.metricsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        var common = {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          spanGaps: true,
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { display: true, position: "bottom" } },
          scales: { y: { beginAtZero: true } },
        };
        var charts = {
          lookups: [
            { label: names.hits, data: data.hits, borderColor: "#1f9d55", backgroundColor: "#1f9d5533" },
            { label: names.misses, data: data.misses, borderColor: "#d64545", backgroundColor: "#d6454533" },
          ],
          ratio: [{ label: names.ratio, data: data.hit_ratio, borderColor: "#2468f2" }],
          items: [{ label: names.items, data: data.items, borderColor: "#6b4fd8" }],
          bytes: [
            { label: names.bytes, data: data.bytes, borderColor: "#2468f2", fill: true, backgroundColor: "#2468f222" },
            { label: names.limit, data: data.limit_maxbytes, borderColor: "#c27c0e", borderDash: [6, 4] },
          ],
          connections: [{ label: names.connections, data: data.curr_connections, borderColor: "#14213d" }],
          evictions: [{ label: names.evictions, data: data.evictions, borderColor: "#c27c0e" }],
        };
        box.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
          var datasets = charts[canvas.dataset.chart].map(function (set) {
            return Object.assign({ pointRadius: 0, borderWidth: 2, tension: 0.2 }, set);
          });
          var options = JSON.parse(JSON.stringify(common));
          if (canvas.dataset.chart === "ratio") options.scales.y.max = 100;
          if (canvas.dataset.chart === "bytes") options.scales.y.ticks = { callback: humanBytes };
          new window.Chart(canvas, { type: "line", data: { labels: data.labels, datasets: datasets }, options: options });
        });
      });
  }
  ready(drawCharts);
})();
