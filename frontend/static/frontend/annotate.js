// The annotator page: one task on screen, the next one leased and its media loaded ahead.
// Vanilla JS, no build step. Talks to the JSON API with the session cookie + CSRF header.
// Every answer goes through the durable outbox of outbox.js (loaded first): kept in the
// browser before it is sent, sent again until the server has answered for good. Steady state:
// one request per answer, whose response also brings the task after next (see answer).
(() => {
  "use strict";
  const root = document.getElementById("annotator");
  if (!root) return;
  const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0",
                "q", "w", "e", "r", "t", "y", "u", "i", "o", "p"];
  const SEND_TIMEOUT_MS = 15000; // a hung answer request counts as a network failure
  const PROGRESS_EVERY_MS = 30000; // while answering, the server's counts at most this often
  const $ = (id) => document.getElementById(id);
  const urls = {
    next: root.dataset.nextUrl,
    progress: root.dataset.progressUrl,
    submit: (id) => root.dataset.submitUrl.replace("/0/", `/${id}/`),
    // also leases the caller's next task, not one of `exclude`, and returns it under `next`
    submitAndNext: (id, exclude) => `${urls.submit(id)}?next=${
      encodeURIComponent(root.dataset.campaign)}&exclude=${exclude.join(",")}`,
    skip: (id) => root.dataset.skipUrl.replace("/0/", `/${id}/`),
  };

  let current = null;       // the task on screen
  let buffered = null;      // the next task, already leased, media loading
  let prefetching = null;   // the promise of the fetch-ahead in flight
  let loading = null;       // the promise of loadFirst in flight
  let waiting = false;      // no task on screen because none could be loaded yet
  let selected = new Set(); // candidate indexes (0-based) toggled on
  let shownAt = 0;
  let busy = false;         // one answer at a time: a double Enter must not skip a task
  let progress = null;      // the counts shown: the server's, plus the answers stored since
  let progressAt = 0;       // when the server's counts were last asked for
  const videoCache = new Map(); // url -> <video> created while fetching ahead

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function api(method, url, body, timeoutMs) {
    const abort = timeoutMs ? new AbortController() : null;
    const timer = abort && setTimeout(() => abort.abort(), timeoutMs);
    try {
      const resp = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(),
                   "Accept": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: abort ? abort.signal : undefined,
      });
      if (resp.status === 204) return null;
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) throw httpError(resp, data && typeof data === "object" ? data : {});
      return data;
    } finally {
      clearTimeout(timer);
    }
  }

  function httpError(resp, data) {
    const err = new Error(data.detail ||
      (Object.keys(data).length ? JSON.stringify(data) : resp.statusText || `HTTP ${resp.status}`));
    err.status = resp.status;
    return err;
  }

  function say(text, kind) {
    const el = $("message");
    el.textContent = text || "";
    el.className = "message " + (kind || "");
    el.hidden = !text;
  }

  // --- answers, kept in the outbox of outbox.js until the server has them -----------------

  function uniqueKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
  }

  // The answer as it will be sent, with the ids it needs to be sent again from another page.
  function outboxEntry(kind, task) {
    const entry = { id: `${task.id}-${uniqueKey()}`, kind: kind === "skip" ? "skip" : "submit",
                    task: task.id, savedAt: Date.now() };
    if (kind !== "skip") {
      const ids = [...selected].sort((a, b) => a - b).map((i) => task.candidates[i].sticker_id);
      entry.body = {
        selected: kind === "none" ? [] : ids,
        none: kind === "none",
        submission_id: entry.id, // the server stores one answer per submission_id
        duration_ms: Math.round(performance.now() - shownAt),
      };
    }
    return entry;
  }

  function refusalText(taskId, message) {
    const named = `task ${taskId}:`;  // the server's refusals often start by naming the task
    const reason = message.toLowerCase().startsWith(named)
      ? message.slice(named.length).trim() : message;
    return `Task ${taskId}: ${reason}`;
  }

  // ahead: given on an answer's first send from this page only (see answer), so a retry or a
  // resend from an earlier visit never leases a task the page does not wait for.
  function send(entry, ahead) {
    if (entry.kind === "skip") {
      return api("POST", urls.skip(entry.task), undefined, SEND_TIMEOUT_MS);
    }
    const url = ahead ? urls.submitAndNext(entry.task, [ahead.shown, ...outbox.pendingTasks()])
      : urls.submit(entry.task);
    return api("POST", url, entry.body, SEND_TIMEOUT_MS).then((data) => {
      countStored();
      if (ahead) ahead.next = data.next; // a task, or null: none left
    });
  }

  const storage = StickersimOutbox.localStorageOrNull();
  const outbox = StickersimOutbox.create({
    campaign: root.dataset.campaign,
    user: root.dataset.user,
    storage,
    indicator: $("outbox"),
    send,
    onRefused: (entry, err) => say(refusalText(entry.task, err.message), "error"),
    onSettled: () => {
      refreshProgress();
      // The leases those answers held are free now: get the task that could not be had.
      if (busy) return;
      if (waiting) loadFirst(); else if (current && buffered === undefined) fetchAhead();
    },
  });

  // --- tasks on screen ---------------------------------------------------------------------

  // The file's own size caps the drawn size (see .sticker in app.css): never blown up.
  function sized(el, sticker) {
    if (sticker.width > 0) el.style.setProperty("--w", `${sticker.width}px`);
    if (sticker.height > 0) el.style.setProperty("--h", `${sticker.height}px`);
    return el;
  }

  function media(sticker, eager) {
    return sized(mediaElement(sticker, eager), sticker);
  }

  function mediaElement(sticker, eager) {
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
    waiting = false;
    $("done").hidden = true;
    $("waiting").hidden = true;
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
    fitGrid();
    shownAt = performance.now();
  }

  // Laptop layout (app.css): the grid has a fixed box; choose the column count that gives
  // the largest square tiles for all candidates in it. Phones scroll and ignore --cols.
  const GRID_GAP_PX = 8;
  function fitGrid() {
    const grid = $("candidates");
    const n = grid.children.length;
    const { clientWidth: w, clientHeight: h } = grid;
    if (!n || !w || !h) return;
    let best = { side: -1, cols: 5 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const side = Math.min((w - (cols - 1) * GRID_GAP_PX) / cols,
                            (h - (rows - 1) * GRID_GAP_PX) / rows);
      if (side > best.side) best = { side, cols };
    }
    grid.style.setProperty("--cols", best.cols);
    grid.style.setProperty("--rows", Math.ceil(n / best.cols));
  }
  if (window.ResizeObserver) new ResizeObserver(fitGrid).observe($("candidates"));

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

  function clearTask() {
    current = null;
    root.dataset.taskId = "";
    $("workspace").hidden = true;
  }

  function showDone() {
    clearTask();
    waiting = false;
    $("waiting").hidden = true;
    $("done").hidden = false;
  }

  // No task on screen yet, never the one just answered: it could be answered twice.
  function showWaiting(text) {
    clearTask();
    waiting = true;
    $("done").hidden = true;
    $("waiting").textContent = text;
    $("waiting").hidden = false;
  }

  function nextUrl(exclude) {
    // Tasks whose answers wait in the outbox are still leased to us: never take them again.
    return exclude.length ? `${urls.next}?exclude=${exclude.join(",")}` : urls.next;
  }

  async function fetchAhead() {
    if (!current) return;
    if (prefetching) return prefetching;
    prefetching = api("POST", nextUrl([current.id, ...outbox.pendingTasks()]))
      .then(keepAhead)
      // undefined, not null: "could not fetch" must not read as "no task left"
      .catch(() => { buffered = undefined; })
      .finally(() => { prefetching = null; });
    return prefetching;
  }

  // The task fetched ahead (null: none left). "None left" is not final while unsent answers
  // still hold leases (two at most).
  function keepAhead(task) {
    const shown = task && current && task.id === current.id; // never one task twice
    buffered = shown ? undefined : task || (outbox.pending() ? undefined : null);
    if (buffered) preload(buffered);
  }

  // Shows the buffered task at once. The task after it came with the answer's response
  // (ahead.next) or is fetched once the answer's first send is over, so the server never
  // hands back the task just answered and at most two leases are live.
  async function advance(answered, ahead) {
    if (prefetching) await prefetching;
    const next = buffered;
    buffered = null;
    if (next) { current = next; render(current); } else if (next === null) { showDone(); }
    else { showWaiting("Loading the next task…"); }
    try {
      await answered;
    } finally {
      // After a failed fetch-ahead (next undefined) fetch the next task now instead.
      if (!current || !next) await loadFirst();
      else if (ahead && ahead.next !== undefined) keepAhead(ahead.next);
      else fetchAhead(); // not piggybacked, or its request failed: a fetch-ahead of its own
      if (!current || Date.now() - progressAt >= PROGRESS_EVERY_MS) refreshProgress();
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
    // With the task after this one buffered already, the answer's own request leases the
    // one after that: no separate fetch-ahead (skipping leases nothing: one follows a skip).
    const ahead = kind !== "skip" && buffered && !prefetching ? { shown: buffered.id } : null;
    // Kept in the browser before anything goes on the network, then sent.
    advance(outbox.add(outboxEntry(kind, current), ahead), ahead)
      .finally(() => { busy = false; });
  }

  function showProgress(p) {
    progress = p;
    $("done-today").textContent = p.done_today_in_campaign;
    $("left").textContent = p.left_in_campaign;
  }

  async function refreshProgress() {
    progressAt = Date.now();
    try {
      showProgress(await api("GET", urls.progress));
    } catch (err) { /* progress is informative only */ }
  }

  // Counted here until the server's counts come (they replace these).
  function countStored() {
    if (!progress) return;
    showProgress({ done_today_in_campaign: progress.done_today_in_campaign + 1,
                   left_in_campaign: Math.max(0, progress.left_in_campaign - 1) });
  }

  let loadTimer = null;
  let loadFailed = false; // "Could not load a task" is on screen
  function loadFirst() {
    if (loading) return loading;
    clearTimeout(loadTimer);
    loading = (async () => {
      try {
        const task = await api("POST", nextUrl(outbox.pendingTasks()));
        if (loadFailed) { say(""); loadFailed = false; }
        if (task) {
          current = task;
          render(current);
          fetchAhead();
        } else if (outbox.pending()) {
          showWaiting("The next task loads once your earlier answers are sent.");
        } else {
          showDone();
        }
      } catch (err) {
        say(`Could not load a task: ${err.message}`, "error");
        loadFailed = true;
        if (!current) {
          showWaiting("Trying again…");
          loadTimer = setTimeout(() => { if (waiting) loadFirst(); }, 5000);
        }
      }
    })().finally(() => { loading = null; });
    return loading;
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
  window.addEventListener("online", () => {
    outbox.retryNow().then(() => { if (waiting && !busy) loadFirst(); });
  });

  // The instructions open on a first visit; later visits (and phones) start with them folded.
  const seen = storage && storage.getItem("stickersim.instructionsSeen");
  if (seen || window.matchMedia("(max-width: 700px)").matches) $("instructions").open = false;
  try { if (storage) storage.setItem("stickersim.instructionsSeen", "1"); } catch (e) { /* full */ }

  // Answers left by an earlier visit go out alongside the first task, which skips their tasks.
  outbox.start();
  loadFirst();
  refreshProgress();
})();
