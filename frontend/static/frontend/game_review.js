// Review of failed Sticktionary rounds, keyboard first: J/K move, A accept (with any edited
// query texts as fixes), E edit, D discard. Decisions go to POST /api/rounds/<id>/review/.
(function () {
  "use strict";
  const root = document.getElementById("review");
  if (!root) return;
  const message = document.getElementById("review-message");

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  const rounds = () => Array.from(root.querySelectorAll(".review-round"));
  const current = () => root.querySelector(".review-round.current");

  function move(step) {
    const all = rounds();
    if (!all.length) return;
    const at = Math.max(0, all.indexOf(current()));
    all.forEach((r) => r.classList.remove("current"));
    const next = all[Math.min(all.length - 1, Math.max(0, at + step))];
    next.classList.add("current");
    next.scrollIntoView({ block: "nearest" });
  }

  async function decide(section, decision) {
    if (!section) return;
    const fixes = {};
    for (const input of section.querySelectorAll(".fix")) {
      if (input.value !== input.defaultValue) fixes[input.dataset.queryId] = input.value;
    }
    const url = root.dataset.reviewUrl.replace("/0/review/", `/${section.dataset.roundId}/review/`);
    const resp = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ decision, fixes }),
    });
    const data = await resp.json().catch(() => ({}));
    message.hidden = false;
    message.classList.toggle("error", !resp.ok);
    message.textContent = resp.ok ? `Round ${section.dataset.roundId}: ${data.review}` : data.detail;
    if (resp.ok) {
      const wasCurrent = section.classList.contains("current");
      section.remove();
      if (wasCurrent && rounds().length) rounds()[0].classList.add("current");
    }
  }

  root.addEventListener("click", (e) => {
    const button = e.target.closest("[data-decision]");
    if (button) decide(button.closest(".review-round"), button.dataset.decision);
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input")) {
      if (e.key === "Enter") { e.preventDefault(); e.target.blur(); }
      return;
    }
    const key = e.key.toLowerCase();
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (key === "a") decide(current(), "accept");
    else if (key === "d") decide(current(), "discard");
    else if (key === "e") { e.preventDefault(); current()?.querySelector(".fix")?.focus(); }
  });
})();
