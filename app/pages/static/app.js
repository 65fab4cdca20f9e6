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

// A redemption code counts down and follows its outcome: the moment the merchant redeems it
// (or it expires) the page shows what happened. The count starts from the server's seconds,
// so a phone's clock that is off does not shorten or lengthen it.
const waiting = document.querySelector("[data-follow]");
if (waiting) {
  const ends = Date.now() + Number(waiting.dataset.secondsLeft) * 1000;
  const shown = waiting.querySelector("[data-countdown]");
  const tick = () => {
    const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
    shown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    return left;
  };
  const timer = setInterval(() => {
    if (tick() === 0) clearInterval(timer);
  }, 1000);
  const follow = async () => {
    try {
      const answer = await fetch(waiting.dataset.follow, {
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
      if (answer.ok && (await answer.json()).state !== "waiting") {
        window.location.reload();
        return;
      }
    } catch (error) {
      // offline for a moment: ask again
    }
    setTimeout(follow, 2000);
  };
  setTimeout(follow, 2000);
}
