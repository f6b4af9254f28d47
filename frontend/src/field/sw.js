// The field page's service worker, served by Django at /field/sw.js (scope /field/) with `self.FIELD_SW`
// = {version, precache: [URLs]} put in front of this file: the page's built files are content-hashed, so
// a new build is a new version and a new cache.
//
// - The page shell (/field/) and its bundles: cached on install; the page is network-first (it carries
//   the session), the hashed bundles cache-first.
// - Tiles of the worker's own grid: the page sends its grid's bbox once loaded; the tiles of both the
//   public and the internal source over a bounded zoom range are fetched into the tile cache, and tiles
//   are read cache-first afterwards (other tiles pass through, unstored: the cache stays bounded).
// - /api/field/me and the category list: network-first with the last answer as the fallback.
// - Nothing else is touched: POSTs go straight to the network (the page's outbox handles no signal).
/* global FIELD_SW */
const { version, precache } = self.FIELD_SW;
const SHELL = `field-shell-${version}`;
const TILES = 'field-tiles-v1';
const DATA = 'field-data-v1';
const AREA_KEY = '/field/__offline-area';
const MAX_TILES = 600;
const TILE_RE = /^\/tiles\/[^/]+\/(\d+)\/(\d+)\/(\d+)\.mvt$/;
let area = null; // {bbox, minzoom, maxzoom} of the stored tiles

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      await Promise.all(
        precache.map(async (url) => {
          try {
            const response = await fetch(url, { credentials: 'same-origin', cache: 'no-cache' });
            if (response.ok && !response.redirected) await cache.put(url, response);
          } catch {
            /* offline while installing: the next visit fills it */
          }
        }),
      );
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith('field-shell-') && name !== SHELL) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

// ------------------------------------------------------------------------------------------ tiles
function lon2x(lon, z) {
  return Math.floor(((lon + 180) / 360) * 2 ** z);
}

function lat2y(lat, z) {
  const r = (lat * Math.PI) / 180;
  return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
}

function tileRange(bbox, z) {
  return { x0: lon2x(bbox[0], z), x1: lon2x(bbox[2], z), y0: lat2y(bbox[3], z), y1: lat2y(bbox[1], z) };
}

async function loadArea() {
  if (area) return area;
  const stored = await (await caches.open(DATA)).match(AREA_KEY);
  area = stored ? await stored.json() : null;
  return area;
}

function inArea(z, x, y) {
  if (!area || z < area.minzoom || z > area.maxzoom) return false;
  const r = tileRange(area.bbox, z);
  return x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1;
}

async function tileUrls(bbox, minzoom, maxzoom) {
  const response = await fetch('/tiles/style.json', { credentials: 'same-origin' });
  const style = await response.json();
  const urls = [];
  for (const source of Object.values(style.sources || {})) {
    if (source.type !== 'vector' || !source.tiles?.length) continue;
    const lo = Math.max(minzoom, source.minzoom ?? 0);
    const hi = Math.min(maxzoom, source.maxzoom ?? 22);
    for (let z = lo; z <= hi; z++) {
      const r = tileRange(bbox, z);
      for (let x = r.x0; x <= r.x1; x++) {
        for (let y = r.y0; y <= r.y1; y++) {
          urls.push(source.tiles[0].replace('{z}', z).replace('{x}', x).replace('{y}', y));
        }
      }
    }
  }
  return urls.slice(0, MAX_TILES);
}

async function precacheTiles({ bbox, minzoom, maxzoom }, client) {
  area = { bbox, minzoom, maxzoom };
  await (await caches.open(DATA)).put(AREA_KEY, new Response(JSON.stringify(area), { headers: { 'Content-Type': 'application/json' } }));
  const cache = await caches.open(TILES);
  const urls = await tileUrls(bbox, minzoom, maxzoom);
  let done = 0;
  const tell = () => client?.postMessage({ type: 'tiles', done, total: urls.length });
  const queue = urls.slice();
  const worker = async () => {
    while (queue.length) {
      const url = queue.shift();
      try {
        if (!(await cache.match(url, { ignoreVary: true }))) {
          const response = await fetch(url, { credentials: 'same-origin' });
          if (response.ok) await cache.put(url, response);
        }
      } catch {
        /* a tile that failed is fetched again on the next visit */
      }
      done += 1;
      if (done % 10 === 0) tell();
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  tell();
}

self.addEventListener('message', (event) => {
  if (event.data?.type === 'precache-tiles') event.waitUntil(precacheTiles(event.data, event.source));
});

// ------------------------------------------------------------------------------------------ fetch
async function cacheFirst(request, cacheName, store) {
  const cache = await caches.open(cacheName);
  const hit = await cache.match(request, { ignoreVary: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && store) await cache.put(request, response.clone());
  return response;
}

async function networkFirst(request, cacheName, key = request) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) await cache.put(key, response.clone());
    return response;
  } catch (err) {
    const hit = await cache.match(key, { ignoreVary: true });
    if (hit) return hit;
    throw err;
  }
}

async function tile(request, z, x, y) {
  await loadArea();
  return cacheFirst(request, TILES, inArea(z, x, y));
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (request.mode === 'navigate' && path === '/field/') {
    event.respondWith(networkFirst(request, SHELL, '/field/'));
  } else if (path.startsWith('/static/')) {
    event.respondWith(cacheFirst(request, SHELL, true));
  } else if (TILE_RE.test(path)) {
    const [, z, x, y] = path.match(TILE_RE).map(Number);
    event.respondWith(tile(request, z, x, y));
  } else if (path.startsWith('/tiles/glyphs/')) {
    event.respondWith(cacheFirst(request, TILES, true));
  } else if (path === '/tiles/style.json') {
    event.respondWith(networkFirst(request, SHELL, '/tiles/style.json'));
  } else if (path === '/api/field/me' || path === '/api/map/categories' || path === '/api/field/patrols/today') {
    event.respondWith(networkFirst(request, DATA, path));
  }
});
