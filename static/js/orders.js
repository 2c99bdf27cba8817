/* Storefront and orders: the buy dialog and the sales chart. Pages work without it. */
(function () {
  "use strict";
  if (window.__ordersScript) return;
  window.__ordersScript = true;

  function closeModal() {
    var modal = document.getElementById("modal");
    if (modal) modal.innerHTML = "";
    document.body.classList.remove("modal-open");
  }

  // htmx put the buy dialog into #modal: focus its first field.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "modal") return;
    document.body.classList.add("modal-open");
    var first = event.target.querySelector("input:not([type=hidden]), select, button");
    if (first) first.focus();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-modal]")) { event.preventDefault(); closeModal(); return; }
    if (event.target.matches("[data-modal]")) closeModal();  // a click on the backdrop
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeModal();
  });
  // A second click while a payment is on its way sends the same token (charged once),
  // but there is no need to send it at all.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-testid=buy-form], [data-testid=pay-form], [data-testid=renew-form]")) return;
    if (form.dataset.submitting) { event.preventDefault(); return; }
    form.dataset.submitting = "1";
  });

  function drawRevenueChart() {
    var canvas = document.getElementById("revenue-chart");
    var data = document.getElementById("revenue-data");
    if (!canvas || !data || !window.Chart) return;
    var chart = JSON.parse(data.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        // Amounts arrive as exact strings; the chart needs numbers only to draw the bars.
        datasets: [{
          label: chart.label,
          data: chart.revenue.map(Number),
          backgroundColor: "#2468f2",
          maxBarThickness: 48,
        }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true } },
      },
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawRevenueChart);
  } else {
    drawRevenueChart();
  }
})();
