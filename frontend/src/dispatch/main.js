// The dispatcher's big screen (/dispatch/): the whole jurisdiction on our own map, live cases by light,
// drill-down, the case drawer, the place-me queue and the three indicator panels.
import '../core/base.css';
import './dispatch.css';
import { applyI18n, pick, setCategoryNames, toggleLang } from '../core/i18n.js';
import { createMap, idle, loaded, setNets, setVisible } from '../core/map.js';
import { h, readConfig } from '../core/util.js';
import { addCasesLayer, caseCount, hasCase, loadCases } from './casesLayer.js';
import { select, setupDrill } from './drill.js';
import { loadCategories, setupDetail } from './detail.js';
import { startLive } from './live.js';
import { setupPanels } from './panels.js';
import { setupPatrols } from './patrols.js';
import { loadQueue, setupQueue } from './queue.js';
import { emit, on, state } from './state.js';

// The style's own case layers draw every case ever reported (tiles, by status); the screen's working
// set is the open cases by light, so the tile layers are an opt-in "history" view.
const TILE_CASE_LAYERS = ['case-clusters', 'case-cluster-counts', 'cases', 'case-labels'];
const STATION_LAYERS = ['station-clusters', 'station-cluster-counts', 'stations', 'station-labels'];
const OPEN_CASE_LAYERS = ['open-case-clusters', 'open-case-cluster-count', 'open-cases', 'case-flash'];

const config = readConfig();
state.config = config;
const debug = (window.__onenet = { ready: false, state, hasCase, caseCount, timings: {} });
const t0 = performance.now();
applyI18n();
document.getElementById('lang-toggle').addEventListener('click', toggleLang);

function clock() {
  const el = document.getElementById('clock');
  const tick = () => (el.textContent = new Date().toLocaleString('zh-CN', { hour12: false }));
  tick();
  setInterval(tick, 1000);
}
clock();

// A 4K wall shows the 1080p screen at twice the resolution: the page is sized in rem (16 px root font at
// 1920 px wide, 32 px at 3840), and the map — whose styles are in CSS pixels — is laid out at 1/k of its
// box, scaled up by k with CSS and drawn with k times the pixel ratio, so labels, lines and clusters keep
// their 1080p size and zoom and stay sharp.  MapLibre reads the CSS scale back for mouse positions.
const scale = Math.max(1, parseFloat(getComputedStyle(document.documentElement).fontSize) / 16);
if (scale > 1.05) {
  const el = document.getElementById('map');
  Object.assign(el.style, {
    width: `${100 / scale}%`,
    height: `${100 / scale}%`,
    transform: `scale(${scale})`,
    transformOrigin: '0 0',
  });
}
const map = createMap('map', config, {
  center: [125.95, 46.58],
  zoom: 10,
  pixelRatio: (window.devicePixelRatio || 1) * scale,
});
state.map = map;
debug.map = map;
debug.openCase = (number) => emit('opencase', number);

function netToggles() {
  const enabled = new Set(config.nets.filter((n) => n.follows_communities).map((n) => n.code));
  const box = document.getElementById('nets');
  for (const n of config.nets) {
    const input = h('input', { type: 'checkbox', checked: enabled.has(n.code), dataset: { net: n.code } });
    input.addEventListener('change', () => {
      if (input.checked) enabled.add(n.code);
      else enabled.delete(n.code);
      setNets(map, config.nets, enabled);
    });
    // one language at a time: the net's name, or its English name in English mode
    const name = h('span.net-name', {}, ` ${pick({ zh: n.name, en: n.name_en || n.name })}`);
    window.addEventListener('langchange', () => (name.textContent = ` ${pick({ zh: n.name, en: n.name_en || n.name })}`));
    box.append(h('label', {}, input, name));
  }
  setNets(map, config.nets, enabled);
}

function layerToggles() {
  const bind = (id, layers) => {
    const input = document.getElementById(id);
    const apply = () => setVisible(map, layers, input.checked);
    input.addEventListener('change', apply);
    apply();
  };
  bind('toggle-open-cases', OPEN_CASE_LAYERS);
  bind('toggle-all-cases', TILE_CASE_LAYERS);
  bind('toggle-stations', STATION_LAYERS);
}

async function main() {
  await loaded(map);
  debug.timings.styleLoaded = performance.now() - t0;
  const font = map.getLayoutProperty('grid-labels', 'text-font') || ['WenQuanYi Micro Hei Regular'];
  // Stations in blue on the big screen: green, yellow and red belong to the cases' lights here.
  for (const id of ['station-clusters', 'stations']) if (map.getLayer(id)) map.setPaintProperty(id, 'circle-color', '#3b5bdb');
  addCasesLayer(map, font);
  debug.patrols = setupPatrols(map); // today's tracks of the grid workers (toggle)
  setupDrill(map);
  setupDetail();
  setupQueue(map);
  setupPanels();
  netToggles();
  layerToggles();
  map.on('click', (e) => state.placing && state.placing(e.lngLat));
  // Subscribe first, then load: a case created in between arrives twice rather than never.
  startLive();
  on('resync', () => Promise.all([loadCases(), loadQueue()]).catch(() => {}));
  // English category names for the feed, lists and drawer (the cases carry the Chinese one)
  const names = loadCategories().then(setCategoryNames).catch(() => {});
  const area = select(config.root, { animate: false });
  const cases = loadCases().then((n) => (debug.timings.casesLoaded = performance.now() - t0) && n);
  await Promise.all([area, cases, loadQueue(), names]);
  await idle(map);
  debug.timings.firstIdle = performance.now() - t0;
  debug.ready = true;
  document.body.dataset.ready = '1';
}

main().catch((err) => {
  console.error(err);
  document.body.dataset.ready = 'error';
});
