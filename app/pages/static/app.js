// A form asks first when it says so (data-confirm); a form being sent shows that it is working
// and cannot be sent twice.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const confirmText = form.dataset.confirm;
  if (confirmText && !window.confirm(confirmText)) {
    event.preventDefault();
    return;
  }
  const button = form.querySelector("button[type=submit][data-working]");
  if (button) {
    button.disabled = true;
    button.textContent = button.dataset.working;
    button.classList.add("working");
  }
});
