// LiteFlow dashboard: confirmations for actions, and pages that update themselves.
// Pages carry no inline script (the content security policy forbids it); this file is all.
"use strict";

function confirmActions(root) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

function busy() {
  // Never swap the page under someone choosing a step or typing a name.
  const active = document.activeElement;
  return active && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName);
}

async function refresh() {
  if (busy()) return;
  const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  const main = fresh.querySelector("main");
  if (!main) return;
  const open = new Set([...document.querySelectorAll("details[open]")].map((d) => d.textContent));
  document.querySelector("main").replaceWith(main);
  for (const details of main.querySelectorAll("details")) {
    if (open.has(details.textContent)) details.open = true;
  }
  confirmActions(main);
  document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
}

document.addEventListener("DOMContentLoaded", () => {
  confirmActions(document);
  const watch = document.body.dataset.watch;
  if (watch && window.EventSource) {
    const source = new EventSource(document.body.dataset.events + "?" + watch);
    source.addEventListener("change", () => { refresh(); });
  }
});
