/* The dashboard's chart: revenue (bars) and orders (line) per day, from the JSON the page
   carries in <script type="application/json"> blocks (no inline script: the CSP forbids it). */
(function () {
  "use strict";
  var canvas = document.getElementById("sales-chart");
  if (!canvas || !window.Chart) {
    return;
  }
  var data = JSON.parse(document.getElementById("sales-data").textContent);
  var labels = JSON.parse(document.getElementById("sales-labels").textContent);
  new window.Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        {
          type: "bar",
          label: labels.revenue,
          data: data.revenue.map(Number),
          yAxisID: "revenue",
          backgroundColor: "rgba(13, 110, 253, 0.5)"
        },
        {
          type: "line",
          label: labels.orders,
          data: data.orders,
          yAxisID: "orders",
          borderColor: "rgb(220, 53, 69)",
          tension: 0.2
        }
      ]
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      scales: {
        revenue: { type: "linear", position: "left", beginAtZero: true },
        orders: {
          type: "linear",
          position: "right",
          beginAtZero: true,
          ticks: { precision: 0 },
          grid: { drawOnChartArea: false }
        }
      }
    }
  });
  canvas.setAttribute("data-drawn", "true");
})();
