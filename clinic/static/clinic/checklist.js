// Visit checklist: show the PHQ-9 when PHQ-2 is 3 or more, the contraception methods when
// re-confirmed, and the progestin-only pill warning when it is ticked. The server checks the
// same rules; without JavaScript every part simply stays visible.
(function () {
  "use strict";
  var form = document.getElementById("visit-checklist");
  if (!form) { return; }

  function toggle(element, shown) {
    if (element) { element.hidden = !shown; }
  }

  var phq2 = form.querySelector("[name=phq2]");
  var phq9Block = document.getElementById("phq9-block");
  function updateMood() {
    var threshold = Number(phq9Block.dataset.threshold);
    var filled = Array.prototype.some.call(
      phq9Block.querySelectorAll("input"), function (input) { return input.value !== ""; });
    var hasError = phq9Block.querySelector(".invalid-feedback") !== null;
    toggle(phq9Block, Number(phq2.value) >= threshold || filled || hasError);
  }
  if (phq2 && phq9Block) {
    phq2.addEventListener("input", updateMood);
    updateMood();
  }

  var reconfirm = form.querySelector("[name=reconfirm_contraception]");
  var methods = document.getElementById("contraception-block");
  var progestin = form.querySelector("input[name=methods][value=progestin_only_pill]");
  var warning = document.getElementById("progestin-warning");
  function updateContraception() {
    toggle(methods, reconfirm.checked);
    toggle(warning, progestin !== null && progestin.checked);
  }
  if (reconfirm && methods) {
    reconfirm.addEventListener("change", updateContraception);
    if (progestin) { progestin.addEventListener("change", updateContraception); }
    updateContraception();
  }
})();
