// Copy buttons of the iPLEDGE entry sheet: each copies its value to the clipboard, so staff
// paste exactly what the sheet says into the iPLEDGE website.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  event.preventDefault();
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
  } catch (error) {
    // No clipboard (an insecure origin, or the browser refused): select the value instead.
    const value = document.getElementById(button.dataset.target);
    if (value) window.getSelection().selectAllChildren(value);
    button.textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => { button.textContent = label; }, 2000);
});
