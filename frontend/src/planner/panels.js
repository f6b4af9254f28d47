// The side panels: opening drafts (by area, from the list, from a survey file), the validation list,
// the grid card, the impact preview, publishing, and the history of generations with compare / export.
import { getJSON } from '../core/api.js';
import { pick, t } from '../core/i18n.js';
import { $, clear, fmtInt, fmtTime, h, toast } from '../core/util.js';
import * as api from './boundaries.js';
import { busy, closeDraft, openDraft, refresh, select } from './editor.js';
import { fitTo, setCompare } from './layers.js';
import { editable, gridByCode, on, state } from './state.js';

// ------------------------------------------------------------------------------------------- drafts
/** The area chosen in the draft panel: the community, else the street, else the planner's whole area. */
export function areaCode() {
  return $('#open-community').value || $('#open-street').value || state.config.home.code;
}

function netCode() {
  return state.draft?.net || $('#open-net').value;
}

// The "whole area" choice is worded again on a language switch (relabelChoices); names stay as they are.
const wholeArea = (prefix) => `${prefix ? `${prefix} ` : ''}${t('pl.wholeArea')}`;

async function fillChildren(select, code, prefix = '') {
  clear(select).append(h('option', { value: '', dataset: { whole: prefix } }, wholeArea(prefix)));
  if (!code) return;
  const area = await getJSON(`/api/map/areas/${code}`);
  for (const c of area.children.filter((x) => x.level !== 'grid')) select.append(h('option', { value: c.code }, c.name));
}

export async function setupDraftPanel() {
  const { config } = state;
  const nets = $('#open-net');
  for (const n of config.nets) nets.append(h('option', { value: n.code, dataset: { zh: n.name, en: n.name_en || n.name } }, pick({ zh: n.name, en: n.name_en || n.name })));
  const street = $('#open-street');
  const community = $('#open-community');
  const home = config.home;
  if (home.level === 'district' || home.level === 'city') {
    await fillChildren(street, home.code, home.name);
  } else {
    clear(street).append(h('option', { value: home.level === 'street' ? home.code : '' }, home.name));
  }
  street.addEventListener('change', () => fillChildren(community, street.value).catch(() => {}));
  await fillChildren(community, home.level === 'street' ? home.code : '');
  nets.addEventListener('change', () => loadHistory());
  $('#open-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const draft = await busy(() => api.createDraft(nets.value, areaCode()));
      await openDraft(draft.id);
    } catch (err) {
      toast(err.message, 'error', 6000);
    }
  });
  $('#import-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = $('#import-file').files[0];
    if (!file) return;
    try {
      const body = await busy(() => api.importFile(file, nets.value, areaCode()));
      toast(t('pl.imported', { n: body.import.read, id: body.draft.id }), 'ok');
      await openDraft(body.draft.id);
    } catch (err) {
      const bad = err.body?.features?.slice(0, 3).map((f) => `#${f.index}: ${f.reasons.join('; ')}`) || [];
      toast([err.message, ...bad].join(' · '), 'error', 9000);
    }
  });
  await loadDrafts();
}

function relabelChoices() {
  for (const o of document.querySelectorAll('#open-form option[data-whole]')) o.textContent = wholeArea(o.dataset.whole);
  for (const o of document.querySelectorAll('#open-net option[data-zh]')) o.textContent = pick({ zh: o.dataset.zh, en: o.dataset.en });
}

let lastDrafts = [];

export async function loadDrafts() {
  const { drafts } = await api.drafts();
  lastDrafts = drafts;
  renderDrafts(); // after the answer: overlapping reloads must not both append
}

function renderDrafts() {
  const list = clear($('#draft-list'));
  const open = lastDrafts.filter((d) => d.status === 'draft' || d.status === 'validated');
  if (!open.length) list.append(h('li.muted', {}, t('pl.noDrafts')));
  for (const d of open) {
    let armed = false;
    const discard = h('button.ghost', { type: 'button', dataset: { discard: d.id } }, t('pl.discard'));
    discard.addEventListener('click', async () => {
      if (!armed) {
        armed = true; // a second click within 3 s discards: no browser dialog to get in the way
        discard.textContent = t('pl.discardConfirm', { id: d.id });
        setTimeout(() => {
          armed = false;
          discard.textContent = t('pl.discard');
        }, 3000);
        return;
      }
      await busy(() => api.discard(d.id)).catch((err) => toast(err.message, 'error'));
      if (state.draft?.id === d.id) closeDraft();
      await loadDrafts();
    });
    list.append(
      h(`li${state.draft?.id === d.id ? '.current' : ''}`, { dataset: { draft: d.id } },
        h('span.grow', {}, `#${d.id} ${d.area.name} · ${t('pl.grids', { n: d.grids })}${d.stale ? ` · ${t('pl.stale')}` : ''}`),
        h('button.secondary', { type: 'button', onclick: () => openDraft(d.id), dataset: { open: d.id } }, t('pl.open')),
        discard),
    );
  }
}

