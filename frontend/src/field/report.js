// 采集上报: category, description, photos (compressed here), and a place — the phone's fix (sent as
// EPSG:4326), a tap on the map (the map's CGCS2000), or an address (looked up with /api/geocode when
// online; offline it is sent as text and the server geocodes it on arrival).  The report goes to the
// outbox with its Idempotency-Key before anything is sent, so a report made without signal is kept and
// arrives once.
import { getJSON, qs } from '../core/api.js';
import { categoryName, setCategoryNames, t } from '../core/i18n.js';
import { maplibregl } from '../core/map.js';
import { $, clear, h, toast } from '../core/util.js';
import { enqueue } from './outbox.js';
import { compress } from './photo.js';
import { recent } from './position.js';

const CATEGORIES = 'onenet-field-categories';
let map = null;
let marker = null;
let where = null; // {kind: 'device'|'map'|'address', lon, lat, crs, accuracy, address}
let photos = []; // [{blob, url}]
let tapping = false;

export function setupReport(theMap) {
  map = theMap;
  $('#where-device').addEventListener('click', useDevice);
  $('#where-map').addEventListener('click', () => setTapping(!tapping));
  $('#where-find').addEventListener('click', findAddress);
  $('#report-photos').addEventListener('change', addPhotos);
  $('#report-form').addEventListener('submit', submit);
  map.on('click', (e) => {
    if (!tapping) return;
    setWhere({ kind: 'map', lon: e.lngLat.lng, lat: e.lngLat.lat, crs: 'EPSG:4490' });
    setTapping(false);
  });
  return loadCategories();
}

export function stopTapping() {
  setTapping(false);
}

async function loadCategories() {
  let list = null;
  try {
    list = (await getJSON('/api/map/categories')).categories;
    localStorage.setItem(CATEGORIES, JSON.stringify(list));
  } catch {
    try {
      list = JSON.parse(localStorage.getItem(CATEGORIES) || 'null');
    } catch {
      list = null;
    }
  }
  setCategoryNames(list || []);
  const select = $('#report-category');
  const groups = new Map();
  for (const c of list || []) {
    if (!groups.has(c.class_code)) groups.set(c.class_code, h('optgroup', { label: categoryName(c.class_code), dataset: { code: c.class_code } }));
    groups.get(c.class_code).append(h('option', { value: c.code }, categoryName(c.code)));
  }
  for (const g of groups.values()) select.append(g);
}

// The category names follow a language switch (the choice itself stays).
window.addEventListener('langchange', () => {
  for (const g of document.querySelectorAll('#report-category optgroup[data-code]')) g.label = categoryName(g.dataset.code);
  for (const o of document.querySelectorAll('#report-category option[value]')) if (o.value) o.textContent = categoryName(o.value, o.textContent);
});

function setTapping(on) {
  tapping = on;
  $('#tap-hint').hidden = !on;
  $('#where-map').setAttribute('aria-pressed', String(on));
  map.getCanvas().style.cursor = on ? 'crosshair' : '';
}

function describe() {
  const out = $('#report-where');
  if (!where) return (out.textContent = '');
  const lon = where.lon?.toFixed(5);
  const lat = where.lat?.toFixed(5);
  if (where.kind === 'device') out.textContent = t('field.pointDevice', { lon, lat, acc: t('field.accuracy', { m: Math.round(where.accuracy || 0) }) });
  else if (where.kind === 'map') out.textContent = t('field.pointMap', { lon, lat });
  else out.textContent = t('field.pointAddress', { a: where.address });
}

function setWhere(w) {
  where = w;
  if (w.lon !== undefined) {
    if (!marker) marker = new maplibregl.Marker({ color: '#e8590c' });
    marker.setLngLat([w.lon, w.lat]).addTo(map);
  } else {
    marker?.remove();
  }
  describe();
}

async function useDevice() {
  $('#report-where').textContent = t('field.locating');
  try {
    const fix = await recent(60000);
    setWhere({ kind: 'device', lon: fix.lon, lat: fix.lat, crs: fix.crs, accuracy: fix.accuracy });
  } catch {
    $('#report-where').textContent = t('field.noLocation');
  }
}

async function findAddress() {
  const text = $('#report-address').value.trim();
  if (!text) return;
  if (!navigator.onLine) return setWhere({ kind: 'address', address: text });
  try {
    const r = await getJSON(`/api/geocode${qs({ q: text, limit: 1 })}`);
    const c = r.candidates?.[0];
    if (c) {
      setWhere({ kind: 'address', lon: c.lon, lat: c.lat, crs: 'EPSG:4490', address: c.address || text });
      map.easeTo({ center: [c.lon, c.lat], zoom: Math.max(map.getZoom(), 16) });
    } else {
      setWhere({ kind: 'address', address: text });
    }
  } catch {
    setWhere({ kind: 'address', address: text });
  }
}

async function addPhotos(e) {
  for (const file of Array.from(e.target.files || [])) {
    try {
      const { blob } = await compress(file);
      photos.push({ blob, url: URL.createObjectURL(blob) });
    } catch (err) {
      toast(`${t('error')}: ${err.message}`, 'error');
    }
  }
  e.target.value = '';
  renderPhotos();
}

function renderPhotos() {
  const box = clear($('#report-previews'));
  photos.forEach((p, i) => {
    box.append(
      h(
        'figure',
        {},
        h('img', { src: p.url, alt: '' }),
        h('button.ghost', { type: 'button', title: t('field.delete'), onclick: () => dropPhoto(i) }, '×'),
      ),
    );
  });
}

function dropPhoto(i) {
  URL.revokeObjectURL(photos[i].url);
  photos.splice(i, 1);
  renderPhotos();
}

async function submit(e) {
  e.preventDefault();
  const category = $('#report-category').value;
  if (!category) return toast(t('field.needCategory'), 'error');
  const typed = $('#report-address').value.trim();
  if (!where && typed) where = { kind: 'address', address: typed };
  if (!where) return toast(t('field.needWhere'), 'error');
  const body = { category, description: $('#report-description').value.trim() };
  if (where.lon !== undefined) body.location = { lon: where.lon, lat: where.lat, crs: where.crs };
  else body.address = where.address;
  const blobs = photos.map((p) => p.blob);
  await enqueue('report', body, { photos: blobs, label: body.description || category });
  photos.forEach((p) => URL.revokeObjectURL(p.url));
  photos = [];
  renderPhotos();
  $('#report-form').reset();
  where = null;
  marker?.remove();
  describe();
  if (!navigator.onLine) toast(t('field.queued'), 'ok'); // online, the outbox says when it is sent
}
