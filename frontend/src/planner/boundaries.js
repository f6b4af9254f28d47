// The boundary API (/api/boundaries/, boundaries/views.py) as the editor calls it.
import { deleteJSON, getJSON, postForm, postJSON, qs } from '../core/api.js';

const BASE = '/api/boundaries';

export const drafts = () => getJSON(`${BASE}/drafts`);
export const createDraft = (net, area, note = '') => postJSON(`${BASE}/drafts`, { net, area, note });
export const draft = (id) => getJSON(`${BASE}/drafts/${id}`);
export const grids = (id) => getJSON(`${BASE}/drafts/${id}/grids`);
export const units = (id) => getJSON(`${BASE}/drafts/${id}/units`);
export const edge = (id, a, b) => getJSON(`${BASE}/drafts/${id}/edge${qs({ grids: `${a},${b}` })}`);
export const operate = (id, body) => postJSON(`${BASE}/drafts/${id}/operations`, body);
export const trail = (id) => getJSON(`${BASE}/drafts/${id}/operations`);
export const undo = (id) => postJSON(`${BASE}/drafts/${id}/undo`, {});
export const validation = (id) => getJSON(`${BASE}/drafts/${id}/validation`);
export const impact = (id) => getJSON(`${BASE}/drafts/${id}/impact`);
export const publish = (id, note) => postJSON(`${BASE}/drafts/${id}/publish`, { note });

export const discard = (id) => deleteJSON(`${BASE}/drafts/${id}`);

// The grid drawing assistant (boundaries/proposals.py): queue a run, poll it, cancel it.
export const propose = (area, target, villageTarget) =>
  postJSON(`${BASE}/proposals`, { area, target, village_target: villageTarget });
export const proposal = (id) => getJSON(`${BASE}/proposals/${id}`);
export const cancelProposal = (id) => deleteJSON(`${BASE}/proposals/${id}`);

export function importFile(file, net, area) {
  const form = new FormData();
  form.append('file', file);
  form.append('net', net);
  form.append('area', area);
  return postForm(`${BASE}/drafts/import`, form);
}

export const generations = (net, area) => getJSON(`${BASE}/generations${qs({ net, area })}`);
export const compare = (net, area, a, b) => getJSON(`${BASE}/generations/compare${qs({ net, area, a, b })}`);
export const exportUrl = (net, area, n, format) => `${BASE}/generations/${n}/export${qs({ net, area, format })}`;
