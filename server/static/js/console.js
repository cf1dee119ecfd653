// Counter console: print buttons for the slip (80 mm receipt or A6). Without JavaScript the browser's own
// Print command prints the same slip; the buttons stay hidden.
(function () {
  "use strict";
  function reveal(root) {
    root.querySelectorAll("[data-print]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSwap", function (event) { reveal(event.target); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-print]") : null;
    if (!button) { return; }
    var slip = document.getElementById("slip");
    if (!slip) { return; }
    slip.classList.remove("slip--80mm", "slip--a6");
    slip.classList.add("slip--" + button.getAttribute("data-print"));
    window.print();
  });
})();
