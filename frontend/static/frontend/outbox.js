// The durable outbox of the annotator page: no answer is ever lost. Each answer is written to
// localStorage before it is sent, and leaves it only when the server has answered for good
// (stored, or refused with a message). A network failure, a 5xx, a reload or a closed tab keeps
// it there; it is sent again with backoff, when the browser is back online and on the next page
// load. Sending twice is safe: the server stores one answer per submission_id (and per task
// and annotator). Vanilla JS, no build step; loaded before annotate.js, which uses it through
//
//   const outbox = StickersimOutbox.create({campaign, user, storage, indicator, send,
//                                           onRefused, onSettled});
//   outbox.start()           draws the indicator, sends what an earlier visit left
//   outbox.add(entry, live)  keeps the answer, then sends it: "stored", "refused" or "kept";
//                            `live` goes to that first send only, never to a retry
//   outbox.flush()           sends what is due; resolves to how many answers were settled
//   outbox.retryNow()        forgets the backoff and flushes (the browser is back online)
//   outbox.pending()         how many answers are unsent
//   outbox.pendingTasks()    the task ids they answer (their leases are still held)
//
// An entry is {id, task, savedAt, ...}: a unique string id, the task id it answers and the
// time it was given (answers are sent oldest first); the rest is only read by `send`.
(() => {
  "use strict";
  const RETRY_FIRST_MS = 1000; // backoff of an unsent answer: 1 s, 2 s, 4 s ... 60 s
  const RETRY_MAX_MS = 60000;

  function localStorageOrNull() {
    try {
      const storage = window.localStorage; // the getter itself throws when storage is blocked
      storage.setItem("stickersim.probe", "1");
      storage.removeItem("stickersim.probe");
      return storage;
    } catch (e) {
      return null; // private mode, storage disabled: the outbox lives in memory only
    }
  }

  // One storage key per answer, not one list: two tabs never overwrite each other's answers.
  // Keys name the campaign and the user, so people sharing a browser keep theirs apart.
  function makeStore(storage, prefix) {
    const memory = new Map(); // entries storage refused (quota), or all without storage
    return {
      put(entry) {
        try {
          if (storage) { storage.setItem(prefix + entry.id, JSON.stringify(entry)); return; }
        } catch (e) { /* quota exceeded: keep it in memory, it is still sent */ }
        memory.set(entry.id, entry);
      },
      remove(id) {
        memory.delete(id);
        try { if (storage) storage.removeItem(prefix + id); } catch (e) { /* nothing to do */ }
      },
      // Oldest first, so answers reach the server in the order they were given.
      entries() {
        const found = new Map(memory);
        try {
          for (let i = 0; storage && i < storage.length; i++) {
            const key = storage.key(i);
            if (!key || !key.startsWith(prefix)) continue;
            try {
              const entry = JSON.parse(storage.getItem(key));
              if (entry && entry.id && entry.task) found.set(entry.id, entry);
            } catch (e) { /* unreadable: not an answer */ }
          }
        } catch (e) { /* storage went away: memory is all there is */ }
        return [...found.values()].sort(
          (a, b) => (a.savedAt - b.savedAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      },
    };
  }

  // A refusal is final (the answer will never be stored: show why and drop it); anything else
  // (network, timeout, 5xx, expired session, rate limit) may pass later, so the answer stays.
  function isRefusal(status) {
    return status >= 400 && status < 500 && ![401, 403, 408, 425, 429].includes(status);
  }

  function leaveWarning(event) {
    event.preventDefault();
    event.returnValue = ""; // older browsers need it set to show the dialog
  }

  // campaign, user: name the storage keys (stickersim.outbox.v1/<campaign>/<user pk>/<id>).
  // storage: localStorage or null (see localStorageOrNull). indicator: the element that
  // shows how many answers wait. send(entry, live): a promise, rejected with an Error whose
  // `status` is the HTTP status (none for a network failure); `live` is what add() was given,
  // on the answer's first send from this page, undefined on a retry. onRefused(entry, err): the
  // server refused it for good. onSettled(n): a flush pass stored or refused n > 0 answers.
  function create({ campaign, user, storage, indicator, send, onRefused, onSettled }) {
    const prefix = ["stickersim.outbox.v1", campaign, user || "anonymous", ""]
      .map(encodeURIComponent).join("/");
    const store = makeStore(storage, prefix);
    const sending = new Map(); // entry id -> promise of its request in flight (one per entry)
    const retries = new Map(); // entry id -> {attempts, dueAt, network}: this tab's backoff
    let flushing = null;       // the promise of the flush pass in flight
    let flushTimer = null;
    let signedOut = false;     // the last answer got 401/403: the session expired
    let warning = false;       // the beforeunload warning is on

    function backoff(id, status) {
      const attempts = ((retries.get(id) || {}).attempts || 0) + 1;
      const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempts - 1));
      retries.set(id, { attempts, network: !status,
                        dueAt: Date.now() + delay * (0.75 + Math.random() / 2) });
    }

    // One attempt to send one answer; resolves to "stored", "refused" or "kept", never rejects.
    function deliver(entry, live) {
      if (sending.has(entry.id)) return sending.get(entry.id);
      const attempt = send(entry, live)
        .then(() => {
          store.remove(entry.id);
          retries.delete(entry.id);
          signedOut = false;
          return "stored";
        })
        .catch((err) => {
          if (isRefusal(err.status)) {
            store.remove(entry.id);
            retries.delete(entry.id);
            onRefused(entry, err);
            return "refused";
          }
          signedOut = err.status === 401 || err.status === 403;
          backoff(entry.id, err.status);
          return "kept";
        })
        .finally(() => {
          sending.delete(entry.id);
          show();
          if (!flushing) scheduleFlush();
        });
      sending.set(entry.id, attempt);
      return attempt;
    }

    // Sends what the outbox holds whose backoff is due, oldest first. A network failure ends
    // the pass (the rest would fail too); a 5xx on one answer does not hold back the others.
    function flush() {
      if (flushing) return flushing;
      clearTimeout(flushTimer);
      flushTimer = null;
      flushing = (async () => {
        let settled = 0;
        for (const entry of store.entries()) {
          const retry = retries.get(entry.id);
          if (retry && retry.dueAt > Date.now()) continue;
          const outcome = await deliver(entry);
          if (outcome !== "kept") settled++;
          else if ((retries.get(entry.id) || {}).network) break;
        }
        return settled;
      })().finally(() => { flushing = null; scheduleFlush(); });
      flushing.then((settled) => { if (settled) onSettled(settled); });
      return flushing;
    }

    function scheduleFlush() {
      if (flushing) return; // the pass schedules the next one when it ends
      clearTimeout(flushTimer);
      flushTimer = null;
      const due = store.entries().filter((e) => !sending.has(e.id))
        .map((e) => (retries.get(e.id) || { dueAt: 0 }).dueAt);
      if (!due.length) return;
      const delay = Math.max(0, Math.min(...due) - Date.now());
      flushTimer = setTimeout(() => { flushTimer = null; flush(); }, delay);
    }

    // Listening to beforeunload only while something is unsent keeps the back/forward cache.
    function warnOnLeave(on) {
      if (on === warning) return;
      warning = on;
      if (on) window.addEventListener("beforeunload", leaveWarning);
      else window.removeEventListener("beforeunload", leaveWarning);
    }

    function show() {
      const n = store.entries().length;
      if (!n) {
        indicator.textContent = "All answers saved";
        indicator.className = "outbox saved";
      } else {
        let text = `${n} answer${n === 1 ? "" : "s"} waiting to be sent`;
        if (signedOut) text += ": log in again to send them";
        else if (!navigator.onLine) text += " (offline)";
        indicator.textContent = text;
        indicator.className = "outbox pending";
      }
      indicator.dataset.pending = String(n);
      warnOnLeave(n > 0);
    }

    window.addEventListener("offline", show);
    window.addEventListener("storage", (ev) => {
      // another tab of this campaign added or sent an answer
      if (ev.key === null || ev.key.startsWith(prefix)) show();
    });

    return Object.freeze({
      start() { show(); return flush(); },
      add(entry, live) {
        store.put(entry); // stored in the browser before anything goes on the network
        show();
        return deliver(entry, live);
      },
      flush,
      retryNow() {
        retries.clear(); // back online: send everything now, not at the end of its backoff
        show();
        return flush();
      },
      pending: () => store.entries().length,
      pendingTasks: () => [...new Set(store.entries().map((e) => e.task))],
    });
  }

  window.StickersimOutbox = Object.freeze({ create, localStorageOrNull });
})();
