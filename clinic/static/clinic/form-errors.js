// After a failed submit (WCAG 2.2: 3.3.1 error identification, 2.4.3 focus order): a summary at the
// top of the form lists each error as a link to its field, every invalid field is marked
// aria-invalid and described by its message, and focus moves to the first invalid field.
// A file of its own, not inline: the Content-Security-Policy allows only the site's scripts.
(function () {
  "use strict";

  function labelText(field) {
    var label = field.id ? document.querySelector('label[for="' + field.id + '"]') : null;
    if (!label) {
      var group = field.closest("fieldset");
      label = group ? group.querySelector("legend") : null;
    }
    var text = label ? label.textContent : field.name || "This field";
    return text.replace(/\*/g, "").replace(/\s+/g, " ").trim();
  }

  function feedbackFor(field) {
    var wrapper = field.closest(".mb-3, .form-group, fieldset, div") || field.parentElement;
    return wrapper ? wrapper.querySelector(".invalid-feedback, .errorlist") : null;
  }

  function describe(field, feedback, index) {
    field.setAttribute("aria-invalid", "true");
    if (!feedback) return;
    if (!feedback.id) feedback.id = (field.id || "field-" + index) + "_error";
    var ids = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (ids.indexOf(feedback.id) === -1) ids.push(feedback.id);
    field.setAttribute("aria-describedby", ids.join(" "));
  }

  function summarise(form, formIndex) {
    var fields = Array.prototype.filter.call(
      form.querySelectorAll("input.is-invalid, select.is-invalid, textarea.is-invalid"),
      function (field) { return field.type !== "hidden"; }
    );
    if (!fields.length) return null;
    var seen = {};
    var items = [];
    fields.forEach(function (field, index) {
      var feedback = feedbackFor(field);
      describe(field, feedback, index);
      var key = field.name || field.id;
      if (seen[key]) return;
      seen[key] = true;
      var message = feedback ? feedback.textContent.replace(/\s+/g, " ").trim() : "";
      items.push({ field: field, text: labelText(field) + (message ? ": " + message : "") });
    });
    var summary = document.createElement("div");
    summary.className = "alert alert-danger error-summary";
    summary.setAttribute("role", "alert");
    var heading = document.createElement("h2");
    heading.className = "h6";
    heading.id = "error-summary-" + formIndex;
    heading.textContent = items.length === 1
      ? "There is a problem with 1 field"
      : "There are problems with " + items.length + " fields";
    summary.setAttribute("aria-labelledby", heading.id);
    var list = document.createElement("ul");
    list.className = "mb-0";
    items.forEach(function (item) {
      var link = document.createElement("a");
      link.className = "alert-link";
      link.href = "#" + item.field.id;
      link.textContent = item.text;
      link.addEventListener("click", function (event) {
        event.preventDefault();
        item.field.focus();
      });
      var entry = document.createElement("li");
      entry.appendChild(link);
      list.appendChild(entry);
    });
    summary.appendChild(heading);
    summary.appendChild(list);
    form.insertBefore(summary, form.firstChild);
    return fields[0];
  }

  document.addEventListener("DOMContentLoaded", function () {
    var first = null;
    Array.prototype.forEach.call(document.querySelectorAll("form"), function (form, index) {
      var field = summarise(form, index);
      if (field && !first) first = field;
    });
    if (first) first.focus();
  });
})();
