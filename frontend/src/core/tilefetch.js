// Tiles fetched with retries. MapLibre asks for a tile once and leaves a hole on any failure; a map page
// that reloads while the server is briefly busy (HTTP 503 with Retry-After, a proxy's 502/504, a dropped
// connection) should wait and ask again instead. MapLibre has no retry option, so the pages' tile URLs
// are routed through a custom protocol (MapLibre's addProtocol hook, run on the main thread even for
// the workers' requests) whose loader is a fetch with bounded, abortable backoff.
export const PROTOCOL = 'onenet-tile';
const RETRYABLE = new Set([408, 429, 502, 503, 504]);
const ATTEMPTS = 4;
const MAX_WAIT_MS = 5000;

/** `http://host/tiles/…` → `onenet-tile://host/tiles/…` for tiles of this origin; others unchanged. */
export function routed(url) {
  const u = new URL(url, window.location.href);
  if (u.origin !== window.location.origin || !u.pathname.startsWith('/tiles/')) return url;
  return `${PROTOCOL}://${u.host}${u.pathname}${u.search}`;
}

function original(url) {
  return `${window.location.protocol}//${url.slice(PROTOCOL.length + 3)}`;
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('aborted', 'AbortError'));
    });
  });
}

function waitFor(response, attempt) {
  const after = Number(response?.headers.get('Retry-After'));
  const ms = Number.isFinite(after) && after > 0 ? after * 1000 : 400 * 2 ** attempt;
  return Math.min(ms, MAX_WAIT_MS);
}

/** The protocol's loader: the tile's bytes (empty for 204), or an error that names the tile and why. */
export async function loadTile(params, abortController) {
  const url = original(params.url);
  const signal = abortController.signal;
  let failure = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    let response = null;
    try {
      response = await fetch(url, { credentials: 'same-origin', headers: params.headers, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      failure = `network error (${err.message})`;
      // Offline (a field worker out of coverage) no answer is coming: fail at once, as MapLibre
      // would, so the page shows what it has; only a server that answered "busy" is asked again.
      if (!navigator.onLine) break;
    }
    if (response?.ok) {
      return {
        data: response.status === 204 ? new ArrayBuffer(0) : await response.arrayBuffer(),
        cacheControl: response.headers.get('Cache-Control'),
        expires: response.headers.get('Expires'),
      };
    }
    if (response) {
      failure = `HTTP ${response.status}`;
      if (!RETRYABLE.has(response.status)) break;
    }
    if (attempt + 1 < ATTEMPTS) await pause(waitFor(response, attempt), signal);
  }
  throw new Error(`tile ${url}: ${failure}`);
}
