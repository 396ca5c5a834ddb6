// The annotator page: one task on screen, the next one leased and its media loaded ahead.
// Vanilla JS, no build step. Talks to the JSON API with the session cookie + CSRF header.
(() => {
  "use strict";
  const root = document.getElementById("annotator");
  if (!root) return;
  const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0",
                "q", "w", "e", "r", "t", "y", "u", "i", "o", "p"];
  const $ = (id) => document.getElementById(id);
  const urls = {
    next: root.dataset.nextUrl,
    progress: root.dataset.progressUrl,
    submit: (id) => root.dataset.submitUrl.replace("/0/", `/${id}/`),
    skip: (id) => root.dataset.skipUrl.replace("/0/", `/${id}/`),
  };

  let current = null;       // the task on screen
  let buffered = null;      // the next task, already leased, media loading
  let prefetching = null;   // the promise of the fetch-ahead in flight
  let selected = new Set(); // candidate indexes (0-based) toggled on
  let shownAt = 0;
  let busy = false;         // one answer at a time: a double Enter must not skip a task
  const videoCache = new Map(); // url -> <video> created while fetching ahead

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function api(method, url, body) {
    const resp = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(),
                 "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (resp.status === 204) return null;
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = new Error(data.detail || JSON.stringify(data) || resp.statusText);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  function say(text, kind) {
    const el = $("message");
    el.textContent = text || "";
    el.className = "message " + (kind || "");
    el.hidden = !text;
  }

  function media(sticker, eager) {
    if (sticker.media_type === "webm") {
      let v = videoCache.get(sticker.url);
      if (v) { videoCache.delete(sticker.url); } else { v = document.createElement("video"); }
      v.src = sticker.url;
      v.autoplay = true; v.muted = true; v.loop = true; v.playsInline = true;
      v.setAttribute("muted", ""); v.setAttribute("playsinline", "");
      v.preload = "auto";
      v.className = "sticker";
      v.dataset.stickerId = sticker.sticker_id;
      v.play().catch(() => {}); // autoplay of muted video is allowed; ignore a refused play
      return v;
    }
    const img = document.createElement("img");
    img.src = sticker.url;
    img.alt = sticker.sticker_id;
    img.className = "sticker";
    img.decoding = "async";
    img.loading = eager ? "eager" : "lazy";
    img.dataset.stickerId = sticker.sticker_id;
    return img;
  }

  function preload(task) {
    for (const s of [task.anchor, ...task.candidates]) {
      if (s.media_type === "webm") {
        if (!videoCache.has(s.url)) {
          const v = document.createElement("video");
          v.preload = "auto"; v.muted = true; v.src = s.url;
          videoCache.set(s.url, v);
        }
      } else {
        new Image().src = s.url;
      }
    }
  }

  function render(task) {
    selected = new Set();
    $("done").hidden = true;
    $("workspace").hidden = false;
    const anchor = $("anchor");
    anchor.replaceChildren(media(task.anchor, true));
    anchor.dataset.taskId = task.id;
    const cap = document.createElement("figcaption");
    cap.textContent = "Anchor";
    anchor.appendChild(cap);
    const grid = $("candidates");
    grid.replaceChildren(...task.candidates.map((c, i) => {
      const tile = document.createElement("button");
      tile.type = "button";
      tile.className = "tile";
      tile.dataset.index = i;
      tile.dataset.stickerId = c.sticker_id;
      tile.setAttribute("aria-pressed", "false");
      tile.title = `Toggle (key ${KEYS[i] || ""})`;
      const key = document.createElement("span");
      key.className = "key";
      key.textContent = (KEYS[i] || "").toUpperCase();
      tile.append(media(c, true), key);
      tile.addEventListener("click", () => toggle(i));
      return tile;
    }));
    root.dataset.taskId = task.id;
    updateCount();
    shownAt = performance.now();
  }

  function toggle(i) {
    if (!current || i >= current.candidates.length) return;
    if (selected.has(i)) selected.delete(i); else selected.add(i);
    const tile = $("candidates").children[i];
    tile.classList.toggle("selected", selected.has(i));
    tile.setAttribute("aria-pressed", String(selected.has(i)));
    updateCount();
  }

  function updateCount() {
    $("selected-count").textContent = `${selected.size} selected`;
  }

  function showDone() {
    current = null;
    root.dataset.taskId = "";
    $("workspace").hidden = true;
    $("done").hidden = false;
  }

  async function fetchAhead() {
    if (!current) return;
    const exclude = current.id;
    prefetching = api("POST", `${urls.next}?exclude=${exclude}`)
      .then((task) => { buffered = task; if (task) preload(task); })
      // undefined, not null: "could not fetch" must not read as "no task left"
      .catch(() => { buffered = undefined; })
      .finally(() => { prefetching = null; });
    return prefetching;
  }

  // Shows the buffered task at once; the next fetch-ahead waits for the answer to be stored,
  // so the server never hands back the task just answered.
  async function advance(answered) {
    if (prefetching) await prefetching;
    const next = buffered;
    buffered = null;
    if (next) { current = next; render(current); } else if (next === null) { showDone(); }
    try {
      await answered;
    } finally {
      // After a failed fetch-ahead (next undefined) fetch the next task now instead.
      if (current && next) fetchAhead(); else await loadFirst();
      refreshProgress();
    }
  }

  async function sendWithRetry(method, url, body) {
    // Network failures are retried with the same submission_id: the server stores it once.
    for (let attempt = 0; ; attempt++) {
      try {
        return await api(method, url, body);
      } catch (err) {
        if (err.status || attempt >= 4) throw err;
        await new Promise((r) => setTimeout(r, 300 * 2 ** attempt));
      }
    }
  }

  function answer(kind) {
    if (!current || busy) return;
    if (kind === "submit" && selected.size === 0) {
      say("Nothing selected: press N if none of the candidates is similar.", "hint");
      return;
    }
    busy = true;
    say("");
    const task = current;
    let sent;
    if (kind === "skip") {
      sent = sendWithRetry("POST", urls.skip(task.id));
    } else {
      const ids = [...selected].sort((a, b) => a - b).map((i) => task.candidates[i].sticker_id);
      sent = sendWithRetry("POST", urls.submit(task.id), {
        selected: kind === "none" ? [] : ids,
        none: kind === "none",
        submission_id: `${task.id}-${crypto.randomUUID ? crypto.randomUUID() : Date.now()}`,
        duration_ms: Math.round(performance.now() - shownAt),
      });
    }
    const stored = sent.catch((err) => {
      say(`Task ${task.id}: ${err.message}`, "error");
    });
    advance(stored).finally(() => { busy = false; });
  }

  async function refreshProgress() {
    try {
      const p = await api("GET", urls.progress);
      $("done-today").textContent = p.done_today_in_campaign;
      $("left").textContent = p.left_in_campaign;
    } catch (err) { /* progress is informative only */ }
  }

  async function loadFirst() {
    try {
      const task = await api("POST", urls.next);
      if (!task) { showDone(); return; }
      current = task;
      render(current);
      fetchAhead();
    } catch (err) {
      say(`Could not load a task: ${err.message}`, "error");
    }
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    const key = ev.key.toLowerCase();
    const index = KEYS.indexOf(key);
    if (index >= 0) { ev.preventDefault(); toggle(index); return; }
    if (key === "enter") { ev.preventDefault(); answer("submit"); }
    else if (key === "n") { ev.preventDefault(); answer("none"); }
    else if (key === "s") { ev.preventDefault(); answer("skip"); }
    else if (key === "h" || key === "?") {
      ev.preventDefault();
      $("instructions").open = !$("instructions").open;
    }
  });
  $("btn-submit").addEventListener("click", () => answer("submit"));
  $("btn-none").addEventListener("click", () => answer("none"));
  $("btn-skip").addEventListener("click", () => answer("skip"));
  $("help-toggle").addEventListener("click", () => {
    $("instructions").open = !$("instructions").open;
  });

  // The instructions open on a first visit; later visits (and phones) start with them folded.
  const seen = window.localStorage && localStorage.getItem("stickersim.instructionsSeen");
  if (seen || window.matchMedia("(max-width: 700px)").matches) $("instructions").open = false;
  try { localStorage.setItem("stickersim.instructionsSeen", "1"); } catch (e) { /* private */ }

  loadFirst();
  refreshProgress();
})();
