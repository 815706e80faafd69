// A form posted after the session ended (clinic/session_guard.py): the fields typed then,
// minus passwords and codes, are filled in again on the page it came from. Nothing is
// submitted: the user checks and sends it.
(() => {
  const data = document.getElementById("kept-form");
  if (!data) return;
  const fields = JSON.parse(data.textContent);
  const names = new Set(fields.map(([name]) => name));
  // The page's form with the most of those fields (not the navigation's own small forms).
  let best = null;
  let bestCount = 0;
  for (const form of document.querySelectorAll("main form")) {
    const count = [...form.elements].filter((el) => names.has(el.name)).length;
    if (count > bestCount) {
      best = form;
      bestCount = count;
    }
  }
  if (!best) return;
  let first = null;
  for (const [name, values] of fields) {
    const elements = [...best.elements].filter((el) => el.name === name);
    elements.forEach((el, index) => {
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = values.includes(el.value);
      } else if (el.tagName === "SELECT" && el.multiple) {
        for (const option of el.options) option.selected = values.includes(option.value);
      } else if (el.type !== "file" && el.type !== "hidden" && el.type !== "password") {
        el.value = values[Math.min(index, values.length - 1)] ?? "";
      } else {
        return;
      }
      el.dispatchEvent(new Event("input", { bubbles: true }));
      first = first || el;
    });
  }
  if (first) first.focus();
})();