function renderChip(draft) {
  const chip = $('#draft-chip');
  chip.hidden = !draft;
  // with no draft open (none yet, or the open one discarded) nothing can be undone, published or previewed
  $('#undo').disabled = !editable() || !state.operations;
  $('#publish-send').disabled = !editable();
  $('#impact-run').disabled = !draft;
  if (!draft) return;
  chip.className = `chip ${draft.stale ? 'stale' : draft.status}`;
  chip.dataset.status = draft.status;
  chip.textContent = [
    `#${draft.id}`,
    draft.area.name,
    t(`pl.status.${draft.status}`),
    t('pl.grids', { n: draft.grids }),
    draft.stale ? t('pl.stale') : '',
  ].filter(Boolean).join(' · ');
  $('#op-count').textContent = t('pl.ops', { n: state.operations ?? 0 });
}

// --------------------------------------------------------------------------------------- validation
function issueText(issue) {
  const parts = [t(`chk.${issue.check}`)];
  if (issue.area_m2 !== undefined && issue.area_m2 !== null) parts.push(`${issue.area_m2} m²`);
  if (issue.households !== undefined) parts.push(`${issue.households}/${issue.target}`);
  if (issue.parts) parts.push(`×${issue.parts}`);
  return parts.join(' · ');
}

function renderValidation() {
  const list = clear($('#issue-list'));
  const v = state.validation;
  const badge = $('#validation-badge');
  const summary = $('#validation-summary');
  if (!v) {
    badge.textContent = '';
    summary.textContent = state.draft ? '' : t('pl.noDraft');
    return;
  }
  badge.textContent = v.errors;
  badge.className = `badge${v.errors ? ' bad' : ''}`;
  summary.textContent = `${v.ok ? t('pl.valid') : t('pl.errors', { e: v.errors, w: v.warnings })} · ${t('pl.checked', { g: v.checked.grids, s: v.seconds })}`;
  const issues = [...(state.refusal ? [state.refusal] : []), ...v.issues];
  issues.forEach((issue, i) => {
    const li = h(`li.${issue.severity || 'error'}`, { dataset: { check: issue.check, n: i + 1 } },
      h('span.sev', {}, `${i + 1} ${t(`sev.${issue.severity || 'error'}`)}`),
      h('span.what', {}, issueText(issue)),
      h('span.codes', {}, [pick(issue.message), (issue.grids || []).join(', ')].filter(Boolean).join(' — ')));
    li.addEventListener('click', () => {
      for (const x of list.children) x.classList.remove('focus');
      li.classList.add('focus');
      const codes = (issue.grids || []).filter((c) => gridByCode(c));
      select(codes);
      if (issue.geometry) fitTo(state.map, { features: [{ geometry: issue.geometry }] });
      else if (issue.at) state.map.flyTo({ center: issue.at, zoom: Math.max(state.map.getZoom(), 16) });
    });
    list.append(li);
  });
}

// ---------------------------------------------------------------------------------------- grid card
function renderCard(codes) {
  const card = $('#grid-card');
  const f = codes.length === 1 ? gridByCode(codes[0]) : null;
  card.hidden = !f;
  if (!f) return;
  const p = f.properties;
  clear(card).append(
    h('div.name', {}, p.name || p.code),
    h('div', {}, `${t('pl.code')}: ${p.code}${p.new ? ` (${t('pl.new')})` : p.changed ? ` (${t('pl.changed')})` : ''}`),
    h('div', {}, `${t('pl.households')}: ${fmtInt(p.households)} · ${t('pl.target')}: ${p.target_households ? fmtInt(p.target_households) : '—'}`),
    h('div', {}, `${t('pl.kind')}: ${t(`kind.${p.kind}`)} · ${p.net}`),
  );
}

// -------------------------------------------------------------------------------------------- impact
function kpi(key, value) {
  return h('div.kpi', { dataset: { k: key } }, h('span.v', {}, fmtInt(value)), h('span.k', {}, t(`imp.${key}`)));
}

