// Today's patrol tracks (巡查轨迹) of the grid workers on the big screen: one toggle in the layer box, lines
// from /api/field/patrols/today (scoped to the user's jurisdiction by the server, following the selected
// area), drawn under the cases and refreshed every minute while shown.
import { getJSON, qs } from '../core/api.js';
import { extend, t } from '../core/i18n.js';
import { setVisible } from '../core/map.js';
import { h } from '../core/util.js';
import { areaCode, on } from './state.js';

extend({
  zh: { 'layers.patrols': '今日巡查轨迹' },
  en: { 'layers.patrols': "Today's patrol tracks" },
});

const SOURCE = 'patrol-tracks';
const LAYERS = ['patrol-tracks'];
const REFRESH_MS = 60000;
const EMPTY = { type: 'FeatureCollection', features: [] };

export function setupPatrols(map) {
  map.addSource(SOURCE, { type: 'geojson', data: EMPTY });
  map.addLayer(
    {
      id: 'patrol-tracks',
      type: 'line',
      source: SOURCE,
      layout: { visibility: 'none', 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#b197fc', 'line-width': 3, 'line-opacity': 0.9 },
    },
    map.getLayer('open-case-clusters') ? 'open-case-clusters' : undefined,
  );
  const input = h('input', { type: 'checkbox', id: 'toggle-patrols' });
  const label = h('label', {}, input, ' ', h('span', { dataset: { i18n: 'layers.patrols' } }, t('layers.patrols')));
  document.getElementById('map-tools').append(label);
  let count = null;

  async function load() {
    if (!input.checked) return;
    try {
      const data = await getJSON(`/api/field/patrols/today${qs({ area: areaCode() })}`);
      data.features = data.features.filter((f) => f.geometry);
      map.getSource(SOURCE).setData(data);
      count = data.features.length;
    } catch (err) {
      console.warn('patrol tracks', err);
    }
  }

  input.addEventListener('change', () => {
    setVisible(map, LAYERS, input.checked);
    load();
  });
  on('areachange', load);
  setInterval(load, REFRESH_MS);
  return { load, count: () => count };
}
