// A form being sent shows that it is working and cannot be sent twice.
document.addEventListener("submit", (event) => {
  const button = event.target.querySelector("button[type=submit][data-working]");
  if (button) {
    button.disabled = true;
    button.textContent = button.dataset.working;
    button.classList.add("working");
  }
  const confirmText = event.target.dataset.confirm;
  if (confirmText && !window.confirm(confirmText)) {
    event.preventDefault();
    if (button) { button.disabled = false; }
  }
});
