// Drill-down city → district → street → community → grid: by clicking the map (the reverse geocoder
// gives the whole chain of the clicked point, so it works at any zoom) or an area in the card, with the
// breadcrumb, the selection outline and the panels following.
import { getJSON, qs } from '../core/api.js';
import { t } from '../core/i18n.js';
import { addSelection, fitBbox } from '../core/map.js';
import { clear, h } from '../core/util.js';
import { emit, state } from './state.js';

const ORDER = ['city', 'district', 'street', 'community', 'grid'];
let setOutline = null;
let seq = 0;

/** Padding that keeps a fitted area out from under the boxes over the map's north (map-overlay). */
function clearOfBoxes() {
  const wrap = document.getElementById('map-wrap').getBoundingClientRect();
  const boxes = document.getElementById('map-overlay').getBoundingClientRect();
  const top = Math.max(40, Math.min(boxes.bottom - wrap.top + 16, wrap.height / 2));
  return { top, bottom: 60, left: 60, right: 60 };
}

export function setupDrill(map) {
  setOutline = addSelection(map, 'selection', '#ffd43b');
  map.on('click', async (e) => {
    if (state.placing) return; // a case is being placed: the click belongs to it
    const hits = map.queryRenderedFeatures(e.point, {
      layers: ['open-cases', 'open-case-clusters', 'cases'].filter((id) => map.getLayer(id)),
    });
    if (hits.length) return; // a case or cluster: its own handler
    const next = await nextCodeAt(e.lngLat);
    if (next) select(next);
  });
  window.addEventListener('langchange', () => state.area && render(state.area));
}

async function nextCodeAt(lngLat) {
  let r;
  try {
    r = await getJSON(`/api/reverse${qs({ lon: lngLat.lng.toFixed(7), lat: lngLat.lat.toFixed(7) })}`);
  } catch {
    return null; // outside the city
  }
  const chain = [
    r.admin?.city,
    r.admin?.district,
    r.admin?.street,
    r.admin?.community,
    r.grid_code ? { code: r.grid_code } : null,
  ];
  const area = state.area;
  if (!area) return chain[0]?.code;
  const i = ORDER.indexOf(area.level);
  if (i < 0) return null;
  // Inside the selection: one level down; elsewhere: the clicked point's area at the same level.
  if (chain[i]?.code === area.code) return chain[Math.min(i + 1, 4)]?.code || null;
  return chain[i]?.code || null;
}

export async function select(code, { animate = true } = {}) {
  const mine = ++seq;
  const area = await getJSON(`/api/map/areas/${encodeURIComponent(code || 'root')}`);
  if (mine !== seq) return; // a later click won
  state.area = area;
  setOutline(area.level === 'city' ? null : area.geometry);
  fitBbox(state.map, area.bbox, clearOfBoxes(), animate);
  render(area);
  emit('areachange', area);
  return area;
}

function render(area) {
  const crumbs = clear(document.getElementById('breadcrumb'));
  area.chain.forEach((c, i) => {
    if (i) crumbs.append(h('span.sep', {}, '›'));
    const current = i === area.chain.length - 1;
    crumbs.append(
      h(
        'button',
        {
          type: 'button',
          'aria-current': current ? 'page' : null,
          title: `${t(`level.${c.level}`)} ${c.code}`,
          onclick: () => !current && select(c.code),
        },
        c.name,
      ),
    );
  });
  const card = clear(document.getElementById('area-card'));
  card.append(
    h('div.level', {}, `${t(`level.${area.level}`)} · ${area.code}${area.net_name ? ` · ${area.net_name}` : ''}`),
    h('h3.name', {}, area.name),
  );
  if (area.children.length) {
    card.append(
      h('div.level', {}, `${t('drill.children')} (${area.children.length}) · ${t('drill.hint')}`),
      h(
        'div.children',
        {},
        area.children.map((c) =>
          h('button', { type: 'button', dataset: { code: c.code }, onclick: () => select(c.code) }, c.name),
        ),
      ),
    );
  }
  const actions = h('div.actions');
  if (area.chain.length > 1) {
    const up = area.chain[area.chain.length - 2];
    actions.append(h('button.ghost', { type: 'button', onclick: () => select(up.code) }, `↑ ${t('drill.up')}`));
  }
  if (area.level === 'grid') {
    actions.append(
      h(
        'a.button',
        { href: `/api/map/export/grid/${encodeURIComponent(area.code)}.html`, download: '', id: 'export-grid' },
        t('export.grid'),
      ),
    );
  }
  card.append(actions);
}
