// The outbox (待发送): everything the worker makes on the phone — reports with their photos, check-ins,
// batches of patrol points — is written to IndexedDB first, with the idempotency key it will be sent
// with, and only then sent.  A send that fails on the network stays and is retried (on `online`, on a
// timer, on demand); a resend after a lost answer carries the same key, so the server gives back the same
// case / check-in / batch instead of a second one.  What the server refuses for good (4xx with a reason)
// stays visible as failed until the worker deletes it: nobody's report is thrown away silently.
//
// Plain IndexedDB (one object store, a few lines) rather than a library.
import { ApiError, newKey, postForm, postJSON } from '../core/api.js';

const DB_NAME = 'onenet-field';
const STORE = 'outbox';
const RETRY_MS = 30000;

export const events = new EventTarget();
let dbPromise = null;
let flushing = null;
let again = false;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

async function run(mode, op) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const req = op(t.objectStore(STORE));
    t.oncomplete = () => resolve(req.result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

const put = (item) => run('readwrite', (s) => s.put(item));
export const remove = async (id) => {
  await run('readwrite', (s) => s.delete(id));
  changed();
};
export async function all() {
  const items = await run('readonly', (s) => s.getAll());
  return items.sort((a, b) => a.created - b.created);
}

async function changed() {
  const items = await all();
  const pending = items.filter((i) => !i.failed);
  events.dispatchEvent(new CustomEvent('change', { detail: { items, pending: pending.length } }));
}

/** Keep `body` for `kind` (report | checkin | patrol) under a new key and try to send it at once. */
export async function enqueue(kind, body, extra = {}) {
  const item = { id: newKey(), kind, body, created: Date.now(), attempts: 0, ...extra };
  await put(item);
  await changed();
  flush();
  return item;
}

function permanent(err) {
  // A JSON refusal with a reason will be refused again; a login that expired, a CSRF page, a timeout,
  // a rate limit or a server error may pass later.
  return err instanceof ApiError && err.body?.error && err.status >= 400 && err.status < 500 && ![401, 408, 429].includes(err.status);
}

async function sendReport(item) {
  if (!item.number) {
    const c = await postJSON('/api/cases', item.body, { 'Idempotency-Key': item.id });
    item.number = c.number;
    await put(item);
  }
  // Photos one by one, each removed from the item once stored, so a retry sends only what is missing.
  while (item.photos?.length) {
    const form = new FormData();
    form.set('file', item.photos[0], `photo-${item.photos.length}.jpg`);
    await postForm(`/api/cases/${encodeURIComponent(item.number)}/attachments`, form);
    item.photos.shift();
    await put(item);
  }
  return { number: item.number };
}

async function send(item) {
  if (item.kind === 'report') return sendReport(item);
  const url = item.kind === 'checkin' ? '/api/field/checkins' : '/api/field/patrols/points';
  return postJSON(url, item.body, { 'Idempotency-Key': item.id });
}

async function flushOnce() {
  if (!navigator.onLine) return changed();
  for (const item of await all()) {
    if (item.failed) continue;
    try {
      const answer = await send(item);
      await run('readwrite', (s) => s.delete(item.id));
      events.dispatchEvent(new CustomEvent('sent', { detail: { item, answer } }));
    } catch (err) {
      item.attempts += 1;
      item.error = err.message;
      item.status = err instanceof ApiError ? err.status : 0;
      if (permanent(err)) {
        item.failed = true;
        await put(item);
        events.dispatchEvent(new CustomEvent('failed', { detail: { item, error: err } }));
        continue;
      }
      await put(item);
      break; // the network or the session is down: keep the order, try again later
    }
  }
  return changed();
}

/** Send what is waiting, one run at a time; a call during a run asks for one more run after it. */
export function flush() {
  if (flushing) {
    again = true;
    return flushing;
  }
  flushing = (async () => {
    do {
      again = false;
      await flushOnce();
    } while (again && navigator.onLine);
  })().finally(() => (flushing = null));
  return flushing;
}

export function start() {
  window.addEventListener('online', () => flush());
  window.addEventListener('offline', () => changed());
  setInterval(() => flush(), RETRY_MS);
  return flush();
}
