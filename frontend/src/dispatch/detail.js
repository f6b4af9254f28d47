// The case drawer: detail, photos, trail, duplicate candidates, and the actions the user may take now
// (the API's `transitions` for this user and case), posted to /api/cases/<n>/transitions with the
// version read, so two dispatchers never overwrite each other (409 → reload).
import { getJSON, postJSON } from '../core/api.js';
import { categoryName, label, t } from '../core/i18n.js';
import { clear, fmtTime, h, toast } from '../core/util.js';
import { upsertCase } from './casesLayer.js';
import { emit, on, state } from './state.js';

const LEVELS = ['grid', 'community', 'street', 'district', 'department'];
const SEVERITIES = ['trivial', 'small', 'big', 'emergency'];
// What each transition asks for, beyond the version (cases/workflow.py's `requires`).
const FIELDS = {
  reject: ['reason'],
  return: ['reason'],
  escalate: ['reason'],
  rework: ['reason'],
  deny_extension: ['reason'],
  request_extension: ['reason', 'hours'],
  handle: ['result'],
  resolve_on_spot: ['result'],
  evaluate: ['rating'],
  comment: ['comment'],
};
const ORDER = ['register', 'dispatch', 'merge', 'return', 'reject', 'relocate', 'accept', 'escalate',
  'request_extension', 'grant_extension', 'deny_extension', 'handle', 'close', 'rework', 'resolve_on_spot',
  'evaluate', 'comment'];

let departments = null;
let categories = null;
let current = null; // the case JSON shown
let loadSeq = 0;

export function setupDetail() {
  on('opencase', (number) => open(number));
  on('casechanged', (c) => {
    if (current && c.number === current.number && c.version !== current.version) open(c.number, false);
  });
  document.getElementById('case-close').addEventListener('click', close);
  window.addEventListener('langchange', () => current && render(current, null));
}

function close() {
  document.getElementById('case-drawer').hidden = true;
  document.getElementById('map-wrap').classList.remove('drawer-open');
  state.caseNumber = null;
  current = null;
  markSelected(null);
  stopPlacing();
}

/** A ring around the case open in the drawer. */
function markSelected(c) {
  const map = state.map;
  if (!map.getSource('selected-case')) {
    map.addSource('selected-case', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    map.addLayer({
      id: 'selected-case',
      type: 'circle',
      source: 'selected-case',
      paint: { 'circle-radius': 13, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#1c7ed6', 'circle-stroke-width': 4 },
    });
  }
  const features =
    c && c.lon !== null ? [{ type: 'Feature', geometry: { type: 'Point', coordinates: [c.lon, c.lat] }, properties: {} }] : [];
  map.getSource('selected-case').setData({ type: 'FeatureCollection', features });
}

export async function open(number, fly = true) {
  const mine = ++loadSeq;
  const drawer = document.getElementById('case-drawer');
  drawer.hidden = false;
  document.getElementById('map-wrap').classList.add('drawer-open');
  state.caseNumber = number;
  let c;
  try {
    c = await getJSON(`/api/cases/${encodeURIComponent(number)}`);
  } catch (err) {
    if (mine === loadSeq) clear(drawer.querySelector('.drawer-body')).append(h('p', {}, `${t('error')}: ${err.message}`));
    return;
  }
  if (mine !== loadSeq) return;
  current = c;
  let suggestion = null;
  if (c.transitions?.includes('dispatch')) {
    suggestion = await getJSON(`/api/map/cases/${encodeURIComponent(number)}/suggestion`).catch(() => null);
  }
  if (mine !== loadSeq) return;
  render(c, suggestion);
  markSelected(c);
  if (fly && c.lon !== null) {
    // Centre the case in the part of the map the drawer leaves visible.
    const width = document.getElementById('case-drawer').offsetWidth;
    state.map.easeTo({ center: [c.lon, c.lat], zoom: Math.max(state.map.getZoom(), 15), offset: [-width / 2, 0] });
  }
}

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value ?? '—')];
}

function assigneeText(a) {
  if (!a || !a.level) return '—';
  return `${t(`lvl.${a.level}`)} ${a.department || a.code || ''}`;
}

