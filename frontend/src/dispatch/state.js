// The big screen's shared state: the selected area and the open case, with change events that the
// breadcrumb, the panels, the case layer and the drawer listen to.
export const state = {
  config: null,
  map: null,
  area: null, // the /api/map/areas/<code> answer of the selection
  caseNumber: null, // the case open in the drawer
  placing: null, // a function(lngLat) while the dispatcher is placing a case by clicking
};

export const bus = new EventTarget();

export function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}

export function on(type, fn) {
  bus.addEventListener(type, (e) => fn(e.detail));
}

/** The area code to filter APIs by: '' for the root (the whole jurisdiction). */
export function areaCode() {
  const a = state.area;
  if (!a || a.level === 'city') return '';
  return a.code;
}
