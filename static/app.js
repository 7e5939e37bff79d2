// chorus-chain: the small glue around htmx 2.x (vendored, pinned: static/vendor/htmx-2.0.11.min.js).
(function () {
  "use strict";
  function csrfToken() {
    // Read from the body (swapped by hx-boost navigation, so it follows a new session), the head as a fallback.
    var holder = document.getElementById("csrf-token") || document.querySelector('meta[name="csrf-token"]');
    return holder ? (holder.value || holder.getAttribute("content") || "") : "";
  }
  // Every htmx request that changes something carries the CSRF token in a header. Added on the event rather than
  // through hx-headers inheritance, so it reaches every element whatever the version's inheritance rules.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") {
      event.detail.headers["X-CSRFToken"] = csrfToken();
    }
  });
  // A network failure must not fail silently.
  document.addEventListener("htmx:sendError", function () {
    var zone = document.getElementById("messages");
    if (zone) {
      zone.innerHTML = '<div class="message message-error" role="alert">Connexion au serveur impossible. ' +
        "Vérifiez votre réseau puis réessayez : rien n'a été enregistré.</div>";
    }
  });
})();
