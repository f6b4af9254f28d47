// The grid worker's phone page (/field/): my grid on our own map, my open cases nearest first, check-in,
// the day's patrol track, reports with photos, and an outbox that keeps everything made without signal
// until it is sent — once.  A service worker (/field/sw.js) keeps the page, its bundles and my grid's
// tiles for when there is no network at all.
import '../core/base.css';
import './field.css';
import './i18n.js';
import { ApiError, getJSON, qs } from '../core/api.js';
import { applyI18n, label, t, toggleLang } from '../core/i18n.js';
import { addSelection, createMap, fitBbox, idle, loaded, maplibregl, setVisible } from '../core/map.js';
import { $, $$, clear, fmtTime, h, readConfig, toast } from '../core/util.js';
import { openCase, renderCases, setupCases } from './cases.js';
import * as outbox from './outbox.js';
import * as patrol from './patrol.js';
import * as position from './position.js';
import { setupReport, stopTapping } from './report.js';

const config = readConfig();
const ME = 'onenet-field-me';
const TILE_CASE_LAYERS = ['case-clusters', 'case-cluster-counts', 'cases', 'case-labels'];
const debug = (window.__onenet = { ready: false, timings: {}, outbox, patrol, offlineTiles: null });
const t0 = performance.now();
applyI18n();
$('#lang-toggle').addEventListener('click', toggleLang);

const map = createMap('map', config, { center: [125.95, 46.58], zoom: 14 });
debug.map = map;
let me = null;
let setGrid = null;
let meMarker = null;
let serverTrack = []; // today's line from the server: [[lon, lat], …]

// ------------------------------------------------------------------------------------------ tabs
for (const tab of $$('.tabs button')) tab.addEventListener('click', () => showTab(tab.dataset.tab));
$('#outbox-pill').addEventListener('click', () => showTab('outbox'));

function showTab(name) {
  for (const tab of $$('.tabs button')) tab.setAttribute('aria-selected', String(tab.dataset.tab === name));
  for (const panel of $$('.tab')) panel.hidden = panel.id !== `tab-${name}`;
  if (name !== 'report') stopTapping();
}

// ------------------------------------------------------------------------------------------ network
function netState() {
  const el = $('#net-state');
  el.textContent = navigator.onLine ? t('field.online') : t('field.offline');
  el.classList.toggle('off', !navigator.onLine);
}
window.addEventListener('online', netState);
window.addEventListener('offline', netState);

// ------------------------------------------------------------------------------------------ map layers
const EMPTY = { type: 'FeatureCollection', features: [] };

function setupLayers() {
  setVisible(map, TILE_CASE_LAYERS, false); // my cases come from the API, with their light
  setGrid = addSelection(map, 'my-grid', '#0b7285');
  map.addSource('track', { type: 'geojson', data: EMPTY });
  map.addLayer({
    id: 'track-line',
    type: 'line',
    source: 'track',
    layout: { 'line-cap': 'round', 'line-join': 'round' },
    paint: { 'line-color': '#7048e8', 'line-width': 4, 'line-opacity': 0.85 },
  });
  map.addSource('me-accuracy', { type: 'geojson', data: EMPTY });
  map.addLayer({
    id: 'me-accuracy',
    type: 'fill',
    source: 'me-accuracy',
    paint: { 'fill-color': '#1c7ed6', 'fill-opacity': 0.12, 'fill-outline-color': '#1c7ed6' },
  });
  if (position.current) placeMe(position.current);
  map.addSource('my-cases', { type: 'geojson', data: EMPTY });
  map.addLayer({
    id: 'my-cases',
    type: 'circle',
    source: 'my-cases',
    paint: {
      'circle-radius': 8,
      'circle-stroke-width': 2,
      'circle-stroke-color': '#fff',
      'circle-color': ['match', ['get', 'light'], 'red', '#e03131', 'yellow', '#f59f00', '#2f9e44'],
    },
  });
  map.on('click', 'my-cases', (e) => {
    showTab('cases');
    openCase(e.features[0].properties.number);
  });
  map.on('mouseenter', 'my-cases', () => (map.getCanvas().style.cursor = 'pointer'));
  map.on('mouseleave', 'my-cases', () => (map.getCanvas().style.cursor = ''));
}

function drawCases() {
  const features = (me?.cases || [])
    .filter((c) => c.lon !== null)
    .map((c) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [c.lon, c.lat] }, properties: { number: c.number, light: c.light } }));
  map.getSource('my-cases')?.setData({ type: 'FeatureCollection', features });
}

function drawTrack() {
  const local = patrol.buffered().map((p) => [p.lon, p.lat]);
  const coords = [...serverTrack, ...local];
  debug.track = coords;
  map.getSource('track')?.setData(coords.length > 1 ? { type: 'Feature', geometry: { type: 'LineString', coordinates: coords }, properties: {} } : EMPTY);
}

