// Asks before a form is sent when its submit button (or the form) carries data-confirm.
// A file rather than onclick="…", which the Content-Security-Policy does not run.
document.addEventListener("submit", (event) => {
  const message = event.submitter?.dataset.confirm || event.target.dataset?.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