function movesTable(moves, columns) {
  return h('table', {},
    h('tr', {}, h('th', {}, t('imp.from')), h('th', {}, t('imp.to')), columns.map((c) => h('th', {}, t(`imp.${c}`)))),
    moves.map((m) => h('tr', {}, h('td', {}, m.from || '—'), h('td', {}, m.to || '—'), columns.map((c) => h('td.n', {}, fmtInt(m[c]))))));
}

let lastImpact = null;

export function renderImpact(body) {
  lastImpact = body;
  const box = clear($('#impact-body'));
  const b = body.buildings || {};
  const p = body.party_organisations || {};
  const c = body.open_cases || {};
  const s = body.service_stations || {};
  if (body.stale) box.append(h('p.hint', {}, t('imp.stale')));
  box.append(
    h('div.kpis', {},
      kpi('buildings', b.buildings), kpi('households', b.households), kpi('residents', b.residents),
      kpi('house_units', b.house_units), kpi('organisations', p.organisations), kpi('members', p.members),
      kpi('stations', s.stations), kpi('cases', c.cases), kpi('workers', body.grid_workers?.length ?? 0)),
    h('p.codes-line', { dataset: { codes: 'new' } }, `${t('imp.newCodes')}: ${body.codes.new.join(', ') || '—'}`),
    h('p.codes-line', { dataset: { codes: 'retired' } }, `${t('imp.retiredCodes')}: `,
      body.codes.retired.length ? body.codes.retired.map((r) => `${r.code} (${t('imp.successor', { codes: r.successors.join(', ') || '—' })})`).join('; ') : '—'),
    h('p.codes-line', { dataset: { codes: 'changed' } }, `${t('imp.changedCodes')}: ${body.codes.changed.join(', ') || '—'} · ${t('imp.unchanged', { n: body.codes.unchanged })}`),
  );
  if (b.moves?.length) box.append(h('details', {}, h('summary', {}, `${t('imp.moves')} · ${t('imp.buildings')}`), movesTable(b.moves, ['buildings', 'households', 'residents'])));
  if (p.moves?.length) box.append(h('details', {}, h('summary', {}, `${t('imp.moves')} · ${t('imp.organisations')}`), movesTable(p.moves, ['organisations', 'members'])));
  if (s.moves?.length) box.append(h('details', {}, h('summary', {}, `${t('imp.moves')} · ${t('imp.stations')}`), movesTable(s.moves, ['stations'])));
  if (c.items?.length) {
    box.append(h('details', {}, h('summary', {}, `${t('imp.caseList')} (${c.cases})`),
      h('table', {}, c.items.map((i) => h('tr', { dataset: { case: i.id } }, h('td', {}, i.id), h('td', {}, i.from || '—'), h('td', {}, '→'), h('td', {}, i.to || '—'))))));
  }
  if (c.closed_cases_keep_their_grid) box.append(h('p.small.muted', {}, t('imp.closedKeep', { n: c.closed_cases_keep_their_grid })));
  if (body.grid_workers?.length) {
    box.append(h('details', {}, h('summary', {}, `${t('imp.workerList')} (${body.grid_workers.length})`),
      h('table', {}, body.grid_workers.map((w) => h('tr', {}, h('td', {}, w.name), h('td', {}, w.grid_code), h('td', {}, '→'), h('td', {}, w.suggested || '—'))))));
  }
  if (body.new_grids_without_workers?.length) box.append(h('p.small.muted', {}, t('imp.noWorkers', { codes: body.new_grids_without_workers.join(', ') })));
  box.dataset.draft = body.draft;
}

// ------------------------------------------------------------------------------------------ publish
async function publishDraft(e) {
  e.preventDefault();
  const note = $('#publish-note').value.trim();
  if (!state.draft || !note) return;
  const out = clear($('#publish-result'));
  try {
    const result = await busy(() => api.publish(state.draft.id, note));
    const number = result.generations[state.draft.net]?.[1];
    out.append(h('p.hint', { dataset: { generation: number } }, t('pl.published', { n: number })));
    $('#publish-note').value = '';
    await refresh();
    await Promise.all([loadDrafts(), loadHistory()]);
  } catch (err) {
    const v = err.body?.validation;
    out.append(h('p.hint', {}, err.message));
    if (v) {
      state.validation = v;
      renderValidation();
    }
    toast(err.message, 'error', 6000);
  }
}

// ------------------------------------------------------------------------------------------ history
let lastHistory = null;

