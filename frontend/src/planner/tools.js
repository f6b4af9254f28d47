// The editing tools.  Drawing (a split line, a new shared edge, a new grid) and dragging the vertices of
// a shared edge are terra-draw's, on MapLibre through its adapter; picking grids is a click on our own
// fill layer.  Whatever is drawn becomes one server operation (editor.operate); nothing is edited locally.
import {
  TerraDraw,
  TerraDrawLineStringMode,
  TerraDrawPolygonMode,
  TerraDrawSelectMode,
} from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import { t } from '../core/i18n.js';
import { $, $$, clear, h, toast } from '../core/util.js';
import * as api from './boundaries.js';
import { busy, operate, select } from './editor.js';
import { contains, mostCrossed } from './geo.js';
import { gridAt } from './layers.js';
import { editable, gridByCode, on, state } from './state.js';

const PRECISION = 9; // terra-draw refuses coordinates with more decimals (1e-9° ≈ 0.1 mm)
const round = (c) => c.map((v) => Math.round(v * 10 ** PRECISION) / 10 ** PRECISION);

let draw = null;
let edgeId = null; // the shared edge being moved in terra-draw's select mode
let pendingPolygon = null; // a drawn new grid waiting for its net / kind / name

export function setupDraw(map) {
  draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map, coordinatePrecision: PRECISION }),
    modes: [
      new TerraDrawLineStringMode({
        styles: { lineStringColor: '#c2255c', lineStringWidth: 3, closingPointColor: '#c2255c', closingPointWidth: 6 },
      }),
      new TerraDrawPolygonMode({
        styles: { fillColor: '#0b7285', fillOpacity: 0.25, outlineColor: '#0b7285', outlineWidth: 3 },
      }),
      new TerraDrawSelectMode({
        flags: {
          // Vertices of the shared edge drag; dragging a midpoint adds a vertex there and drags it.
          linestring: { feature: { coordinates: { draggable: true, midpoints: { draggable: true }, deletable: true } } },
        },
        styles: { selectedLineStringColor: '#c2255c', selectedLineStringWidth: 4, selectionPointWidth: 6, midPointWidth: 4 },
      }),
    ],
  });
  draw.start();
  draw.on('finish', (id, context) => {
    if (context.action !== 'draw') return; // vertex drags of the edge are applied with a button
    const feature = draw.getSnapshotFeature(id);
    // After terra-draw has finished its own bookkeeping: the handler clears the store.
    if (feature) setTimeout(() => finished(feature).catch((err) => toast(err.message, 'error')), 0);
  });
  map.on('click', (e) => {
    if (!state.draft || ['split', 'create'].includes(state.tool) || edgeId) return;
    if (state.tool === 'reshape' && draw.getMode() === 'linestring') return;
    picked(gridAt(map, e.point), e.originalEvent?.shiftKey);
  });
  on('selection', renderActions);
  on('draft', () => renderActions());
  return draw;
}

// ------------------------------------------------------------------------------------ tool switching
export function setTool(tool) {
  if (tool !== 'select' && !editable()) {
    toast(t('pl.noDraft'), 'error');
    tool = 'select';
  }
  state.tool = tool;
  edgeId = null;
  pendingPolygon = null;
  draw.clear();
  draw.setMode(tool === 'split' ? 'linestring' : tool === 'create' ? 'polygon' : 'static');
  for (const b of $$('[data-tool]')) b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
  $('#tool-hint').textContent = t(`hint.${tool}`);
  if (!['select'].includes(tool)) select(tool === 'split' && state.selected.length === 1 ? state.selected : []);
  renderActions();
}

function picked(code, shift) {
  if (!code) {
    if (state.tool === 'select') select([]);
    return;
  }
  const sel = [...state.selected];
  const at = sel.indexOf(code);
  switch (state.tool) {
    case 'select':
      if (!shift) select([code]);
      else select(at >= 0 ? sel.filter((c) => c !== code) : [...sel, code]);
      break;
    case 'merge':
      select(at >= 0 ? sel.filter((c) => c !== code) : [...sel, code]);
      break;
    case 'reshape':
      if (at >= 0) select(sel.filter((c) => c !== code));
      else select([...sel, code].slice(-2));
      break;
    case 'delete':
      if (at >= 0) select(sel.filter((c) => c !== code));
      else select(sel.length >= 2 ? [code] : [...sel, code]);
      break;
    default:
      break;
  }
}

// ----------------------------------------------------------------------------- what a drawing becomes
async function finished(feature) {
  const coords = feature.geometry.coordinates;
  if (state.tool === 'split') {
    const one = state.selected.length === 1 ? gridByCode(state.selected[0]) : null;
    const grid = one && coords.some((c) => contains(one.geometry, c)) ? one : mostCrossed(state.grids.features, coords);
    draw.clear();
    if (!grid) {
      toast(t('hint.split'), 'error');
      return;
    }
    await operate({ op: 'split', grid: grid.properties.code, line: feature.geometry });
    draw.setMode('linestring');
  } else if (state.tool === 'reshape') {
    draw.clear();
    draw.setMode('static');
    await operate({ op: 'reshape', grids: [...state.selected], edge: feature.geometry });
  } else if (state.tool === 'create') {
    pendingPolygon = feature.geometry;
    draw.setMode('static');
    renderActions();
  }
}

