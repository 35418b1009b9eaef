// Security keys and passkeys: allauth's webauthn.js reports a failed or cancelled browser prompt
// as an "allauth.error" event. Say so on the page, plainly, instead of only in the console.
(function () {
  "use strict";
  document.addEventListener("allauth.error", function (event) {
    var box = document.querySelector("[data-webauthn-error]");
    if (!box) return;
    event.preventDefault();
    box.hidden = false;
    box.textContent = box.getAttribute("data-message");
  });
})();
