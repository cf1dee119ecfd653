/* Hài Lòng kiosk: lock-down, the idle reset, the thanks countdown, the hidden staff gesture and keypads.
   A static file because the CSP forbids inline scripts. Screens come from the server through htmx. */
(function () {
  "use strict";

  // When a person last touched the screen (or a new screen appeared): the idle reset counts from here.
  var lastTouch = Date.now();
  var STAFF_HOLD_MS = 3000;

  function touched() { lastTouch = Date.now(); }
  ["pointerdown", "touchstart", "keydown"].forEach(function (type) {
    document.addEventListener(type, touched, { capture: true, passive: true });
  });

  // Locked down: no long-press menu, no selection or dragging, no zoom, no way out of the app.
  function stop(event) { event.preventDefault(); }
  ["contextmenu", "selectstart", "dragstart", "dblclick", "gesturestart"].forEach(function (type) {
    document.addEventListener(type, stop, { capture: true });
  });
  document.addEventListener("wheel", function (e) { if (e.ctrlKey) { e.preventDefault(); } }, { passive: false });
  document.addEventListener("touchmove", function (e) { if (e.touches.length > 1) { e.preventDefault(); } }, { passive: false });
  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && ["+", "-", "=", "0"].indexOf(e.key) >= 0) { e.preventDefault(); }
  });
  document.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest("a[href]") : null;
    if (link && link.origin !== window.location.origin) { e.preventDefault(); }
  }, { capture: true });

  // A pressed face or tile changes at once, before any answer from the server (:active alone waits for the
  // browser's tap gesture on touch screens).
  document.addEventListener("pointerdown", function (e) {
    var target = e.target.closest ? e.target.closest("button, .tile") : null;
    if (target) { target.classList.add("is-pressed"); }
  }, { capture: true, passive: true });
  ["pointerup", "pointercancel"].forEach(function (type) {
    document.addEventListener(type, function () {
      setTimeout(function () {
        document.querySelectorAll(".is-pressed").forEach(function (el) { el.classList.remove("is-pressed"); });
      }, 150);
    }, { capture: true, passive: true });
  });

  function currentScreen() { return document.querySelector("[data-screen]"); }

  function goIdle() {
    if (window.htmx) { window.htmx.ajax("GET", "/screen/idle", { target: "#app" }); }
    else { window.location.assign("/"); }
  }

  // A half-finished rating is dropped after the idle time; on the reasons screen the choice so far is sent, and a
  // counter's invitation left untouched counts as skipped (the console then says so).
  setInterval(function () {
    var screen = currentScreen();
    if (!screen || !screen.dataset.idleReset) { return; }
    if (Date.now() - lastTouch < Number(screen.dataset.idleReset) * 1000) { return; }
    lastTouch = Date.now();
    var submit = screen.querySelector("[data-timeout-submit]") || screen.querySelector("[data-decline]");
    if (submit) { submit.click(); } else { goIdle(); }
  }, 500);

  // The thanks screen counts down visibly; htmx itself swaps back to the invitation.
  setInterval(function () {
    var counter = document.querySelector("[data-countdown]");
    if (!counter) { return; }
    var left = Number(counter.textContent) - 1;
    if (left >= 0) { counter.textContent = String(left); }
  }, 1000);

  // Hidden staff gesture: hold the top-left corner for three seconds.
  var holdTimer = null;
  document.addEventListener("pointerdown", function (e) {
    var corner = e.target.closest ? e.target.closest("[data-staff-corner]") : null;
    if (!corner) { return; }
    holdTimer = setTimeout(function () {
      holdTimer = null;
      if (window.htmx) { window.htmx.ajax("GET", corner.dataset.staffUrl, { target: "#app" }); }
    }, STAFF_HOLD_MS);
  });
  ["pointerup", "pointercancel", "pointerleave"].forEach(function (type) {
    document.addEventListener(type, function () {
      if (holdTimer) { clearTimeout(holdTimer); holdTimer = null; }
    }, { capture: true });
  });

  // On-screen keypads (staff PIN, pairing code): keys type into the form's target input.
  document.addEventListener("click", function (e) {
    var key = e.target.closest ? e.target.closest("[data-key]") : null;
    if (!key) { return; }
    var form = key.closest("form");
    var input = form ? form.querySelector("[data-keypad-target]") : null;
    if (!input) { return; }
    if (key.dataset.key === "back") { input.value = input.value.slice(0, -1); }
    else if (input.value.length < (input.maxLength > 0 ? input.maxLength : 12)) { input.value += key.dataset.key; }
  });

  // After a new screen: the document's language follows it, and its idle clock starts. Only that: the sync
  // corner refreshing itself, or a poll answering "nothing new", is no one's touch and restarts nothing.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (!e.detail || !e.detail.target || e.detail.target.id !== "app") { return; }
    var host = document.querySelector("[data-lang]");
    if (host) { document.documentElement.lang = host.dataset.lang; }
    touched();
  });
})();