async function editEdge() {
  const [a, b] = state.selected;
  const body = await busy(() => api.edge(state.draft.id, a, b)).catch((err) => {
    toast(err.message, 'error');
    return null;
  });
  if (!body) return;
  draw.clear();
  edgeId = draw.getFeatureId();
  const geometry = { type: 'LineString', coordinates: body.edge.coordinates.map(round) };
  const [result] = draw.addFeatures([{ id: edgeId, type: 'Feature', geometry, properties: { mode: 'linestring' } }]);
  if (!result?.valid) {
    toast(result?.reason || 'edge', 'error');
    edgeId = null;
    return;
  }
  draw.setMode('select');
  draw.selectFeature(edgeId);
  renderActions();
}

async function applyEdge() {
  const feature = draw.getSnapshotFeature(edgeId);
  edgeId = null;
  draw.clear();
  draw.setMode('static');
  if (feature) await operate({ op: 'reshape', grids: [...state.selected], edge: feature.geometry });
  renderActions();
}

function drawEdge() {
  draw.clear();
  draw.setMode('linestring');
  $('#tool-hint').textContent = t('hint.drawEdge');
}

/** Texts again in the new language, without dropping what is being drawn. */
export function relabel() {
  $('#tool-hint').textContent = t(draw.getMode() === 'linestring' && state.tool === 'reshape' ? 'hint.drawEdge' : `hint.${state.tool}`);
  renderActions();
}

// --------------------------------------------------------------------------------- contextual actions
function button(label, onclick, attrs = {}) {
  return h('button', { type: 'button', onclick, ...attrs }, label);
}

function renderActions() {
  const box = clear($('#tool-actions'));
  if (!state.draft || !draw) return;
  const sel = state.selected;
  const canEdit = editable();
  if (state.tool === 'merge') {
    box.append(
      h('div.row', {},
        button(t('act.merge', { n: sel.length }), () => operate({ op: 'merge', grids: [...sel] }), {
          id: 'merge-apply', disabled: !canEdit || sel.length < 2,
        }),
        button(t('act.clear'), () => select([]), { class: 'ghost' })),
      h('div.small.muted', {}, sel.join(', ')),
    );
  } else if (state.tool === 'reshape') {
    if (edgeId) {
      box.append(
        h('div.row', {},
          button(t('act.applyEdge'), applyEdge, { id: 'edge-apply' }),
          button(t('act.cancel'), () => setTool('reshape'), { class: 'ghost' })),
      );
    } else {
      box.append(
        h('div.row', {},
          button(t('act.editEdge'), editEdge, { id: 'edge-edit', disabled: !canEdit || sel.length !== 2 }),
          button(t('act.drawEdge'), drawEdge, { id: 'edge-draw', class: 'secondary', disabled: !canEdit || sel.length !== 2 })),
        h('div.small.muted', {}, sel.join(', ')),
      );
    }
  } else if (state.tool === 'delete') {
    const [a, b] = sel;
    box.append(
      h('div.row', {},
        button(t('act.deleteApply', { a: a || '…', b: b || '…' }), () => operate({ op: 'delete', grid: a, into: b }), {
          id: 'delete-apply', class: 'danger', disabled: !canEdit || sel.length !== 2,
        }),
        button(t('act.clear'), () => select([]), { class: 'ghost' })),
    );
  } else if (state.tool === 'create' && pendingPolygon) {
    const nets = h('select#create-net', {}, state.draft.nets.map((n) => h('option', { value: n }, state.config.nets.find((x) => x.code === n)?.name || n)));
    const kinds = h('select#create-kind', {}, state.config.kinds.map((k) => h('option', { value: k }, t(`kind.${k}`))));
    const name = h('input#create-name', { type: 'text', maxlength: 64, placeholder: t('act.name') });
    nets.addEventListener('change', () => {
      if (nets.value === 'dedicated' && kinds.value === 'standard') kinds.value = 'school';
    });
    const polygon = pendingPolygon;
    box.append(
      h('div.form', {},
        h('label', {}, t('act.netOf'), ' ', nets),
        h('label', {}, t('pl.kind'), ' ', kinds),
        name,
        h('div.row', {},
          button(t('act.createApply'), async () => {
            const body = { op: 'create', polygon, net: nets.value, kind: kinds.value };
            if (name.value.trim()) body.name = name.value.trim();
            pendingPolygon = null;
            draw.clear();
            await operate(body);
            draw.setMode('polygon');
            renderActions();
          }, { id: 'create-apply' }),
          button(t('act.cancel'), () => setTool('create'), { class: 'ghost' }))),
    );
  }
}

export function getDraw() {
  return draw;
}