// Where the worker stands: a DOM marker (it needs no style, tiles or network, so it shows as soon as a
// fix arrives, before the map has loaded and offline) and the fix's accuracy as a circle on the map
// once the style is there (setupLayers draws the latest fix).
function accuracyCircle(fix) {
  const steps = 48;
  const dLat = fix.accuracy / 111320;
  const dLon = dLat / Math.cos((fix.lat * Math.PI) / 180);
  const ring = [];
  for (let i = 0; i <= steps; i++) {
    const a = (2 * Math.PI * i) / steps;
    ring.push([fix.lon + dLon * Math.cos(a), fix.lat + dLat * Math.sin(a)]);
  }
  return { type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring] }, properties: {} };
}

function placeMe(fix) {
  if (!fix) return;
  if (!meMarker) meMarker = new maplibregl.Marker({ element: h('div.me-dot', { dataset: { me: '1' } }) });
  meMarker.setLngLat([fix.lon, fix.lat]).addTo(map);
  debug.me_at = [fix.lon, fix.lat];
  map.getSource('me-accuracy')?.setData(fix.accuracy ? accuracyCircle(fix) : EMPTY);
}

async function centreOnMe() {
  const fix = position.current || (await position.fresh(60000, 8000).catch(() => null));
  if (!fix) {
    toast(t('field.noFix'), 'error', 4000);
    return;
  }
  placeMe(fix);
  map.easeTo({ center: [fix.lon, fix.lat], zoom: Math.max(map.getZoom(), 16), duration: 300 });
}

// ------------------------------------------------------------------------------------------ me
async function loadMe() {
  const fix = position.current;
  const where = fix ? { lon: fix.lon.toFixed(7), lat: fix.lat.toFixed(7), crs: fix.crs } : {};
  try {
    me = await getJSON(`/api/field/me${qs(where)}`);
    try {
      localStorage.setItem(ME, JSON.stringify(me));
    } catch {
      /* storage full */
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      $('#not-worker').hidden = false;
      return null;
    }
    // No network: the last answer we had (the service worker may also have answered from its cache).
    try {
      me = JSON.parse(localStorage.getItem(ME) || 'null');
    } catch {
      me = null;
    }
    if (!me) throw err;
  }
  render();
  return me;
}

async function loadTrack() {
  try {
    const r = await getJSON('/api/field/patrols/today');
    const own = r.features.find((f) => f.properties.own && f.geometry);
    serverTrack = own ? own.geometry.coordinates : [];
  } catch {
    /* offline: keep what we drew */
  }
  drawTrack();
}

function render() {
  if (!me) return;
  $('#worker-name').textContent = `${me.worker.name} · ${label('role', me.worker.role, me.worker.role_label)}`;
  $('#grid-name').textContent = me.grids.map((g) => g.name).join('、') || me.worker.grid_code;
  setGrid?.(me.grids.length === 1 ? me.grids[0].geometry : me.grids.length ? { type: 'GeometryCollection', geometries: me.grids.map((g) => g.geometry) } : null);
  renderCases(me.cases);
  drawCases();
  renderDuty();
}

function renderDuty() {
  const ol = clear($('#checkin-list'));
  const list = me?.today?.checkins || [];
  if (!list.length) ol.append(h('li.muted', {}, t('field.noCheckins')));
  for (const c of list) {
    ol.append(
      h('li.checkin', { dataset: { id: c.id } }, h('b', {}, fmtTime(c.at, false)), ` ${c.grid_code}`, c.inside ? '' : h('span.muted', {}, ` · ${t('field.outside')}`), c.accuracy_m ? h('span.muted', {}, ` · ${t('field.accuracy', { m: Math.round(c.accuracy_m) })}`) : ''),
    );
  }
  const p = me?.today?.patrol;
  $('#patrol-summary').textContent = t('field.patrolSummary', { points: p?.point_count || 0, km: ((p?.length_m || 0) / 1000).toFixed(2) });
  renderPatrolButton();
}

function renderPatrolButton() {
  const on = patrol.recording();
  const btn = $('#patrol-btn');
  btn.textContent = on ? t('field.patrolStop') : t('field.patrolStart');
  btn.setAttribute('aria-pressed', String(on));
  btn.classList.toggle('recording', on);
  const n = patrol.buffered().length;
  $('#patrol-pending').textContent = `${on ? t('field.patrolOn') : t('field.patrolOff')}${n ? ` · ${t('field.patrolPending', { n })}` : ''}`;
}

// ------------------------------------------------------------------------------------------ check-in
async function checkIn() {
  const btn = $('#checkin-btn');
  btn.disabled = true;
  btn.textContent = t('field.checkingIn');
  try {
    const fix = await position.recent(30000);
    await outbox.enqueue('checkin', {
      location: { lon: fix.lon, lat: fix.lat, crs: fix.crs },
      accuracy: fix.accuracy,
      device_time: new Date(fix.t).toISOString(),
    });
    if (!navigator.onLine) toast(t('field.checkInQueued'), 'ok');
  } catch (err) {
    toast(`${t('field.noLocation')}: ${err.message}`, 'error');
  } finally {
    btn.disabled = false;
    btn.textContent = t('field.checkIn');
  }
}
$('#checkin-btn').addEventListener('click', checkIn);
$('#patrol-btn').addEventListener('click', () => (patrol.recording() ? patrol.stop() : patrol.start()));

