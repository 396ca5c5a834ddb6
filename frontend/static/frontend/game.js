// Sticktionary play page: roles alternate (after a round in one role the page asks for the
// other first), the labeler sees a live BM25 preview of their queries, the retriever ranks up
// to three picks, both see the outcome. Everything goes through the JSON API (game.apis).
(function () {
  "use strict";
  const root = document.getElementById("game");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const language = root.dataset.language;
  const MAX_PICKS = 3;
  let role = "label"; // so the first ask is "retrieve": a waiting round should not wait long
  let current = null; // the round on screen
  let picks = []; // sticker ids, rank order
  let previewTimer = null;
  let previewSeq = 0;

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function api(url, body) {
    const init = body === undefined ? { credentials: "same-origin" } : {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    };
    const resp = await fetch(url, init);
    if (resp.status === 204) return null;
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.detail || `error ${resp.status}`);
    return data;
  }

  function roundUrl(id, suffix) {
    return root.dataset.roundUrl.replace(/0\/$/, `${id}/${suffix}`);
  }

  function say(text, isError) {
    const m = $("message");
    m.textContent = text || "";
    m.hidden = !text;
    m.classList.toggle("error", !!isError);
  }

  function stickerEl(s) {
    const el = document.createElement(s.media_type === "webm" ? "video" : "img");
    el.className = "sticker";
    el.src = s.url;
    el.dataset.stickerId = s.sticker_id;
    if (s.media_type === "webm") {
      Object.assign(el, { autoplay: true, muted: true, loop: true, playsInline: true });
      el.setAttribute("aria-label", s.sticker_id);
    } else {
      el.alt = s.sticker_id;
    }
    return el;
  }

  function show(screen) {
    for (const id of ["label-screen", "retrieve-screen", "outcome", "nothing"]) {
      $(id).hidden = id !== screen;
    }
  }

  async function refreshPoints() {
    const board = await api(`${root.dataset.leaderboardUrl}?language=${language}`);
    if ($("points")) $("points").textContent = board.my_points;
  }

  // --- which round next: the other role first, then the same one
  async function next() {
    say("");
    const order = role === "label" ? ["retrieve", "label"] : ["label", "retrieve"];
    for (const r of order) {
      const url = r === "label" ? root.dataset.labelNextUrl : root.dataset.retrieveNextUrl;
      const round = await api(url, { language });
      if (round) {
        role = r;
        current = round;
        root.dataset.roundId = round.round_id;
        root.dataset.role = r;
        return r === "label" ? showLabel(round) : showRetrieve(round);
      }
    }
    current = null;
    root.dataset.roundId = "";
    show("nothing");
  }

  // --- labeler
  function showLabel(round) {
    const fig = $("label-sticker");
    fig.replaceChildren(stickerEl(round.sticker));
    const known = $("known-queries");
    known.hidden = round.known_queries.length === 0;
    known.textContent = `Already has: ${round.known_queries.join(", ")}`;
    const fb = $("feedback");
    fb.replaceChildren(...round.feedback.map((f) => {
      const li = document.createElement("li");
      li.className = f.rank ? "found" : "missed";
      li.textContent = `${f.message}${f.points ? ` (+${f.points})` : ""}`;
      return li;
    }));
    $("query-input").value = "";
    $("preview").replaceChildren();
    show("label-screen");
    $("query-input").focus();
  }

  async function preview() {
    const q = $("query-input").value.trim();
    const seq = ++previewSeq;
    if (!q) { $("preview").replaceChildren(); return; }
    const url = `${root.dataset.searchUrl}?language=${language}&k=8&q=${encodeURIComponent(q)}`;
    try {
      const found = await api(url);
      if (seq !== previewSeq) return; // a newer keystroke's answer wins
      $("preview").replaceChildren(...found.results.map((s) => {
        const li = document.createElement("li");
        li.className = "preview-item";
        li.appendChild(stickerEl(s));
        return li;
      }));
      if (found.results.length === 0) {
        const li = document.createElement("li");
        li.className = "preview-empty";
        li.textContent = "no match yet";
        $("preview").replaceChildren(li);
      }
    } catch (e) { /* a preview is a hint; typing goes on */ }
  }

  $("query-input").addEventListener("input", () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 200);
  });
  $("query-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); submitLabel(); }
  });

  async function submitLabel() {
    if (!current) return;
    const text = $("query-input").value;
    try {
      await api(roundUrl(current.round_id, "label/"), {
        queries: [text], language, submission_id: `label-${current.round_id}`,
      });
      say("Queries sent: another player will try to find the sticker with them.");
      role = "label";
      await next();
    } catch (e) { say(e.message, true); }
  }

  // --- retriever
  function renderPicks() {
    for (const tile of $("candidates").children) {
      const rank = picks.indexOf(tile.dataset.stickerId) + 1;
      tile.classList.toggle("selected", rank > 0);
      tile.querySelector(".rank").textContent = rank > 0 ? String(rank) : "";
    }
    $("picks-count").textContent = `${picks.length} of ${MAX_PICKS} picked`;
  }

  function showRetrieve(round) {
    picks = [];
    $("queries").textContent = round.queries.map((q) => `“${q}”`).join(", ");
    $("candidates").replaceChildren(...round.candidates.map((s) => {
      const tile = document.createElement("button");
      tile.type = "button";
      tile.className = "tile";
      tile.dataset.stickerId = s.sticker_id;
      const rank = document.createElement("span");
      rank.className = "rank";
      tile.append(stickerEl(s), rank);
      tile.addEventListener("click", () => {
        const at = picks.indexOf(s.sticker_id);
        if (at >= 0) picks.splice(at, 1);
        else if (picks.length < MAX_PICKS) picks.push(s.sticker_id);
        renderPicks();
      });
      return tile;
    }));
    renderPicks();
    show("retrieve-screen");
  }

  async function submitPicks() {
    if (!current) return;
    try {
      const outcome = await api(roundUrl(current.round_id, "retrieve/"), {
        picks, language, submission_id: `retrieve-${current.round_id}`,
      });
      role = "retrieve";
      showOutcome(outcome);
      await refreshPoints();
    } catch (e) { say(e.message, true); }
  }

  function showOutcome(o) {
    $("outcome-title").textContent = o.success ? `Found at rank ${o.rank}!` : "Not found";
    $("outcome-text").textContent = o.success
      ? `You and the labeler each score ${o.points.retriever} points. Their queries now help everyone find this sticker.`
      : "This was the sticker. No points this time; an admin will look at the queries.";
    $("outcome-target").replaceChildren(stickerEl(o.target));
    root.dataset.outcome = o.success ? "success" : "miss";
    show("outcome");
    $("btn-next").focus();
  }

  async function suggest() {
    const text = $("suggest-input").value;
    if (!current || !text.trim()) return;
    try {
      const done = await api(roundUrl(current.round_id, "suggest/"), { queries: [text], language });
      say(`Thank you: ${done.suggestions.map((q) => `“${q}”`).join(", ")} added.`);
      $("suggest-input").value = "";
    } catch (e) { say(e.message, true); }
  }

  async function skip(suffix) {
    if (!current) return;
    try {
      await api(roundUrl(current.round_id, suffix), {});
      await next();
    } catch (e) { say(e.message, true); }
  }

  $("btn-label-submit").addEventListener("click", submitLabel);
  $("btn-label-skip").addEventListener("click", () => skip("label/skip/"));
  $("btn-retrieve-submit").addEventListener("click", submitPicks);
  $("btn-retrieve-skip").addEventListener("click", () => skip("retrieve/skip/"));
  $("btn-suggest").addEventListener("click", suggest);
  $("btn-next").addEventListener("click", () => next().catch((e) => say(e.message, true)));
  $("btn-retry").addEventListener("click", () => next().catch((e) => say(e.message, true)));
  next().catch((e) => say(e.message, true));
})();
