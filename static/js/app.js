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
    // A card holding an open form (a change, a note) keeps it until it is sent or cancelled.
    return live.querySelector(".respond-form") !== null;
  }
  // The ETag of the whole live region as the page load or the last poll brought it. An action's
  // answer updates one card and the summary (and its ETag), not the other cards: the poll keeps
  // asking with this one, so that what the other partner did meanwhile still arrives.
  var pollEtag = currentEtag();
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute("data-poll") && pollEtag) {
      event.detail.headers["If-None-Match"] = pollEtag;
    }
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute("data-poll") && busyWriting(elt)) event.preventDefault();
  });
  // A poll and the partner's own action can cross: the poll's answer, read before the action,
  // may arrive after it. The agreement's revision only grows, so an older answer is dropped
  // rather than put back on screen what the partner has just changed (the next poll, still
  // asking with the older pollEtag, brings the whole picture). The ETag itself stays opaque.
  function revisionOf(summary) {
    var value = summary ? parseInt(summary.getAttribute("data-revision"), 10) : NaN;
    return isNaN(value) ? -1 : value;
  }
  function answeredRevision(html) {
    var doc = new DOMParser().parseFromString(html || "", "text/html");
    return revisionOf(doc.getElementById("summary"));
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.elt;
    var xhr = event.detail.xhr;
    if (!elt || !elt.hasAttribute("data-poll") || !xhr || xhr.status !== 200) return;
    if (answeredRevision(event.detail.serverResponse) < revisionOf(document.getElementById("summary"))) {
      event.detail.shouldSwap = false;
    } else {
      pollEtag = xhr.getResponseHeader("ETag");
    }
  });
  // Keep focus sensible after a swap, so that keyboard and screen reader users stay where they
  // were: in an opened form, its first field; otherwise the heading of the card they acted on.
  function focusCard(card) {
    if (!card) return;
    // The wording when changing it, otherwise the note: querySelector with a list of selectors
    // would return the first in page order, so they are tried one by one.
    var field = card.querySelector(".respond-form textarea[name=text]") || card.querySelector(".respond-form textarea");
    var target = field || card.querySelector("h2");
    if (!field) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }
  var focusedCardId = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    var card = active && active.closest ? active.closest("[data-rule]") : null;
    focusedCardId = card ? card.id : null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === "live" || target.hasAttribute("data-poll")) {
      if (focusedCardId) focusCard(document.getElementById(focusedCardId));
      return;
    }
    var card = target.id && document.getElementById(target.id);
    if (card && card.classList.contains("rule-card")) focusCard(card);
  });

  // Announcing the summary ("3 of 9 rules in force"): every action and every poll swaps in a
  // new #summary, and a live region that is itself new is not reliably read out. This one stays.
  function summaryText() {
    var summary = document.getElementById("summary");
    return summary ? summary.textContent.replace(/\s+/g, " ").trim() : "";
  }
  var main = document.getElementById("main");
  if (main && document.getElementById("summary")) {
    var announcer = document.createElement("div");
    announcer.id = "announcer";
    announcer.className = "visually-hidden";
    announcer.setAttribute("role", "status");
    announcer.setAttribute("aria-live", "polite");
    announcer.setAttribute("aria-atomic", "true");
    main.appendChild(announcer);
    var announced = summaryText();
    document.addEventListener("htmx:afterSettle", function () {
      var text = summaryText();
      if (text && text !== announced) {
        announced = text;
        announcer.textContent = text;
      }
    });
  }
})();
