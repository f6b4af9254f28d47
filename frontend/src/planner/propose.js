// The grid drawing assistant (网格划分助手) in the planner: propose comprehensive grids along the roads of
// the area chosen in the draft panel, sized by households; the run is a background job on the server
// (boundaries/proposals.py) shown with a progress bar and a cancel button, and its result is a draft
// opened like any other (households against target on the map, edit, validate, impact, publish).
import { pick, t } from '../core/i18n.js';
import { $, toast } from '../core/util.js';
import * as api from './boundaries.js';
import { openDraft } from './editor.js';
import { areaCode, loadDrafts } from './panels.js';

const FINISHED = ['done', 'failed', 'cancelled'];
const POLL_MS = 400;
let running = null;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function show(p) {
  const box = $('#propose-run');
  box.hidden = false;
  box.dataset.status = p.status;
  $('#propose-send').disabled = !FINISHED.includes(p.status);
  $('#propose-cancel').disabled = FINISHED.includes(p.status);
  const bar = $('#propose-bar');
  bar.value = p.progress;
  $('#propose-text').textContent = t(`pl.proposal.${p.status}`, { done: p.done, total: p.total });
}

async function track(p) {
  running = p;
  show(p);
  while (!FINISHED.includes(running.status)) {
    await sleep(POLL_MS);
    try {
      running = (await api.proposal(running.id)).proposal;
    } catch (err) {
      if (err.status && err.status < 500) throw err;
      continue; // a busy server or a dropped connection: ask again
    }
    show(running);
  }
  const finished = running;
  running = null;
  if (finished.status === 'done') {
    const s = finished.summary || {};
    toast(t('pl.proposed', { n: s.grids ?? 0, within: s.within_20pct ?? 0, id: finished.draft }), 'ok', 6000);
    await openDraft(finished.draft);
    await loadDrafts();
  } else if (finished.status === 'failed') {
    toast(finished.error?.error ? pick(finished.error.error) : t('pl.proposal.failed'), 'error', 8000);
  }
}

export function setupPropose() {
  $('#propose-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (running) return;
    try {
      const { proposal } = await api.propose(
        areaCode(),
        Number($('#propose-target').value),
        Number($('#propose-village').value),
      );
      await track(proposal);
    } catch (err) {
      running = null;
      $('#propose-send').disabled = false;
      toast(err.message, 'error', 6000);
    }
  });
  $('#propose-cancel').addEventListener('click', async () => {
    if (!running) return;
    try {
      show((await api.cancelProposal(running.id)).proposal);
    } catch (err) {
      toast(err.message, 'error'); // finished meanwhile: the poll shows how
    }
  });
}
