// Notes and reasons say how many characters are left, and how many too many once past the limit
// (clinic/notes.py). The textarea has no maxlength on purpose: a browser cuts a longer paste
// to it without a word, where here the text stays whole and the server refuses it with the same
// words. The count is shown at once; screen readers hear it once typing pauses, not per key.
(function () {
  "use strict";
  var PAUSE_MS = 1000;
  var number = new Intl.NumberFormat("en-US");

  function words(left) {
    if (left >= 0) {
      return number.format(left) + (left === 1 ? " character" : " characters") + " left";
    }
    var over = -left;
    return number.format(over) + (over === 1 ? " character" : " characters") + " too many";
  }

  function attach(textarea) {
    var limit = Number(textarea.dataset.limit);
    var shown = document.createElement("div");
    shown.className = "form-text charcount";
    shown.id = textarea.id + "-count";
    shown.setAttribute("aria-hidden", "true");
    var spoken = document.createElement("div");
    spoken.className = "visually-hidden";
    spoken.setAttribute("aria-live", "polite");
    textarea.insertAdjacentElement("afterend", spoken);
    textarea.insertAdjacentElement("afterend", shown);
    var described = (textarea.getAttribute("aria-describedby") || "").split(" ");
    if (described.indexOf(shown.id) < 0) {
      described.push(shown.id);
      textarea.setAttribute("aria-describedby", described.join(" ").trim());
    }
    var timer = null;

    function update(announce) {
      var left = limit - textarea.value.length;
      shown.textContent = words(left);
      shown.classList.toggle("text-danger", left < 0);
      shown.classList.toggle("fw-semibold", left < 0);
      if (left < 0) {
        textarea.setAttribute("aria-invalid", "true");
      } else if (!textarea.classList.contains("is-invalid")) {
        textarea.removeAttribute("aria-invalid");
      }
      if (announce) {
        clearTimeout(timer);
        timer = setTimeout(function () { spoken.textContent = words(left); }, PAUSE_MS);
      }
    }

    textarea.addEventListener("input", function () { update(true); });
    update(false);
  }

  Array.prototype.forEach.call(document.querySelectorAll("textarea[data-limit]"), attach);
})();
