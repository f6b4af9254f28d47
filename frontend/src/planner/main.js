// The planner's boundary editor (/planner/): open or create a draft of a net over an area, edit it with
// terra-draw on our own MapLibre map (every edit an operation of /api/boundaries/), see the validation
// at once, preview the impact, publish, and browse / compare / export the generations.
import '../core/base.css';
import './planner.css';
import './i18n.js';
import { getJSON } from '../core/api.js';
import { applyI18n, toggleLang } from '../core/i18n.js';
import { createMap, fitBbox, idle, loaded } from '../core/map.js';
import { $, readConfig } from '../core/util.js';
import { openDraft, undoLast } from './editor.js';
import { addPlannerLayers } from './layers.js';
import { loadDrafts, loadHistory, setupDraftPanel, setupPanels } from './panels.js';
import { setupPropose } from './propose.js';
import { on, state } from './state.js';
import { getDraw, relabel, setTool, setupDraw } from './tools.js';

const config = readConfig();
state.config = config;
const debug = (window.__onenet = { ready: false, state, openDraft });
applyI18n();
$('#lang-toggle').addEventListener('click', toggleLang);

const map = createMap('map', config, { center: [125.95, 46.58], zoom: 11 });
state.map = map;
debug.map = map;

async function main() {
  await loaded(map);
  addPlannerLayers(map);
  debug.draw = setupDraw(map);
  setupPanels();
  setupPropose();
  for (const b of document.querySelectorAll('[data-tool]')) b.addEventListener('click', () => setTool(b.dataset.tool));
  $('#undo').addEventListener('click', undoLast);
  // The drafts list shows grid counts: keep it in step with every edit.
  on('operated', () => loadDrafts().catch(() => {}));
  on('undone', () => loadDrafts().catch(() => {}));
  on('opened', () => loadDrafts().catch(() => {}));
  setTool('select');
  const home = await getJSON(`/api/map/areas/${config.home.code}`);
  fitBbox(map, home.bbox, 30, false);
  await Promise.all([setupDraftPanel(), loadHistory()]);
  const wanted = new URLSearchParams(window.location.search).get('draft');
  if (wanted) await openDraft(Number(wanted));
  await idle(map);
  debug.ready = true;
  document.body.dataset.ready = '1';
}

window.addEventListener('langchange', () => relabel());
debug.getDraw = getDraw;

main().catch((err) => {
  console.error(err);
  document.body.dataset.ready = 'error';
});
