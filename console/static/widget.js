/*
 * Preflight signup-form widget. No dependencies; include it with a
 * publishable key:
 *
 *   <script src="https://preflight.example.com/widget.js" async
 *           data-key="pk_..." data-block="disposable,undeliverable"></script>
 *
 * data-key     the publishable key (required)
 * data-block   verdicts or reasons that stop the form (comma-separated):
 *              undeliverable, risky, unknown, disposable, role_account, ...
 * data-field   the CSS selector of the email fields (default input[type=email])
 * data-timeout how long to wait for an answer, in ms (default 1500)
 * data-api     the Preflight server (default: where this script came from)
 *
 * It checks a field on blur, offers a one-click fix for a likely typo, and
 * blocks submission only on a definite answer the site asked to block. If
 * the API is slow or down, it does nothing and the form submits as usual.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch || !window.AbortController) return;
  var key = script.getAttribute("data-key") || "";
  var api = script.getAttribute("data-api") || new URL(script.src, location.href).origin;
  var block = (script.getAttribute("data-block") || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  var selector = script.getAttribute("data-field") || "input[type=email]";
  var timeout = Number(script.getAttribute("data-timeout")) || 1500;
  if (!key) return;

  var MESSAGES = {
    undeliverable: "This address cannot receive mail. Please check it.",
    disposable: "Please use a permanent email address, not a disposable one.",
    risky: "We could not confirm this address. Please use another one.",
    unknown: "We could not check this address. Please use another one.",
    role_account: "Please use a personal address rather than a shared one (info@, admin@...)."
  };

  function blocking(r) {
    for (var i = 0; i < block.length; i++) {
      var b = block[i];
      if (r.verdict === b || r.reason === b || (b === "disposable" && r.flags && r.flags.disposable) ||
          (b === "role_account" && r.flags && r.flags.role)) {
        return MESSAGES[b] || MESSAGES[r.verdict] || "Please check this address.";
      }
    }
    return "";
  }

  function attach(input) {
    if (input.getAttribute("data-preflight") === "on") return;
    input.setAttribute("data-preflight", "on");
    var hint = document.createElement("div");
    hint.className = "preflight-hint";
    hint.setAttribute("aria-live", "polite");
    hint.style.cssText = "font-size:.9em;margin:.25em 0";
    input.insertAdjacentElement("afterend", hint);
    var results = {}; // value -> result
    var seq = 0;

    function clear() {
      input.setCustomValidity("");
      hint.textContent = "";
    }

    function render(value, r) {
      clear();
      if (input.value.trim() !== value) return; // the field changed meanwhile
      var msg = blocking(r);
      if (r.suggestion && r.suggestion !== value) {
        var fix = document.createElement("button");
        fix.type = "button";
        fix.className = "preflight-fix";
        fix.textContent = r.suggestion;
        fix.style.cssText = "font:inherit;padding:0;border:0;background:none;color:inherit;text-decoration:underline;cursor:pointer";
        fix.addEventListener("click", function () {
          input.value = r.suggestion;
          input.dispatchEvent(new Event("input", { bubbles: true }));
          clear();
          input.focus();
          check();
        });
        hint.append("Did you mean ", fix, "?");
        if (msg) hint.append(" ");
      }
      if (msg) {
        input.setCustomValidity(msg);
        var m = document.createElement("span");
        m.className = "preflight-error";
        m.textContent = msg;
        hint.append(m);
      }
    }

    function check() {
      var value = input.value.trim();
      if (!value || value.indexOf("@") < 1) return;
      if (results[value]) { render(value, results[value]); return; }
      var my = ++seq;
      var ctl = new AbortController();
      var timer = setTimeout(function () { ctl.abort(); }, timeout);
      var url = api + "/v1/verify?email=" + encodeURIComponent(value) + "&key=" + encodeURIComponent(key) + "&timeout=" + timeout + "ms";
      fetch(url, { signal: ctl.signal, credentials: "omit" })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (r) {
          clearTimeout(timer);
          if (!r || my !== seq) return;
          results[value] = r;
          render(value, r);
        })
        .catch(function () { clearTimeout(timer); }); // slow or down: say nothing
    }

    input.addEventListener("blur", check);
    input.addEventListener("input", clear);
    if (input.form) {
      input.form.addEventListener("submit", function (ev) {
        var r = results[input.value.trim()];
        var msg = r && blocking(r);
        if (msg) {
          ev.preventDefault();
          render(input.value.trim(), r);
          if (input.reportValidity) input.reportValidity();
        }
      });
    }
  }

  function init() {
    var fields = document.querySelectorAll(selector);
    for (var i = 0; i < fields.length; i++) attach(fields[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
