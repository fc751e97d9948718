/* The committee's charts (app/templates/results): draws each Plotly figure from its JSON block.
   <div data-chart="ID"> names a <script type="application/json" id="ID"> holding
   {data, layout, config, narrow}. No inline script or style is needed, so the pages keep the
   Content-Security-Policy script-src 'self'; style-src 'self'. Without JavaScript (or
   plotly.js) each chart's summary and table still carry every number.

   A chart box narrower than NARROW px (a phone) is drawn with the figure's "narrow" layout:
   changes to its layout as plotly's dotted paths ({"font.size": 12, "height": 520, ...},
   reports/charts.py narrow_layout). When the window's width crosses it, the chart is laid out
   again. Each box says which layout it has in data-layout ("narrow" or "wide"), once drawn.

   The height is the box's (set here from the layout's "height"), never the layout's: plotly's
   "responsive" config fits the chart to its box on every resize, and would drop a height
   given in the layout (Plots.resize deletes it). A relayout of the height would fix the
   width instead. */
(function () {
  "use strict";

  var NARROW = 600;
  var charts = [];

  function kindOf(box) {
    return box.clientWidth < NARROW ? "narrow" : "wide";
  }

  function withChanges(layout, changes) {
    var copy = JSON.parse(JSON.stringify(layout));
    Object.keys(changes).forEach(function (path) {
      var keys = path.split(".");
      var last = keys.pop();
      var node = copy;
      keys.forEach(function (key) {
        if (typeof node[key] !== "object" || node[key] === null) { node[key] = {}; }
        node = node[key];
      });
      node[last] = changes[path];
    });
    return copy;
  }

  // The box takes the chart's height; plotly fills the box (its layout has no height).
  function sized(box, layout) {
    var copy = JSON.parse(JSON.stringify(layout));
    if (typeof copy.height === "number") { box.style.height = copy.height + "px"; }
    delete copy.height;
    return copy;
  }

  // Draws (or draws again) a chart with the layout of its kind ("narrow" or "wide").
  function plot(chart) {
    var kind = chart.kind;
    var layout = sized(chart.box, kind === "narrow"
      ? withChanges(chart.figure.layout, chart.figure.narrow || {})
      : chart.figure.layout);
    chart.box.removeAttribute("data-layout");
    window.Plotly.newPlot(chart.box, chart.figure.data, layout, chart.figure.config)
      .then(function () {
        if (chart.kind !== kind) { return; }
        chart.box.setAttribute("data-layout", kind);
        chart.box.setAttribute("data-rendered", "true");
      });
  }

  function draw() {
    if (typeof window.Plotly === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var source = document.getElementById(box.getAttribute("data-chart"));
      if (!source) { return; }
      var chart = {box: box, figure: JSON.parse(source.textContent), kind: kindOf(box)};
      charts.push(chart);
      plot(chart);
    });
  }

  // A chart whose box crossed NARROW is drawn anew: plotly's relayout of a legend that
  // wraps into more rows leaves it over the title, where a fresh drawing does not.
  function redraw(chart) {
    var kind = kindOf(chart.box);
    if (kind === chart.kind) { return; }
    chart.kind = kind;
    plot(chart);
  }

  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      charts.forEach(redraw);
    });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
