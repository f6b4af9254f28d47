// The "place me" queue: cases whose address the geocoder could not place with confidence.  The dispatcher
// drags one onto the map; the drop point becomes the case's place through the `relocate` transition.
import { getJSON, qs } from '../core/api.js';
import { categoryName, t } from '../core/i18n.js';
import { clear, fmtTime, h, toast } from '../core/util.js';
import { relocate } from './detail.js';
import { emit, on } from './state.js';

const queued = new Map(); // number → case JSON

export function setupQueue(map) {
  const wrap = document.getElementById('map-wrap');
  wrap.addEventListener('dragover', (e) => {
    if (!e.dataTransfer.types.includes('application/x-onenet-case')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    wrap.classList.add('drop-target');
  });
  wrap.addEventListener('dragleave', () => wrap.classList.remove('drop-target'));
  wrap.addEventListener('drop', async (e) => {
    wrap.classList.remove('drop-target');
    const number = e.dataTransfer.getData('application/x-onenet-case');
    if (!number || !queued.has(number)) return;
    e.preventDefault();
    // The map may be CSS-scaled (4K walls, main.js): screen pixels → the map's own pixels.
    const canvas = map.getCanvas();
    const rect = canvas.getBoundingClientRect();
    const k = rect.width / canvas.clientWidth || 1;
    const lngLat = map.unproject([(e.clientX - rect.left) / k, (e.clientY - rect.top) / k]);
    const updated = await relocate(queued.get(number), lngLat);
    if (updated && !updated.needs_placement) {
      queued.delete(number);
      render();
      toast(`${t('queue.dropped')} · ${number}`, 'ok');
    }
  });
  on('casechanged', (c) => {
    const open = !['closed', 'evaluated', 'rejected', 'merged'].includes(c.status);
    if (c.needs_placement && open) queued.set(c.number, c);
    else queued.delete(c.number);
    render();
  });
  window.addEventListener('langchange', render);
}

export async function loadQueue() {
  const r = await getJSON(`/api/cases${qs({ needs_placement: 'true', status: 'reported,registered,returned', limit: 100 })}`);
  queued.clear();
  for (const c of r.results) queued.set(c.number, c);
  render();
}

function render() {
  const list = clear(document.getElementById('queue-list'));
  document.getElementById('queue-count').textContent = String(queued.size);
  if (!queued.size) {
    list.append(h('li.muted', {}, t('queue.empty')));
    return;
  }
  for (const c of queued.values()) {
    list.append(
      h(
        'li',
        {
          draggable: 'true',
          dataset: { number: c.number },
          title: c.address || '',
          ondragstart: (e) => {
            e.dataTransfer.setData('application/x-onenet-case', c.number);
            e.dataTransfer.setData('text/plain', c.number);
            e.dataTransfer.effectAllowed = 'move';
          },
        },
        h('button.link', { type: 'button', onclick: () => emit('opencase', c.number) }, c.number),
        h('span', {}, `${categoryName(c.category, c.category_name)} · ${c.address || '—'}`),
        h('span.t', {}, fmtTime(c.reported_at)),
      ),
    );
  }
}
