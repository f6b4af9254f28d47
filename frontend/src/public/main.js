// The public map (/): phone first, no login.  Service stations and grid outlines from our own tiles;
// "Where am I?" (an address through /api/geocode, or the phone's location through /api/reverse) → my grid,
// community, the grid worker's contact if published, the nearest stations; report a problem; follow it.
import '../core/base.css';
import './public.css';
import { ApiError, getJSON, newKey, postForm, qs } from '../core/api.js';
import { applyI18n, hoursText, label, pick, t, toggleLang } from '../core/i18n.js';
import { addSelection, createMap, fitBbox, idle, loaded, maplibregl, startOn } from '../core/map.js';
import { $, $$, clear, fmtDistance, fmtTime, h, readConfig, toast } from '../core/util.js';

const config = readConfig();
const debug = (window.__onenet = { ready: false, timings: {} });
const t0 = performance.now();
applyI18n();
$('#lang-toggle').addEventListener('click', toggleLang);

const map = createMap('map', config, { center: [125.95, 46.58], zoom: 11 });
debug.map = map;
let setGridOutline = null;
let meMarker = null;
let reportMarker = null;
let tapping = false;
let reportPoint = null; // {lon, lat}
let lastWhere = null;

// ------------------------------------------------------------------------------------------ tabs
for (const tab of $$('.tabs button')) {
  tab.addEventListener('click', () => showTab(tab.dataset.tab));
}

function showTab(name) {
  for (const tab of $$('.tabs button')) tab.setAttribute('aria-selected', String(tab.dataset.tab === name));
  for (const panel of $$('.tab')) panel.hidden = panel.id !== `tab-${name}`;
  if (name !== 'report') setTapping(false);
}

// ------------------------------------------------------------------------------------------ map
function stationPopup(p, lngLat) {
  const body = h(
    'div',
    {},
    h('b', {}, p.name),
    h('div', {}, `${t('pub.hours')}: ${hoursText(p.hours) || '—'}`),
    p.phone ? h('div', {}, `${t('pub.phone')}: `, h('a.tel', { href: `tel:${p.phone}` }, p.phone)) : null,
    p.address ? h('div', {}, p.address) : null,
  );
  new maplibregl.Popup({ closeButton: true, maxWidth: '260px' }).setLngLat(lngLat).setDOMContent(body).addTo(map);
}

function setupMap() {
  setGridOutline = addSelection(map, 'my-grid', '#e8590c');
  map.on('click', 'stations', (e) => {
    if (tapping) return;
    stationPopup(e.features[0].properties, e.features[0].geometry.coordinates);
  });
  map.on('click', 'station-clusters', (e) => {
    if (tapping) return;
    map.easeTo({ center: e.lngLat, zoom: Math.max(map.getZoom() + 2, 13) });
  });
  for (const id of ['stations', 'station-clusters']) {
    map.on('mouseenter', id, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', id, () => (map.getCanvas().style.cursor = tapping ? 'crosshair' : ''));
  }
  map.on('click', (e) => {
    if (!tapping) return;
    setReportPoint({ lon: e.lngLat.lng, lat: e.lngLat.lat });
    setTapping(false);
  });
}

function placeMe(lon, lat) {
  if (!meMarker) meMarker = new maplibregl.Marker({ color: '#1864ab' });
  meMarker.setLngLat([lon, lat]).addTo(map);
}

// ------------------------------------------------------------------------------------------ where am I
$('#where-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const q = $('#where-q').value.trim();
  if (!q) return;
  const out = clear($('#where-result'));
  out.append(h('p.muted', {}, t('loading')));
  try {
    const r = await getJSON(`/api/geocode${qs({ q, limit: 1 })}`);
    const c = r.candidates?.[0];
    if (!c) {
      clear(out).append(h('div.card.err', {}, t('pub.notFound'), r.reason ? h('div.muted', {}, pick(r.reason)) : null));
      return;
    }
    await showWhere({ lon: c.lon, lat: c.lat, grid: c.grid_code, address: c.address });
  } catch (err) {
    clear(out).append(h('div.card.err', {}, err.message));
  }
});

$('#where-locate').addEventListener('click', () => locate(async (lon, lat) => {
  const out = clear($('#where-result'));
  out.append(h('p.muted', {}, t('loading')));
  try {
    // Browsers report WGS84 (≈ CGCS2000 at map scale); the geocoder converts whatever `crs` says.
    const r = await getJSON(`/api/reverse${qs({ lon, lat, crs: 'EPSG:4326' })}`);
    await showWhere({
      lon: r.lon_cgcs2000,
      lat: r.lat_cgcs2000,
      grid: r.grid_code,
      address: r.nearest?.address,
      // near a grid's edge the nearest address may be the next grid's: say so, or a search for it
      // would show the resident another grid than this one
      addressGrid: r.nearest?.grid_code && r.nearest.grid_code !== r.grid_code ? r.nearest.grid_code : null,
    });
  } catch (err) {
    clear(out).append(h('div.card.err', {}, err.status === 404 ? t('pub.outside') : err.message));
  }
}));

