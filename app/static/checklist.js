/* Checklist page, progressive enhancement only: the page works the same without this file.
   - focuses the error summary if the browser ignored its autofocus attribute;
   - a link of the error summary moves focus to the first choice of its item;
   - keeps the progress line (an aria-live region) up to date while choosing. */
(function () {
  "use strict";

  var summary = document.querySelector("[data-error-summary]");
  if (summary && document.activeElement !== summary) {
    summary.focus();
  }

  if (summary) {
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) { return; }
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) { return; }
      var control = target.matches("input, textarea, select")
        ? target : target.querySelector("input, textarea, select");
      if (!control) { return; }
      event.preventDefault();
      target.scrollIntoView({ block: "start" });
      control.focus({ preventScroll: true });
    });
  }

  var form = document.querySelector("form[data-checklist]");
  var counter = document.querySelector("#progress [data-answered]");
  if (!form || !counter) { return; }

  function countAnswered() {
    var groups = form.querySelectorAll("fieldset.radio-group");
    var answered = 0;
    groups.forEach(function (group) {
      if (group.querySelector("input[type=radio]:checked")) { answered += 1; }
    });
    return answered;
  }

  form.addEventListener("change", function (event) {
    if (event.target.type !== "radio") { return; }
    var answered = String(countAnswered());
    if (counter.textContent !== answered) { counter.textContent = answered; }
  });
})();