function render(c, suggestion) {
  const b = clear(document.querySelector('#case-drawer .drawer-body'));
  b.dataset.number = c.number;
  b.append(
    h(
      'dl.facts',
      {},
      fact(t('case.number'), c.number),
      fact(t('case.category'), `${categoryName(c.category, c.category_name)} (${c.category})`),
      fact(t('case.status'), t(`st.${c.status}`)),
      fact(t('case.severity'), t(`sev.${c.severity}`)),
      fact(t('case.light'), c.light ? h(`span.light.${c.light}`, {}, t(`legend.${c.light}`)) : '—'),
      fact(t('case.channel'), t(`ch.${c.channel}`)),
      fact(t('case.reported'), fmtTime(c.reported_at)),
      fact(t('case.deadline'), fmtTime(c.deadline)),
      fact(t('case.due'), fmtTime(c.due_at)),
      fact(t('case.grid'), c.grid_code || '—'),
      fact(t('case.assignee'), assigneeText(c.assignee)),
      fact(t('case.address'), c.address || '—'),
      fact(t('case.description'), c.description || '—'),
    ),
  );
  if (c.attachments?.length) {
    b.append(
      h('h3', {}, t('case.photos')),
      h('div.photos', {}, c.attachments.filter((a) => a.content_type.startsWith('image/')).map((a) => h('img', { src: a.url, alt: c.number, loading: 'lazy' }))),
    );
  }
  b.append(h('h3', {}, t('case.actions')), actions(c, suggestion));
  b.append(h('h3', {}, t('case.duplicates')), duplicates(c));
  b.append(
    h('h3', {}, t('case.trail')),
    h(
      'ol.trail',
      {},
      (c.trail || []).map((e) =>
        h(
          'li',
          {},
          h('span.t', {}, `${fmtTime(e.at)} `),
          h('b', {}, t(`t.${e.action}`)),
          ` ${[e.actor, e.role ? label('role', e.role) : ''].filter(Boolean).join(' · ')}`,
          e.to && e.from !== e.to ? h('span.c', {}, ` → ${t(`st.${e.to}`)}`) : null,
          e.comment ? h('div.c', {}, e.comment) : null,
        ),
      ),
    ),
  );
  if (c.lon !== null) {
    b.append(
      h(
        'p',
        {},
        h('a.button', { href: `/api/map/export/case/${encodeURIComponent(c.number)}.html`, download: '' }, t('export.case')),
      ),
    );
  }
}

function duplicates(c) {
  const list = c.duplicate_candidates || [];
  if (!list.length) return h('p.muted', {}, t('case.noDuplicates'));
  const canMerge = c.transitions?.includes('merge');
  return h(
    'ul.list.dups',
    {},
    list.map((n) =>
      h(
        'li',
        {},
        h('button.link', { type: 'button', onclick: () => emit('opencase', n) }, n),
        canMerge ? h('button.ghost', { type: 'button', onclick: () => send(c, 'merge', { into: n }) }, `${t('t.merge')} → ${n}`) : null,
      ),
    ),
  );
}

function actions(c, suggestion) {
  const names = ORDER.filter((n) => c.transitions?.includes(n));
  const wrap = h('div');
  if (!names.length) {
    wrap.append(h('p.muted', {}, t('case.noActions')));
    return wrap;
  }
  const formBox = h('div');
  const row = h(
    'div.actions-row',
    {},
    names.map((name) =>
      h(
        'button',
        {
          type: 'button',
          dataset: { transition: name },
          onclick: () => {
            clear(formBox).append(form(c, name, suggestion));
            if (name === 'relocate') startPlacing(c);
          },
        },
        t(`t.${name}`),
      ),
    ),
  );
  wrap.append(row, formBox);
  return wrap;
}

async function send(c, name, fields) {
  try {
    const updated = await postJSON(`/api/cases/${encodeURIComponent(c.number)}/transitions`, {
      transition: name,
      version: c.version,
      ...fields,
    });
    toast(`${t(`t.${name}`)} · ${t('case.done')}`, 'ok');
    upsertCase(updated, true);
    emit('casechanged', updated);
    current = updated;
    open(updated.number, false);
    return updated;
  } catch (err) {
    toast(`${t(`t.${name}`)}: ${err.message}`, 'error', 6000);
    if (err.status === 409) open(c.number, false);
    return null;
  }
}

