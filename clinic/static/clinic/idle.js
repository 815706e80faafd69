// The idle warning (templates/clinic/session_guard.html, clinic/session_guard.py): the
// server ends a session after SESSION_IDLE_MINUTES without a request; shortly before, this
// shows a warning with a "Stay signed in" button, which posts to the keep-alive address. The
// time of the last request is shared between the user's tabs (localStorage), so work in one tab
// does not make another warn.
(() => {
  const box = document.getElementById("idle-warning");
  if (!box) return;
  const idleMs = Number(box.dataset.idleSeconds) * 1000;
  const warnMs = Number(box.dataset.warningSeconds) * 1000;
  const left = document.getElementById("idle-warning-left");
  const ended = document.getElementById("idle-ended");
  const button = document.getElementById("idle-stay");
  const STORE = "clinic.lastRequestAt";

  const touched = () => {
    const now = Date.now();
    try {
      localStorage.setItem(STORE, String(now));
    } catch (e) {
      // Storage may be off: this tab still counts its own time.
    }
    return now;
  };
  let lastHere = touched();
  const lastRequest = () => {
    let shared = 0;
    try {
      shared = Number(localStorage.getItem(STORE)) || 0;
    } catch (e) {
      shared = 0;
    }
    return Math.max(lastHere, shared);
  };

  const say = (ms) => {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    if (seconds > 90) return `${Math.ceil(seconds / 60)} minutes`;
    return `${seconds} second${seconds === 1 ? "" : "s"}`;
  };

  let timer = null;
  const tick = () => {
    const remaining = lastRequest() + idleMs - Date.now();
    if (remaining <= 0) {
      box.hidden = true;
      ended.hidden = false;
      clearInterval(timer);
      return;
    }
    if (remaining <= warnMs) {
      left.textContent = say(remaining);
      if (box.hidden) {
        box.hidden = false;
        button.focus();
      }
    } else {
      box.hidden = true;
    }
  };

  button.addEventListener("click", async () => {
    const form = document.getElementById("idle-keep-alive-form");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        redirect: "manual",
        headers: { "X-Requested-With": "fetch" },
      });
      if (response.status === 204) {
        lastHere = touched();
      }
    } finally {
      button.disabled = false;
      tick();
    }
  });

  timer = setInterval(tick, 1000);
  tick();
})();
