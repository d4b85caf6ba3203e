// graphc console: confirm before destructive forms; follow a page's runs while they move (polling the API).
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// What the page shows of its runs, as the template writes it in `data-shown`.
function shown(data) {
  if (Array.isArray(data.runs)) return data.runs.map((r) => `${r.id}:${r.status}:${r.node || ""} `).join("");
  return `${data.status}|${data.node || ""}|${data.steps}|${data.wakes || ""}`;
}

const live = document.querySelector("[data-live]");
if (live) {
  setInterval(async () => {
    if (document.querySelector("form input:focus, form select:focus, form textarea:focus")) return;  // never under a typing hand
    const response = await fetch(live.dataset.live, { credentials: "same-origin" });
    if (response.ok && shown(await response.json()) !== live.dataset.shown) window.location.reload();
  }, 1500);
}
