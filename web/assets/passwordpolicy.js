/* gatehouse's password policy hints, on the pages with a new-password
   field (their CSP allows script-src 'self' and connect-src 'self' for
   this file). Progressive enhancement: without it the page works the
   same, with the policy's rules as text and the server's reasons after
   submit.

   It asks GET BASE/password/policy once (the URL is in the live region's
   data-policy), then, as the user types, writes into the field's
   aria-live region which of the rules it can check here the password
   does not meet yet: the least number of characters and the most bytes.
   The rest (common and breached passwords, the user's own words, the
   strength estimate) needs the server and is checked on submit. The
   typed password is never sent anywhere, stored, or logged: the only
   request is the policy's, which carries nothing of it. */
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-policy][data-for]");
  if (regions.length === 0 || !window.fetch) {
    return;
  }

  // characters counts as the server does: Unicode code points.
  function characters(s) {
    return Array.from(s).length;
  }

  // bytes is the length of s in UTF-8.
  function bytes(s) {
    return window.TextEncoder ? new TextEncoder().encode(s).length : s.length;
  }

  // unmet lists what password does not meet yet of policy's length rules.
  function unmet(policy, password) {
    var out = [];
    if (policy.minLength > 0 && characters(password) < policy.minLength) {
      out.push("Still needed: at least " + policy.minLength + " characters.");
    }
    if (policy.maxLength > 0 && bytes(password) > policy.maxLength) {
      out.push("Too long: at most " + policy.maxLength + " bytes.");
    }
    return out;
  }

  var okText = "The length is right. The other rules are checked when you submit.";

  function watch(policy, region) {
    var field = document.getElementById(region.getAttribute("data-for"));
    if (!field) {
      return;
    }
    function update() {
      var text = "";
      var reasons = [];
      if (field.value !== "") {
        reasons = unmet(policy, field.value);
        text = reasons.length ? reasons.join(" ") : okText;
      }
      // Written only when it changes, so the live region is not read out
      // again at every key.
      if (region.textContent !== text) {
        region.textContent = text;
        region.classList.toggle("unmet", reasons.length > 0);
      }
    }
    field.addEventListener("input", update);
    update();
  }

  fetch(regions[0].getAttribute("data-policy"), { credentials: "omit", cache: "no-store" })
    .then(function (r) {
      if (!r.ok) {
        throw new Error("status " + r.status);
      }
      return r.json();
    })
    .then(function (policy) {
      for (var i = 0; i < regions.length; i++) {
        watch(policy, regions[i]);
      }
    })
    .catch(function () {
      // No hints: the page's text and the server's reasons remain.
    });
})();