function select(name, options, value) {
  return h(
    'select',
    { name },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)),
  );
}

function form(c, name, suggestion) {
  const f = h('form.action-form', { dataset: { transition: name } });
  const submit = h('button', { type: 'submit' }, `${t('submit')} · ${t(`t.${name}`)}`);
  if (name === 'register') {
    f.append(h('label', {}, t('case.severity'), select('severity', SEVERITIES.map((s) => [s, t(`sev.${s}`)]), c.severity)));
    const catLabel = h('label', {}, t('case.category'));
    f.append(catLabel);
    loadCategories().then((cats) =>
      catLabel.append(select('category', cats.map((x) => [x.code, `${x.class_name} / ${x.name}`]), c.category)),
    );
  } else if (name === 'dispatch') {
    const level = select('level', LEVELS.map((l) => [l, t(`lvl.${l}`)]), suggestion?.level || 'community');
    const deptLabel = h('label', {}, t('case.department'));
    const showDept = () => (deptLabel.hidden = level.value !== 'department');
    level.addEventListener('change', showDept);
    f.append(h('label', {}, t('case.level'), level), deptLabel);
    if (suggestion) {
      f.append(
        h('div.hint', {}, `${t('case.suggested')}: ${t(`lvl.${suggestion.level}`)}${suggestion.department ? ` · ${suggestion.department.name}` : ''} — ${suggestion.note || suggestion.principle || ''}`),
      );
    }
    loadDepartments().then((deps) =>
      deptLabel.append(select('department', deps.map((d) => [d.code, d.name]), suggestion?.department?.code)),
    );
    showDept();
  } else if (name === 'merge') {
    const options = (c.duplicate_candidates || []).map((n) => [n, n]);
    f.append(
      h(
        'label',
        {},
        t('case.mergeInto'),
        options.length ? select('into', options) : h('input', { name: 'into', required: true, maxlength: 24 }),
      ),
    );
  } else if (name === 'relocate') {
    f.append(h('div.hint', {}, t('case.placeOnMap')));
    submit.hidden = true;
  }
  for (const field of FIELDS[name] || []) {
    const input =
      field === 'rating'
        ? h('input', { name: field, type: 'number', min: 1, max: 5, value: 5, required: true })
        : field === 'hours'
          ? h('input', { name: field, type: 'number', min: 1, max: 240, value: 8, required: true })
          : h('textarea', { name: field, rows: 2, required: true, maxlength: 2000 });
    f.append(h('label', {}, t(`case.${field}`), input));
  }
  f.append(submit);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(f).entries());
    const fields = {};
    if (name === 'dispatch') {
      fields.assignee = { level: data.level };
      if (data.level === 'department') fields.assignee.department = data.department;
    } else {
      for (const [k, v] of Object.entries(data)) {
        if (v === '') continue;
        fields[k] = k === 'rating' ? Number(v) : k === 'hours' ? Number(v) : v;
      }
    }
    submit.disabled = true;
    await send(c, name, fields);
    submit.disabled = false;
  });
  return f;
}

async function loadDepartments() {
  departments = departments || (await getJSON('/api/map/departments')).departments;
  return departments;
}

/** The category dictionary, fetched once: the register form's choices and the pages' English names. */
export async function loadCategories() {
  categories = categories || (await getJSON('/api/map/categories')).categories;
  return categories;
}

// ------------------------------------------------------------------------------ placing by click
function startPlacing(c) {
  const hint = document.getElementById('placing-hint');
  hint.hidden = false;
  state.map.getCanvas().style.cursor = 'crosshair';
  state.placing = async (lngLat) => {
    stopPlacing();
    await relocate(c, lngLat);
  };
}

function stopPlacing() {
  state.placing = null;
  document.getElementById('placing-hint').hidden = true;
  if (state.map) state.map.getCanvas().style.cursor = '';
}

/** `relocate` a case to a point: from the drawer (click) or the place-me queue (drag and drop). */
export async function relocate(c, lngLat) {
  return send(c, 'relocate', { location: { lon: Number(lngLat.lng.toFixed(7)), lat: Number(lngLat.lat.toFixed(7)), crs: 'EPSG:4490' } });
}
