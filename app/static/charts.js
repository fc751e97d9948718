/* The committee's charts (app/templates/results): draws each Plotly figure from its JSON block.
   <div data-chart="ID"> names a <script type="application/json" id="ID"> holding
   {data, layout, config}. No inline script or style is needed, so the pages keep the
   Content-Security-Policy script-src 'self'; style-src 'self'. Without JavaScript (or
   plotly.js) each chart's summary and table still carry every number. */
(function () {
  "use strict";

  function draw() {
    if (typeof window.Plotly === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var source = document.getElementById(box.getAttribute("data-chart"));
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      window.Plotly.newPlot(box, figure.data, figure.layout, figure.config).then(function () {
        box.setAttribute("data-rendered", "true");
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