// ------------------------------------------------------------------------------------------ outbox view
function renderOutbox({ items, pending }) {
  $('#outbox-count').textContent = String(pending);
  $('#outbox-badge').textContent = String(pending);
  $('#outbox-pill').classList.toggle('waiting', pending > 0);
  const ol = clear($('#outbox-list'));
  if (!items.length) ol.append(h('li.muted', {}, t('field.outboxEmpty')));
  for (const item of items) {
    const what =
      item.kind === 'report'
        ? `${item.label || ''}${item.photos?.length ? ` · ${t('field.photoCount', { n: item.photos.length })}` : ''}`
        : item.kind === 'patrol'
          ? `${item.body.points.length}`
          : '';
    ol.append(
      h(
        `li.out${item.failed ? '.failed' : ''}`,
        { dataset: { kind: item.kind, id: item.id } },
        h('b', {}, t(`field.kind.${item.kind}`)),
        ` ${fmtTime(new Date(item.created).toISOString(), false)} ${what}`,
        h('div.muted', {}, item.failed ? `${t('field.failed')}: ${item.error}` : item.status === 401 ? t('field.relogin') : item.attempts ? t('field.willRetry') : ''),
        item.failed ? h('button.link', { type: 'button', onclick: () => outbox.remove(item.id) }, t('field.delete')) : null,
      ),
    );
  }
  renderPatrolButton();
}

outbox.events.addEventListener('change', (e) => renderOutbox(e.detail));
outbox.events.addEventListener('sent', async (e) => {
  const { item, answer } = e.detail;
  if (item.kind === 'report') toast(t('field.sent', { number: answer.number }), 'ok', 5000);
  if (item.kind === 'checkin') toast(`${t('field.checkedIn')} ${fmtTime(answer.at, false)}`, 'ok');
  if (item.kind === 'patrol') await loadTrack();
  await loadMe().catch(() => {});
});
outbox.events.addEventListener('failed', (e) => toast(`${t('field.failed')}: ${e.detail.error.message}`, 'error', 6000));
$('#outbox-send').addEventListener('click', () => outbox.flush());
patrol.events.addEventListener('point', drawTrack);
patrol.events.addEventListener('change', renderPatrolButton);
position.onFix(placeMe);
$('#centre-me').addEventListener('click', centreOnMe);

// ------------------------------------------------------------------------------------------ offline
async function registerWorker() {
  if (!('serviceWorker' in navigator) || !config.swUrl) return;
  try {
    await navigator.serviceWorker.register(config.swUrl, { scope: config.swScope });
    const reg = await navigator.serviceWorker.ready;
    navigator.serviceWorker.addEventListener('message', (e) => {
      if (e.data?.type !== 'tiles') return;
      debug.offlineTiles = e.data;
      $('#offline-map').textContent = e.data.done >= e.data.total ? t('field.offlineReady') : t('field.offlineMap', e.data);
    });
    // First visit: keep my grid's tiles over a bounded zoom range (the worker reads them cache-first).
    if (me?.bbox) reg.active?.postMessage({ type: 'precache-tiles', bbox: me.bbox, minzoom: 12, maxzoom: 16 });
  } catch (err) {
    console.warn('service worker', err);
  }
}

window.addEventListener('langchange', () => {
  netState();
  render();
  outbox.all().then((items) => renderOutbox({ items, pending: items.filter((i) => !i.failed).length }));
});

// ------------------------------------------------------------------------------------------ start
async function main() {
  netState();
  setupCases({
    reload: loadMe,
    focus: (c) => c.lon !== null && map.easeTo({ center: [c.lon, c.lat], zoom: Math.max(map.getZoom(), 16) }),
  });
  await loaded(map);
  debug.timings.styleLoaded = performance.now() - t0;
  setupLayers();
  const categories = setupReport(map);
  // A first fix, if the phone gives one quickly, orders my cases by distance; the page does not wait
  // longer than that (the permission prompt of a first visit may stay open).
  await Promise.race([position.fresh(60000, 5000).catch(() => null), new Promise((r) => setTimeout(r, 6000))]);
  patrol.setup();
  await loadMe();
  if (me?.bbox) fitBbox(map, me.bbox, 30, false);
  if (position.current) placeMe(position.current);
  await Promise.all([categories, loadTrack(), outbox.start()]);
  debug.me = () => me;
  debug.reload = loadMe;
  debug.idle = () => idle(map).then(() => true);
  await idle(map);
  debug.timings.firstIdle = performance.now() - t0;
  debug.ready = true;
  document.body.dataset.ready = '1';
  registerWorker();
}

main().catch((err) => {
  console.error(err);
  document.body.dataset.ready = 'error';
});
