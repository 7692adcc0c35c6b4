/* gatehouse's session-timeout warning, on the account page only (its CSP
   allows script-src 'self' for this file; no other page runs a script).
   Progressive enhancement: without it the page works the same, the
   warning stays hidden. It asks GET BASE/session/remaining, which never
   extends the session, and shows the page's warning when less than two
   minutes remain; "Stay logged in" extends the session with GET
   BASE/session. No inline script, no eval, no secret read or written. */
(function () {
  "use strict";
  var box = document.getElementById("timeout-warning");
  if (!box || !window.fetch) {
    return;
  }
  var message = document.getElementById("timeout-message");
  var stay = document.getElementById("stay-logged-in");
  var remainingURL = box.getAttribute("data-remaining");
  var extendURL = box.getAttribute("data-extend");
  var warnBelow = 120; // seconds
  var timer = null;

  // The CSRF token from the XSRF-TOKEN cookie, for a server that wants it
  // on every request (csrf.every_request).
  function headers() {
    var m = document.cookie.match(/(?:^|;\s*)XSRF-TOKEN=([^;]+)/);
    return m ? { "X-XSRF-TOKEN": decodeURIComponent(m[1]) } : {};
  }

  function get(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers() });
  }

  function later(seconds) {
    clearTimeout(timer);
    timer = setTimeout(check, seconds * 1000);
  }

  function show(text, canStay) {
    message.textContent = text;
    stay.hidden = !canStay;
    box.hidden = false;
    box.classList.add("shown");
  }

  function hide() {
    box.hidden = true;
    box.classList.remove("shown");
  }

  function check() {
    get(remainingURL)
      .then(function (r) {
        if (!r.ok) {
          throw new Error("status " + r.status);
        }
        return r.json();
      })
      .then(function (d) {
        var left = d.seconds;
        if (!(left > 0)) {
          show("Your session has ended. Reload the page to log in again.", false);
          return;
        }
        if (left < warnBelow) {
          var minutes = Math.ceil(left / 60);
          show("Your session ends in less than " + (minutes > 1 ? minutes + " minutes" : "a minute") + ".", true);
          later(Math.min(left, 15));
          return;
        }
        hide();
        // Ask again when the warning may be due, and at least every five
        // minutes (another tab may have extended or ended the session).
        later(Math.max(5, Math.min(left - warnBelow + 1, 300)));
      })
      .catch(function () {
        later(60);
      });
  }

  stay.addEventListener("click", function () {
    get(extendURL).then(check, check);
  });
  check();
})();
