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
// Pièces (issue 4): under autoliquidation the invoice carries no VAT. Choosing it sets the VAT to 0 (read-only), TTC
// to HT, and shows the printed mention; the server checks it all the same (without JavaScript: on reload).
(function () {
  "use strict";
  // `fillTtc`: when the regime is chosen, TTC becomes HT; on page load nothing the user typed is touched.
  function syncVat(select, fillTtc) {
    var form = select.form;
    if (!form) { return; }
    var auto = select.value === "autoliquidation";
    var tva = form.querySelector('[name="montant_tva"]');
    var ht = form.querySelector('[name="montant_ht"]');
    var ttc = form.querySelector('[name="montant_ttc"]');
    var mention = form.querySelector("[data-autoliquidation-mention]");
    if (mention) { mention.hidden = !auto; }
    if (tva) {
      tva.readOnly = auto;
      if (auto) {
        tva.value = "0,00";
        if (fillTtc && ht && ttc && ht.value) { ttc.value = ht.value; }
      }
    }
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.name === "vat_regime") { syncVat(target, true); }
  });
  function init(root) {
    (root.querySelectorAll ? root : document).querySelectorAll('select[name="vat_regime"]').forEach(function (s) {
      if (s.value === "autoliquidation") { syncVat(s, false); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
  // A polled fragment (the bell) never swaps in an error page or the login page of an expired session.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-poll")) { return; }
    var xhr = event.detail.xhr;
    if (xhr.status !== 200 || (xhr.responseURL && xhr.responseURL.indexOf("/connexion") !== -1)) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
    }
  });
})();
// Irreversible actions (send a piece, issue an état, validate, pay) ask for confirmation, one mechanism for all: a
// submit button with data-confirm="what cannot be undone" opens a <dialog> saying it; « Confirmer » submits with that
// very button (htmx or not), « Annuler » does nothing. Without JavaScript the same sentence is printed beside the
// button (data-confirm-text), and the server's own checks still hold.
(function () {
  "use strict";
  var dialog = null;
  function ensureDialog() {
    if (dialog) { return dialog; }
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-title");
    dialog.innerHTML = '<form method="dialog"><h2 id="confirm-title">Confirmer ?</h2><p class="confirm-text"></p>' +
      '<div class="actions"><button value="cancel" type="submit">Annuler</button>' +
      '<button value="ok" type="submit" class="primary">Confirmer</button></div></form>';
    document.body.appendChild(dialog);
    return dialog;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-confirm]") : null;
    if (!button || button.disabled || !button.form) { return; }
    if (button.dataset.confirmed === "1") { button.dataset.confirmed = ""; return; }
    event.preventDefault();
    event.stopPropagation();
    var box = ensureDialog();
    box.querySelector("#confirm-title").textContent = button.dataset.confirmTitle || (button.textContent.trim() + " ?");
    box.querySelector(".confirm-text").textContent = button.dataset.confirm;
    box.returnValue = "";
    box.onclose = function () {
      if (box.returnValue !== "ok") { button.focus(); return; }
      button.dataset.confirmed = "1";
      button.click();  // submits the form with this button (its name and value), through htmx when it is there
    };
    box.showModal();
  }, true);
})();
