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

  document.addEventListener("DOMContentLoaded", function () {
    addCopyButtons();
    guardDoubleSubmit();
  });
})();