export async function loadHistory() {
  const area = state.draft?.area.code || state.config.home.code;
  const body = await api.generations(netCode(), area).catch(() => null);
  if (!body) return;
  lastHistory = { body, area };
  renderHistory();
}

function renderHistory() {
  if (!lastHistory) return;
  const { body, area } = lastHistory;
  const list = $('#generation-list');
  const picked = (name) => list.querySelector(`input[name=${name}]:checked`)?.value;
  const kept = { a: picked('cmp-a'), b: picked('cmp-b') };
  clear(list);
  for (const g of body.generations) {
    const c = g.change;
    const exports = ['gpkg', 'shp', 'geojson'].map((f) =>
      h('a', { href: api.exportUrl(body.net, area, g.number, f), download: '', dataset: { format: f } }, f.toUpperCase()));
    list.append(
      h(`li${g.in_force ? '.in-force' : ''}`, { dataset: { generation: g.number } },
        h('label.pick', {}, h('input', { type: 'radio', name: 'cmp-a', value: g.number }), ' A'),
        h('label.pick', {}, h('input', { type: 'radio', name: 'cmp-b', value: g.number }), ' B'),
        h('span.num', {}, `#${g.number}`),
        h('span.meta', {},
          `${fmtTime(g.effective_from)}${g.in_force ? ` · ${t('pl.inForce')}` : ''} · ${g.note || (c ? '' : t('pl.initial'))}`,
          c ? ` · ${c.area.name} · ${t('pl.by')} ${c.published_by || '—'} · +${c.new} ~${c.changed} −${c.retired}` : ''),
        h('span.exports', {}, exports)),
    );
  }
  // Default comparison: the generation before the one in force against it (or what was picked).
  const radios = (name) => list.querySelectorAll(`input[name=${name}]`);
  const again = (name, value) => [...radios(name)].find((r) => r.value === value);
  if (again('cmp-a', kept.a) && again('cmp-b', kept.b)) {
    again('cmp-a', kept.a).checked = true;
    again('cmp-b', kept.b).checked = true;
  } else if (body.generations.length > 1) {
    radios('cmp-b')[0].checked = true;
    radios('cmp-a')[1].checked = true;
  }
}

async function runCompare() {
  const a = document.querySelector('input[name=cmp-a]:checked')?.value;
  const b = document.querySelector('input[name=cmp-b]:checked')?.value;
  const out = $('#compare-summary');
  if (!a || !b || a === b) {
    out.textContent = t('pl.compareNeed');
    return;
  }
  const area = state.draft?.area.code || state.config.home.code;
  const body = await busy(() => api.compare(netCode(), area, a, b)).catch((err) => {
    toast(err.message, 'error');
    return null;
  });
  if (!body) return;
  setCompare(state.map, body);
  const s = body.summary;
  clear(out).append(
    h('span', { dataset: { onlyA: s.only_a, onlyB: s.only_b } },
      t('pl.compareSummary', { a, b, same: s.same, oa: s.only_a, ob: s.only_b })),
    h('br'), h('i.compare-key.a'), `A #${a}`, h('i.compare-key.b'), `B #${b}`,
  );
  if (body.bbox) state.map.fitBounds([[body.bbox[0], body.bbox[1]], [body.bbox[2], body.bbox[3]]], { padding: 60, maxZoom: 16, duration: 0 });
}

export function setupPanels() {
  on('draft', (draft) => {
    renderChip(draft);
    if (!draft) {
      lastImpact = null;
      clear($('#impact-body'));
    }
  });
  on('validation', renderValidation);
  on('selection', renderCard);
  on('opened', () => {
    lastImpact = null;
    clear($('#impact-body'));
    clear($('#publish-result'));
    loadHistory();
  });
  $('#impact-run').addEventListener('click', async () => {
    if (!state.draft) return;
    const body = await busy(() => api.impact(state.draft.id)).catch((err) => toast(err.message, 'error'));
    if (body) renderImpact(body);
  });
  $('#publish-form').addEventListener('submit', publishDraft);
  $('#compare-run').addEventListener('click', runCompare);
  $('#compare-clear').addEventListener('click', () => {
    setCompare(state.map, null);
    $('#compare-summary').textContent = '';
  });
  window.addEventListener('langchange', () => {
    relabelChoices();
    renderDrafts();
    renderHistory();
    renderChip(state.draft);
    renderValidation();
    renderCard(state.selected);
    if (lastImpact) renderImpact(lastImpact);
  });
  renderChip(null);
  renderValidation();
}
