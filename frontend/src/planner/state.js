// The editor's state and a tiny event bus: the draft open, its grids, the selection, the tool.
export const state = {
  config: null,
  map: null,
  draft: null, // the API's description of the open draft
  grids: { type: 'FeatureCollection', features: [] },
  units: { type: 'FeatureCollection', features: [] },
  validation: null,
  selected: [], // grid codes, in click order
  tool: 'select',
  busy: false,
};

const listeners = {};

export function on(event, fn) {
  (listeners[event] ||= []).push(fn);
}

export function emit(event, detail) {
  for (const fn of listeners[event] || []) fn(detail);
}

/** Whether the open draft may still change (published and discarded drafts are read-only). */
export function editable() {
  return Boolean(state.draft) && !['published', 'discarded'].includes(state.draft.status);
}

export function gridByCode(code) {
  return state.grids.features.find((f) => f.properties.code === code) || null;
}
