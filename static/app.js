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
    // A boosted navigation replaces the body, and the dialog made on an earlier page with it: a detached <dialog>
    // cannot be shown (showModal throws), so the next confirmation silently did nothing (the MOA validated an état,
    // then « Constater le service fait » on the page that followed never asked nor submitted). Make it again.
    if (dialog && dialog.isConnected) { return dialog; }
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-title");
    dialog.innerHTML = '<form method="dialog"><h2 id="confirm-title">Confirmer ?</h2><p class="confirm-text"></p>' +
      '<div class="actions"><button value="cancel" type="submit">Annuler</button>' +
      '<button value="ok" type="submit" class="primary">Confirmer</button></div></form>';
    document.body.appendChild(dialog);
    return dialog;
  }
  function current(button) {
    if (button.isConnected) { return button; }
    var same = document.querySelectorAll("button[data-confirm]");
    for (var i = 0; i < same.length; i += 1) {
      if (same[i].name === button.name && same[i].value === button.value &&
          same[i].textContent.trim() === button.textContent.trim() && !same[i].disabled) { return same[i]; }
    }
    return null;
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
      // The button may have been swapped while the dialog was open (the décompte's send panel is recomputed out of
      // band when the field just left fires its change): a detached button submits nothing, so take the one now in
      // the page that does the same thing; none left (the server now refuses) — the page says why.
      var target = current(button);
      if (!target) { return; }
      if (box.returnValue !== "ok") { target.focus(); return; }
      target.dataset.confirmed = "1";
      target.click();  // submits the form with this button (its name and value), through htmx when it is there
    };
    box.showModal();
  }, true);
})();
// The assistant (issue 18): a panel on every page of a structure. It opens and stays open across pages (the element
// is kept by hx-preserve through boosted navigation; a full reload reopens it from sessionStorage); its content is
// the server's (the conversation is stored). A conversation with an agent receives new lines by server-sent events.
(function () {
  "use strict";
  var KEY = "chorus-assistant-open";
  function openPanel(details) {
    if (details.open) { htmx.trigger(details.querySelector(".assistant-body"), "assistant-open"); }
  }
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.matches || !details.matches("details[data-assistant]")) { return; }
    try { if (details.open) { sessionStorage.setItem(KEY, "1"); } else { sessionStorage.removeItem(KEY); } } catch (e) {}
    openPanel(details);
  }, true);
  function restore() {
    var details = document.querySelector("details[data-assistant]");
    var wanted = false;
    try { wanted = sessionStorage.getItem(KEY) === "1"; } catch (e) {}
    if (details && wanted && !details.open) { details.open = true; }
  }
  document.addEventListener("DOMContentLoaded", restore);
  document.addEventListener("htmx:afterSettle", restore);
  // Every form of the panel says which page the user is on now (the panel outlives the page it was loaded on).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.closest && elt.closest("[data-assistant-form]")) {
      event.detail.parameters.page = window.location.pathname;  // htmx 2: a FormData proxy, set by assignment
    }
  });
  // Enter sends, Shift+Enter goes to the next line.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && !event.shiftKey && target && target.matches &&
        target.matches("[data-assistant-form] textarea")) {
      event.preventDefault();
      if (target.form) { htmx.trigger(target.form, "submit"); }
    }
  });
  function scrollDown(log) { log.scrollTop = log.scrollHeight; }
  // Server-sent events: each event is the HTML of one line (escaped by the server); a line already shown is skipped.
  var sources = [];
  function connect(log) {
    if (log._chatSource) { return; }
    var url = log.getAttribute("data-chat-stream");
    var source = new EventSource(url + (url.indexOf("?") < 0 ? "?" : "&") + "after=" + (log.getAttribute("data-after") || "0"));
    log._chatSource = source;
    sources.push(source);
    source.addEventListener("message", function (event) {
      if (!document.body.contains(log)) { source.close(); return; }
      if (document.getElementById("chat-msg-" + event.lastEventId)) { return; }
      log.insertAdjacentHTML("beforeend", event.data);
      log.setAttribute("data-after", event.lastEventId);
      scrollDown(log);
    });
  }
  function init(root) {
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll(".chat-log").forEach(scrollDown);
    scope.querySelectorAll("[data-chat-stream]").forEach(connect);
    if (scope.matches && scope.matches("[data-chat-stream]")) { connect(scope); }
    sources = sources.filter(function (s) { return s.readyState !== 2; });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
// The décompte (issue 15): typing fast never shows a figure that was not computed from what is typed. Each answer to a
// typed figure says what it was computed from (templates/bordereau/_decompte_row.html): a row's cells are swapped in
// only while its input still holds the figure sent, the totals and the send panel only while every figure does;
// otherwise a newer answer is on its way (every change queues one) and that part waits for it, marked busy. Enter in
// a figure goes to the next one instead of submitting the whole form (whose answer would replace the inputs).
(function () {
  "use strict";
  function form() { return document.querySelector("#decompte form"); }
  function figures(f) { return f ? f.querySelectorAll("input[data-figure]") : []; }
  function rowOf(input) { return input.name.indexOf("m_") === 0 ? input.name.substring(2) : null; }
  function markBusy(input) {
    var ids = ["totals", "send-panel"];
    var row = rowOf(input);
    if (row) { ids.push("amount-" + row, "progress-" + row); }
    ids.forEach(function (id) {
      var elt = document.getElementById(id);
      if (elt) { elt.setAttribute("aria-busy", "true"); }
    });
  }
  function stillHolds(f, name, value) {
    if (name === "*") {
      var sent;
      try { sent = JSON.parse(value); } catch (e) { return false; }
      var inputs = figures(f);
      for (var i = 0; i < inputs.length; i += 1) {
        if (sent[inputs[i].name] !== inputs[i].value) { return false; }
      }
      return true;
    }
    var input = f.elements.namedItem(name);
    return !input || input.value === value;
  }
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (input && input.matches && input.matches("#decompte input[data-figure]")) { markBusy(input); }
  });
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var incoming = event.detail.fragment && event.detail.fragment.firstElementChild;
    if (!incoming || !incoming.hasAttribute("data-computed-for")) { return; }
    var f = form();
    if (f && !stillHolds(f, incoming.getAttribute("data-computed-for"), incoming.getAttribute("data-computed-from"))) {
      event.detail.shouldSwap = false;  // computed from a figure since changed: the newer answer will fill it
    }
  });
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key !== "Enter" || !input || !input.matches || !input.matches("#decompte input[data-figure]")) { return; }
    event.preventDefault();
    var inputs = Array.prototype.slice.call(figures(input.form));
    var next = inputs[inputs.indexOf(input) + 1];
    if (next) { next.focus(); next.select(); } else { input.dispatchEvent(new Event("change", { bubbles: true })); }
  });
})();
// Tableau de bord (issue 20): the marché and company filters beyond 30 choices are search fields, ARIA comboboxes
// (filter_fields.search_field). The server fills the list as the user types (htmx, hx-sync replacing the request in
// flight, into the list only: what is typed is never overwritten); here the arrow keys move through it, Enter or a
// click chooses (the id in the hidden field beside, the label in the field, then « change » refreshes the board as
// the selects did), Escape closes it. Without JavaScript the text is sent as typed and the page says what it read.
(function () {
  "use strict";
  function listOf(input) { return document.getElementById(input.getAttribute("aria-controls")); }
  function optionsOf(input) {
    var list = listOf(input);
    return list ? Array.prototype.slice.call(list.querySelectorAll('[role="option"]:not([aria-disabled="true"])')) : [];
  }
  function activeIndex(input) {
    var id = input.getAttribute("aria-activedescendant");
    return optionsOf(input).findIndex(function (o) { return o.id === id; });
  }
  function activate(input, index) {
    optionsOf(input).forEach(function (option, i) {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
      if (i === index) { option.scrollIntoView({ block: "nearest" }); }
    });
    var option = optionsOf(input)[index];
    if (option) { input.setAttribute("aria-activedescendant", option.id); }
    else { input.removeAttribute("aria-activedescendant"); }
  }
  function show(input, open) {
    var list = listOf(input);
    if (list) { list.hidden = !open; }
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) { activate(input, -1); }
  }
  function choose(input, option) {
    var box = input.closest("[data-combobox]");
    var hidden = box && box.querySelector('input[type="hidden"]');
    if (hidden) { hidden.value = option.getAttribute("data-value"); }
    input.value = option.getAttribute("data-label");
    show(input, false);
    var said = box && box.querySelector('[role="status"]');
    if (said) { said.textContent = ""; }
    input.dispatchEvent(new Event("change", { bubbles: true }));  // the form refreshes the board (hx-trigger)
  }
  function combobox(target) {
    return target && target.matches && target.matches('[data-combobox] input[role="combobox"]') ? target : null;
  }
  document.addEventListener("keydown", function (event) {
    var input = combobox(event.target);
    if (!input) { return; }
    var options = optionsOf(input);
    var open = input.getAttribute("aria-expanded") === "true";
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!options.length) { htmx.trigger(input, "suggest"); return; }
      if (!open) { show(input, true); }
      var index = activeIndex(input);
      index = event.key === "ArrowDown" ? Math.min(index + 1, options.length - 1) : Math.max(index - 1, 0);
      activate(input, index);
    } else if (event.key === "Enter" && open && activeIndex(input) >= 0) {
      event.preventDefault();  // a suggestion chosen, not the form submitted with the text half typed
      choose(input, options[activeIndex(input)]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      show(input, false);
    }
  });
  // A click chooses; pressing the mouse keeps the focus in the field (no « change » of the text half typed).
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest && event.target.closest('[data-combobox] [role="listbox"]')) { event.preventDefault(); }
  });
  document.addEventListener("click", function (event) {
    var option = event.target.closest ? event.target.closest('[data-combobox] [role="option"]') : null;
    if (!option || option.getAttribute("aria-disabled") === "true") { return; }
    var input = option.closest("[data-combobox]").querySelector('input[role="combobox"]');
    if (input) { choose(input, option); }
  });
  document.addEventListener("focusout", function (event) {
    var input = combobox(event.target);
    if (input) { show(input, false); }
  });
  // The suggestions arrived: shown while the field has the focus (an answer after leaving it stays closed).
  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.detail.target;
    if (!list || list.getAttribute("role") !== "listbox" || !list.closest("[data-combobox]")) { return; }
    var input = list.closest("[data-combobox]").querySelector('input[role="combobox"]');
    if (input) { show(input, document.activeElement === input); }
  });
})();
// Help badges (help_ui): a page writes each explanation once, as the popover its badges' « ? » open. On hover a
// badge shows it as its tooltip: copied into the abbr's title when the pointer first comes, before the browser's
// tooltip delay, so that the page does not carry the text in every badge.
(function () {
  "use strict";
  document.addEventListener("mouseover", function (event) {
    var abbr = event.target.closest ? event.target.closest(".help-badge abbr[aria-describedby]") : null;
    if (!abbr || abbr.hasAttribute("title")) { return; }
    var text = document.getElementById(abbr.getAttribute("aria-describedby"));
    if (text) { abbr.setAttribute("title", text.textContent); }
  });
})();
