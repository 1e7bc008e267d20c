// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // A "copy" button next to values people must type elsewhere (the TOTP secret).
  function addCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (el) {
      if (!navigator.clipboard) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button-quiet button-small";
      button.textContent = el.getAttribute("data-copy-label") || "Copy";
      button.addEventListener("click", function () {
        var text = el.textContent.replace(/\s+/g, "");
        navigator.clipboard.writeText(text).then(function () {
          button.textContent = el.getAttribute("data-copied-label") || "Copied";
        });
      });
      el.insertAdjacentElement("afterend", button);
    });
  }

  // Stop a second click from submitting a form twice (a spent TOTP code would be refused).
  function guardDoubleSubmit() {
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitted) {
          event.preventDefault();
          return;
        }
        form.dataset.submitted = "1";
        form.querySelectorAll("button[type=submit]").forEach(function (b) {
          b.setAttribute("aria-disabled", "true");
        });
      });
    });
  }

  // Deadline clocks: the server wrote the time left when the page was made; this rewrites it
  // every 30 seconds from data-due, with the words of #clock-words (the page's language).
  var SOON = 24 * 3600;

  function words() {
    var el = document.getElementById("clock-words");
    if (!el) return null;
    return {
      days: el.dataset.days, hours: el.dataset.hours, minutes: el.dataset.minutes,
      left: el.dataset.left, overdue: el.dataset.overdue, flag: el.dataset.flag
    };
  }

  function span(seconds, w) {
    seconds = Math.abs(seconds);
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    if (days) return days + " " + w.days + " " + hours + " " + w.hours;
    if (hours) return hours + " " + w.hours + " " + minutes + " " + w.minutes;
    return minutes + " " + w.minutes;
  }

  function updateClocks(w) {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) return;
      var left = Math.floor((due - now) / 1000);
      var text = el.querySelector("[data-countdown-text]");
      if (!text) return;
      var state = left < 0 ? "overdue" : left < SOON ? "soon" : "ok";
      text.textContent = (left < 0 ? w.overdue : w.left).replace("{span}", span(left, w));
      el.className = "clock clock-" + state;
      var flag = el.querySelector(".clock-flag");
      if (left < 0 && !flag) {
        flag = document.createElement("span");
        flag.className = "clock-flag";
        flag.textContent = w.flag;
        el.insertBefore(document.createTextNode(" "), text);
        el.insertBefore(flag, el.firstChild);
      }
    });
  }

  function startClocks() {
    var w = words();
    if (!w || !document.querySelector("[data-countdown]")) return;
    updateClocks(w);
    window.setInterval(function () { updateClocks(w); }, 30000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    addCopyButtons();
    guardDoubleSubmit();
    startClocks();
  });
})();
