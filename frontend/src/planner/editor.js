// Opening a draft and sending it edits: every edit is one operation of the server's
// (POST …/operations), answered with what it did and the validation of the units it touched; the page
// then reloads the grids and the whole draft's validation, so what the map shows is what the server has.
import { ApiError } from '../core/api.js';
import { pick, t } from '../core/i18n.js';
import { toast } from '../core/util.js';
import * as api from './boundaries.js';
import { fitTo, setGrids, setIssues, setSelection, setUnits, showPublishedGrids } from './layers.js';
import { emit, state } from './state.js';

let pending = 0;

/** Run `fn` with the busy marker shown; concurrent calls share it. */
export async function busy(fn) {
  pending += 1;
  document.getElementById('busy').hidden = false;
  try {
    return await fn();
  } finally {
    pending -= 1;
    if (!pending) document.getElementById('busy').hidden = true;
  }
}

export function select(codes) {
  state.selected = codes;
  setSelection(state.map, codes);
  emit('selection', codes);
}

/** Grids, full validation and the draft's description again, after any change. */
export async function refresh() {
  const id = state.draft.id;
  const [draft, grids, validation, trail] = await Promise.all([
    api.draft(id),
    api.grids(id),
    api.validation(id),
    api.trail(id),
  ]);
  state.draft = draft;
  state.grids = grids;
  state.validation = validation;
  state.operations = trail.operations.length;
  setGrids(state.map, grids);
  showIssues();
  emit('draft', draft);
}

export function showIssues() {
  const issues = [...(state.refusal ? [state.refusal] : []), ...(state.validation?.issues || [])];
  setIssues(state.map, issues);
  emit('validation', state.validation);
}

export async function openDraft(id, { fit = true } = {}) {
  await busy(async () => {
    state.draft = await api.draft(id);
    state.refusal = null;
    select([]);
    const units = await api.units(id);
    state.units = units;
    setUnits(state.map, units);
    showPublishedGrids(state.map, false);
    await refresh();
    if (fit) fitTo(state.map, units, false);
  });
  emit('opened', state.draft);
}

export function closeDraft() {
  state.draft = null;
  state.grids = { type: 'FeatureCollection', features: [] };
  state.validation = null;
  state.refusal = null;
  setGrids(state.map, state.grids);
  setUnits(state.map, state.grids);
  setIssues(state.map, []);
  showPublishedGrids(state.map, true);
  select([]);
  emit('draft', null);
}

function refusalIssue(body) {
  return {
    check: 'refusal',
    severity: 'error',
    reason: body.reason,
    message: body.error,
    grids: body.grids || [],
    at: body.at || null,
    area_m2: body.area_m2,
  };
}

/** Send one operation.  A refusal leaves the draft as it was: its reason is listed first and marked on
 *  the map where the server says (`at`), the grids it names selected. */
export async function operate(body) {
  if (!state.draft) return null;
  return busy(async () => {
    try {
      const result = await api.operate(state.draft.id, body);
      state.refusal = null;
      select([]);
      await refresh();
      const r = result.result;
      const codes = [...r.created, ...r.changed].join(', ');
      toast(`${t(`tool.${body.op}`)} · ${t('pl.done')}${codes ? `: ${codes}` : ''}`, 'ok');
      emit('operated', result);
      return result;
    } catch (err) {
      if (!(err instanceof ApiError) || !err.body) throw err;
      state.refusal = refusalIssue(err.body);
      if (state.refusal.grids.length) select(state.refusal.grids.filter((c) => state.grids.features.some((f) => f.properties.code === c)));
      showIssues();
      toast(`${t('pl.refused')}: ${pick(err.body.error)}`, 'error', 6000);
      emit('refused', err.body);
      return null;
    }
  });
}

export async function undoLast() {
  if (!state.draft) return;
  await busy(async () => {
    try {
      const result = await api.undo(state.draft.id);
      state.refusal = null;
      select([]);
      await refresh();
      toast(t('pl.undone', { op: t(`tool.${result.undone.op}`) }), 'ok');
      emit('undone', result);
    } catch (err) {
      toast(err.message, 'error');
    }
  });
}
