// fetch() wrappers for our own JSON APIs: same origin only, session cookie, CSRF token on writes, and
// the API's error shape {"code", "error": {"zh", "en"}} turned into an Error with a readable message.
import { pick } from './i18n.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ? pick(body.error) : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : '';
}

async function handle(response) {
  const type = response.headers.get('content-type') || '';
  const body = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function getJSON(url, { signal } = {}) {
  const response = await fetch(url, { credentials: 'same-origin', signal, headers: { Accept: 'application/json' } });
  return handle(response);
}

export async function postJSON(url, data, headers = {}) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'X-CSRFToken': csrfToken(),
      ...headers,
    },
    body: JSON.stringify(data),
  });
  return handle(response);
}

export async function deleteJSON(url) {
  const response = await fetch(url, {
    method: 'DELETE',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'X-CSRFToken': csrfToken() },
  });
  return handle(response);
}

export async function postForm(url, form, headers = {}) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'X-CSRFToken': csrfToken(), ...headers },
    body: form,
  });
  return handle(response);
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** A random idempotency key (crypto.randomUUID needs a secure context; plain http on a LAN is not). */
export function newKey() {
  if (globalThis.crypto?.randomUUID) {
    try {
      return crypto.randomUUID();
    } catch {
      /* fall through */
    }
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
