// Rules of the Road: the few behaviours that need JavaScript. Everything works without it.
(function () {
  "use strict";

  // Quick exit: one click, or Shift pressed three times, blanks the page and leaves for a
  // neutral site with location.replace, so that Back does not return here.
  var exitLink = document.getElementById("quick-exit");
  function quickExit(event) {
    if (event) event.preventDefault();
    document.body.hidden = true;
    document.title = "New Tab";
    window.location.replace(exitLink ? exitLink.getAttribute("data-exit-url") : "about:blank");
  }
  if (exitLink) exitLink.addEventListener("click", quickExit);
  var shifts = [];
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Shift" || event.repeat) return;
    var now = Date.now();
    shifts = shifts.filter(function (t) { return now - t < 1200; });
    shifts.push(now);
    if (shifts.length >= 3) quickExit();
  });

  // Copy fields select their whole text on focus.
  document.querySelectorAll("[data-copy]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });

  // The live poll: a conditional GET keyed on the ETag the page holds, skipped while the
  // partner is writing something, so that nothing they type is ever replaced.
  function currentEtag() {
    var summary = document.getElementById("summary");
    return summary ? summary.getAttribute("data-etag") : null;
  }
  function busyWriting(live) {
    if (live.contains(document.activeElement) && /^(TEXTAREA|INPUT|SELECT)$/.test(document.activeElement.tagName)) {
      return true;
    }
    return Array.prototype.some.call(live.querySelectorAll("details[open]"), function () { return true; });
  }
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute("data-poll")) {
      var etag = currentEtag();
      if (etag) event.detail.headers["If-None-Match"] = etag;
    }
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute("data-poll") && busyWriting(elt)) event.preventDefault();
  });
  // Keep focus sensible after a card is swapped: on the card's heading, so that keyboard and
  // screen reader users stay where they were.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id === "live") return;
    var card = target.id && document.getElementById(target.id);
    if (card && card.classList.contains("rule-card")) {
      var heading = card.querySelector("h2");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    }
  });
})();