function locate(then) {
  if (!navigator.geolocation) {
    toast(t('error'), 'error');
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (pos) => then(pos.coords.longitude, pos.coords.latitude),
    (err) => toast(`${t('error')}: ${err.message}`, 'error'),
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

async function showWhere({ lon, lat, grid, address, addressGrid = null }) {
  const near = await getJSON(`/api/public/nearby${qs({ lon, lat, grid })}`);
  lastWhere = { near, address, addressGrid };
  renderWhere();
  placeMe(lon, lat);
  if (near.grid) {
    const area = await getJSON(`/api/map/areas/${encodeURIComponent(near.grid.code)}`).catch(() => null);
    if (area) {
      setGridOutline(area.geometry);
      // the result card has just changed the panel's height: measure the map again before fitting
      map.resize();
      fitBbox(map, area.bbox, 40);
      return;
    }
  }
  map.easeTo({ center: [lon, lat], zoom: 16 });
}

function renderWhere() {
  if (!lastWhere) return;
  const { near, address, addressGrid } = lastWhere;
  const out = clear($('#where-result'));
  if (address && addressGrid) {
    out.append(h('p.muted#nearest-other-grid', { dataset: { grid: addressGrid } }, t('pub.nearestOtherGrid', { address, grid: addressGrid })));
  } else if (address) out.append(h('p.muted', {}, address));
  if (near.grid) {
    out.append(
      h(
        'div.card#my-grid-card',
        {},
        h('h3', {}, t('pub.myGrid')),
        h('div.big', { dataset: { grid: near.grid.code } }, near.grid.name),
        h('div.muted', {}, `${near.grid.code} · ${pick({ zh: near.grid.net_name, en: near.grid.net_name_en || near.grid.net_name })}`),
        near.community ? h('div', {}, `${t('pub.community')}: ${near.community.name}${near.street ? ` · ${near.street.name}` : ''}`) : null,
      ),
    );
    const workers = h('div.card', {}, h('h3', {}, t('pub.worker')));
    if (near.workers.length) {
      for (const w of near.workers) {
        workers.append(
          h('div', {}, `${w.name}（${label('role', w.role, w.role_label)}） `, w.phone ? h('a.tel', { href: `tel:${w.phone}` }, `${t('pub.call')} ${w.phone}`) : null),
        );
      }
    } else {
      workers.append(h('div.muted', {}, t('pub.workerHidden')));
    }
    out.append(workers);
  } else {
    out.append(h('div.card.err', {}, t('pub.outside')));
  }
  const open = near.stations.filter((s) => s.open_now !== false);
  const closed = near.stations.filter((s) => s.open_now === false);
  out.append(
    h(
      'div.card',
      {},
      h('h3', {}, t('pub.stations')),
      h(
        'ul.list.stations#station-list',
        {},
        [...open, ...closed].map((s) =>
          h(
            'li',
            { dataset: { station: s.id } },
            h(
              'div.name',
              {},
              s.name,
              h(
                `span.tag.${s.open_now === true ? 'open' : s.open_now === false ? 'closed' : 'unknown'}`,
                {},
                s.open_now === true ? t('pub.openNow') : s.open_now === false ? t('pub.closedNow') : t('pub.unknownHours'),
              ),
            ),
            h('div.meta', {}, `${label('station', s.kind, s.kind_label)} · ${t('pub.distance')} ${fmtDistance(s.distance_m)} · ${hoursText(s.hours)}`),
            h('div.meta', {}, s.phone ? h('a.tel', { href: `tel:${s.phone}` }, s.phone) : null, s.address ? ` · ${s.address}` : ''),
          ),
        ),
      ),
    ),
  );
}

// ------------------------------------------------------------------------------------------ report
let idempotencyKey = newKey();

async function loadCategories() {
  const services = await getJSON('/open311/v2/services.json');
  const select = $('#report-category');
  const groups = new Map();
  for (const s of services) {
    if (!groups.has(s.group)) groups.set(s.group, h('optgroup', { label: s.group }));
    groups.get(s.group).append(h('option', { value: s.service_code }, s.service_name));
  }
  for (const g of groups.values()) select.append(g);
}

function setTapping(on) {
  tapping = on;
  map.getCanvas().style.cursor = on ? 'crosshair' : '';
  $('#report-tap').setAttribute('aria-pressed', String(on));
  if (on) $('#report-point').textContent = t('pub.tapHint');
}

function setReportPoint(p) {
  reportPoint = p;
  if (!reportMarker) reportMarker = new maplibregl.Marker({ color: '#e8590c', draggable: true });
  reportMarker.setLngLat([p.lon, p.lat]).addTo(map);
  reportMarker.on('dragend', () => {
    const ll = reportMarker.getLngLat();
    reportPoint = { lon: ll.lng, lat: ll.lat };
    $('#report-point').textContent = `${t('pub.pointSet')}: ${ll.lng.toFixed(5)}, ${ll.lat.toFixed(5)}`;
  });
  $('#report-point').textContent = `${t('pub.pointSet')}: ${p.lon.toFixed(5)}, ${p.lat.toFixed(5)}`;
}

$('#report-tap').addEventListener('click', () => setTapping(!tapping));
$('#report-locate').addEventListener('click', () => locate((lon, lat) => setReportPoint({ lon, lat, crs: 'EPSG:4326' })));

$('#report-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = clear($('#report-result'));
  const category = $('#report-category').value;
  const address = $('#report-address').value.trim();
  if (!category) return out.append(h('div.card.err', {}, t('pub.needCategory')));
  if (!reportPoint && !address) return out.append(h('div.card.err', {}, t('pub.needWhere')));
  const form = new FormData();
  form.set('category', category);
  form.set('description', $('#report-description').value.trim());
  form.set('contact', $('#report-contact').value.trim());
  if (reportPoint) {
    form.set('lon', reportPoint.lon.toFixed(7));
    form.set('lat', reportPoint.lat.toFixed(7));
    form.set('crs', reportPoint.crs || 'EPSG:4490');
  } else {
    form.set('address', address);
  }
  const photo = $('#report-photo').files[0];
  if (photo) form.set('photo', photo);
  const button = $('#report-send');
  button.disabled = true;
  try {
    // The same key for every retry of this form: a resend after a lost answer gives the same receipt.
    const r = await postForm('/api/public/reports', form, { 'Idempotency-Key': idempotencyKey });
    idempotencyKey = newKey();
    remember(r);
    out.append(
      h(
        'div.card.ok#receipt-card',
        {},
        h('h3', {}, t('pub.sent')),
        h('div', {}, `${t('pub.receipt')}: `),
        h('div.receipt', { dataset: { number: r.number } }, r.number),
        // the API's message repeats the number: the card says the rest itself
        h('div.muted', {}, t('pub.keepReceipt')),
      ),
    );
    $('#report-form').reset();
    reportPoint = null;
    reportMarker?.remove();
    $('#report-point').textContent = '';
  } catch (err) {
    out.append(h('div.card.err', {}, err instanceof ApiError ? err.message : `${t('error')}: ${err.message}`));
  } finally {
    button.disabled = false;
  }
});

// ------------------------------------------------------------------------------------------ status
const RECEIPTS = 'onenet-receipts';

function receipts() {
  try {
    return JSON.parse(localStorage.getItem(RECEIPTS) || '[]');
  } catch {
    return [];
  }
}

function remember(r) {
  const list = [{ number: r.number, at: r.reported_at, category: r.category_name }, ...receipts().filter((x) => x.number !== r.number)];
  try {
    localStorage.setItem(RECEIPTS, JSON.stringify(list.slice(0, 20)));
  } catch {
    /* private mode */
  }
  renderReceipts();
}

function renderReceipts() {
  const ul = clear($('#my-receipts'));
  for (const r of receipts()) {
    ul.append(h('li', {}, h('button', { type: 'button', onclick: () => lookUp(r.number) }, r.number), ` ${r.category || ''} · ${fmtTime(r.at)}`));
  }
}

async function lookUp(number) {
  showTab('status');
  $('#status-q').value = number;
  const out = clear($('#status-result'));
  try {
    const r = await getJSON(`/api/public/reports/${encodeURIComponent(number)}`);
    out.append(
      h(
        `div.card.${r.status === 'closed' ? 'ok' : ''}`,
        { id: 'status-card' },
        h('div.big', {}, r.number),
        h('div', {}, `${r.category_name} · `, h('b', {}, r.status === 'closed' ? t('pub.closed') : t('pub.open'))),
        h('div.muted', {}, `${t('pub.reportedAt')}: ${fmtTime(r.reported_at)}`),
        r.closed_at ? h('div.muted', {}, `${t('pub.closedAt')}: ${fmtTime(r.closed_at)}`) : null,
      ),
    );
  } catch (err) {
    out.append(h('div.card.err', {}, err.status === 404 ? t('pub.noReceipt') : err.message));
  }
}

$('#status-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const n = $('#status-q').value.trim();
  if (n) lookUp(n);
});

window.addEventListener('langchange', () => {
  renderWhere();
  renderReceipts();
});

// ------------------------------------------------------------------------------------------ start
async function main() {
  renderReceipts();
  const cats = loadCategories().catch((err) => toast(err.message, 'error'));
  await loaded(map);
  debug.timings.styleLoaded = performance.now() - t0;
  setupMap();
  const root = await getJSON(`/api/map/areas/${encodeURIComponent(config.root || 'root')}`).catch(() => null);
  startOn(map, root);
  await cats;
  await idle(map);
  debug.timings.firstIdle = performance.now() - t0;
  debug.ready = true;
  document.body.dataset.ready = '1';
}

main().catch((err) => {
  console.error(err);
  document.body.dataset.ready = 'error';
});
