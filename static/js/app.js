// Rules of the Road: the few behaviours that need JavaScript. Everything works without it.
(function () {
  "use strict";

  // The few sentences this file may show come from the page (base.html's #js-messages),
  // translated there; English if the element is absent.
  var messages = document.getElementById("js-messages");
  function message(name, english) {
    var text = messages ? messages.getAttribute("data-" + name) : null;
    return text || english;
  }

  // Quick exit: one click, or Shift pressed three times, blanks the page and leaves for a
  // neutral site with location.replace, so that Back does not return here.
  var exitLink = document.getElementById("quick-exit");
  function quickExit(event) {
    if (event) event.preventDefault();
    document.body.hidden = true;
    document.title = message("exit-title", "New Tab");
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

  // Sign-up: the browser's time zone ("Europe/Berlin"), so that every date and time the new
  // person reads is in it from the first page; the server checks it against its zone list.
  document.querySelectorAll("input[data-time-zone]").forEach(function (input) {
    if (input.value) return;
    try {
      input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      input.value = "";
    }
  });

  // Copy fields select their whole text on focus.
  document.querySelectorAll("[data-copy]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });

  // Copy link, and Share where the browser offers it (the Web Share API: a phone's share
  // sheet). The words come from the page, translated there.
  function statusNear(button) {
    var box = button.closest(".invitation-link");
    return box ? box.querySelector("[data-copy-status]") : null;
  }
  function say(button, text) {
    var status = statusNear(button);
    if (status) status.textContent = text;
  }
  document.querySelectorAll("[data-copy-button]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy-button"));
      if (!input) return;
      var copied = button.getAttribute("data-copied");
      var failed = button.getAttribute("data-copy-failed");
      function fallback() {
        input.focus();
        input.select();
        var done = false;
        try { done = document.execCommand("copy"); } catch (e) { done = false; }
        say(button, done ? copied : failed);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { say(button, copied); }, fallback);
      } else {
        fallback();
      }
    });
  });
  document.querySelectorAll("[data-share-button]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-share-button"));
    if (!input || typeof navigator.share !== "function") return;
    var data = { title: button.getAttribute("data-share-title"), text: button.getAttribute("data-share-text"), url: input.value };
    if (typeof navigator.canShare === "function" && !navigator.canShare(data)) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      // A share the person closed without choosing anything is not an error worth a word.
      navigator.share(data).catch(function () {});
    });
  });

  // The live poll: a conditional GET keyed on the ETag the page holds. It runs while the partner
  // is writing too: the cards they are writing in are kept exactly as they are (hx-preserve moves
  // the very elements, with their text, caret and focus, into the new live region) and every
  // other card and the summary are brought up to date.
  function currentEtag() {
    var summary = document.getElementById("summary");
    return summary ? summary.getAttribute("data-etag") : null;
  }
  function isField(el) {
    return !!el && /^(TEXTAREA|INPUT|SELECT)$/.test(el.tagName) && el.type !== "hidden";
  }
  // A card someone is writing in: an open form, a focused field, or typed text not yet sent.
  function isBusy(card) {
    if (card.querySelector(".respond-form, details[open] form")) return true;
    // A card saying why an action was refused ("the wording changed since you loaded the page")
    // keeps saying it until the partner acts in it: the poll does not wipe it.
    if (card.querySelector("[data-card-error]")) return true;
    if (card.contains(document.activeElement) && isField(document.activeElement)) return true;
    return Array.prototype.some.call(card.querySelectorAll("textarea, input"), function (field) {
      return isField(field) && field.value !== field.defaultValue;
    });
  }
  function busyCardIds(live) {
    return Array.prototype.filter.call(live.querySelectorAll("[data-rule][id]"), isBusy).map(function (card) {
      return card.id;
    });
  }
  // The ETag of the whole live region as the page load or the last poll brought it. An action's
  // answer updates one card and the summary (and its ETag), not the other cards: the poll keeps
  // asking with this one, so that what the other partner did meanwhile still arrives. While a
  // card was kept as it was, the poll keeps asking with the older ETag too, so that the card is
  // brought up to date once the partner is done with it.
  var pollEtag = currentEtag();
  var keptEtag = null; // the answer last swapped in around a card being written in
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute("data-poll") && pollEtag) {
      event.detail.headers["If-None-Match"] = pollEtag;
    }
  });
  // A page in a hidden tab does not poll (nothing with an "every" trigger asks); it asks once
  // when it is shown again (a poll's hx-trigger also listens for "rr:visible" on the document).
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    var trigger = elt && elt.getAttribute ? elt.getAttribute("data-hx-trigger") || elt.getAttribute("hx-trigger") || "" : "";
    if (document.hidden && /\bevery\b/.test(trigger)) event.preventDefault();
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) document.dispatchEvent(new Event("rr:visible"));
  });
  // A poll and the partner's own action can cross: the poll's answer, read before the action,
  // may arrive after it. The agreement's revision only grows, so an older answer is dropped
  // rather than put back on screen what the partner has just changed (the next poll, still
  // asking with the older pollEtag, brings the whole picture). The ETag itself stays opaque.
  function revisionOf(summary) {
    var value = summary ? parseInt(summary.getAttribute("data-revision"), 10) : NaN;
    return isNaN(value) ? -1 : value;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.elt;
    var xhr = event.detail.xhr;
    if (!elt || !elt.hasAttribute("data-poll") || !xhr || xhr.status !== 200) return;
    var doc = new DOMParser().parseFromString(event.detail.serverResponse || "", "text/html");
    if (revisionOf(doc.getElementById("summary")) < revisionOf(document.getElementById("summary"))) {
      event.detail.shouldSwap = false;
      return;
    }
    var etag = xhr.getResponseHeader("ETag");
    var kept = busyCardIds(elt).filter(function (id) { return !!doc.getElementById(id); });
    if (!kept.length) {
      pollEtag = etag;
      keptEtag = null;
      return;
    }
    if (etag && etag === keptEtag) {
      event.detail.shouldSwap = false; // the other cards already show this answer
      return;
    }
    kept.forEach(function (id) { doc.getElementById(id).setAttribute("data-hx-preserve", "true"); });
    event.detail.serverResponse = doc.body.innerHTML;
    keptEtag = etag;
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
  var focused = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    var card = active && active.closest ? active.closest("[data-rule]") : null;
    focusedCardId = card ? card.id : null;
    focused = null;
    if (card && isField(active)) {
      focused = { elt: active, start: active.selectionStart, end: active.selectionEnd };
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === "live" || target.hasAttribute("data-poll")) {
      // A field kept by the poll keeps the focus and the caret where they were.
      if (focused && focused.elt.isConnected) {
        if (document.activeElement !== focused.elt) {
          focused.elt.focus({ preventScroll: true });
          try { focused.elt.setSelectionRange(focused.start, focused.end); } catch (e) { /* not a text field */ }
        }
      } else if (focusedCardId) {
        focusCard(document.getElementById(focusedCardId));
      }
      return;
    }
    var card = target.id && document.getElementById(target.id);
    if (card && card.classList.contains("rule-card")) focusCard(card);
  });

  // Pause everything and Reopen all answer with the whole live region: the button pressed is
  // gone, so the focus goes to what the pause says now (or, once reopened, to the summary).
  document.addEventListener("htmx:afterSwap", function (event) {
    var config = event.detail.requestConfig;
    var elt = config && config.elt; // the form that asked (event.detail.elt is what was swapped in)
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-pause-action")) return;
    if (!event.target || event.target.id !== "live") return;
    var place = document.querySelector("#pause h2") || document.getElementById("summary");
    if (!place) return;
    place.setAttribute("tabindex", "-1");
    place.focus({ preventScroll: false });
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

  // An action that failed on the server (5xx) or never reached it swaps nothing: say so in
  // place, in the card (or form) that was acted on, so that nobody believes a withdrawal or an
  // answer went through when it did not. The poll is left alone: it simply tries again.
  function placeOf(elt) {
    return (elt.closest && (elt.closest("[data-rule]") || elt.closest("[data-checkin]") || elt.closest("form"))) || document.getElementById("main");
  }
  function sayFailed(event, text, kind) {
    var elt = event.detail.elt;
    if (!elt || (elt.hasAttribute && elt.hasAttribute("data-poll"))) return;
    var place = placeOf(elt);
    if (!place) return;
    var note = place.querySelector(".action-failed");
    if (!note) {
      note = document.createElement("p");
      note.className = "error action-failed";
      note.setAttribute("role", "alert");
      place.insertBefore(note, place.firstChild);
    }
    note.setAttribute("data-failure", kind);
    note.textContent = text;
  }
  // A message stays only while it is true: once any request reaches the server again (the poll
  // included), "the connection failed" is not true any more; a failure in one place is over
  // once an action from that same place went through.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || !xhr.status) return; // never reached the server
    document.querySelectorAll('.action-failed[data-failure="connection"]').forEach(function (note) { note.remove(); });
    var elt = event.detail.elt;
    if (xhr.status >= 500 || !elt || (elt.hasAttribute && elt.hasAttribute("data-poll"))) return;
    var place = placeOf(elt);
    var note = place && place.isConnected ? place.querySelector(".action-failed") : null;
    if (note) note.remove();
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status >= 500) {
      sayFailed(event, message("failed-server", "That did not go through: nothing was changed. Please try again in a moment."), "server");
    }
  });
  document.addEventListener("htmx:sendError", function (event) {
    sayFailed(event, message("failed-connection", "The connection failed, so nothing was sent or changed. Please try again."), "connection");
  });
})();
