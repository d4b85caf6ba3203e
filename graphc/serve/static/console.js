// graphc console: confirm before destructive forms; follow a page's runs while they move (polling).
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
const live = document.querySelector("[data-live]");
if (live) {
  let seen = null;
  setInterval(async () => {
    if (document.querySelector("form#answer input:focus, form#answer select:focus")) return;  // never under a typing hand
    const response = await fetch(live.dataset.live, { credentials: "same-origin" });
    if (!response.ok) return;
    const text = await response.text();
    if (seen !== null && text !== seen && !document.querySelector("#error")) window.location.reload();
    seen = text;
  }, 2000);
}
