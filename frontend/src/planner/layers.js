// What the editor draws over our basemap: the draft's grids coloured by household load against their
// target, the community lines (always, at every zoom: no grid may cross them), the selection, the
// validation problems (areas and points) and the comparison of two generations.
import { fitBbox } from '../core/map.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
// The style's own grid layers show the generation in force; over a draft they would only confuse.
const PUBLISHED_GRID_LAYERS = ['grid-outlines', 'grid-labels', 'overlay-grid-outlines'];
// Points a planner does not draw boundaries by: cases, party organisations, stations (the impact panel
// counts what moves); buildings stay, since households are what grids are sized by.
const HIDDEN = [
  'case-clusters', 'case-cluster-counts', 'cases', 'case-labels', 'party-clusters', 'party-organisations',
  'station-clusters', 'station-cluster-counts', 'stations', 'station-labels',
];

/** households ÷ target → a band the fill colour follows (−1: no target, e.g. a dedicated grid). */
export function loadBand(p) {
  if (!p.target_households) return -1;
  return p.households / p.target_households;
}

export function addPlannerLayers(map) {
  const font = map.getLayoutProperty('grid-labels', 'text-font') || ['WenQuanYi Micro Hei Regular'];
  for (const id of HIDDEN) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', 'none');
  for (const id of ['draft-grids', 'draft-label-points', 'units', 'issues', 'compare']) map.addSource(id, { type: 'geojson', data: EMPTY });
  map.addLayer({
    id: 'draft-fill',
    type: 'fill',
    source: 'draft-grids',
    paint: {
      'fill-color': [
        'case',
        ['<', ['get', 'load'], 0], '#dee2e6',
        ['<', ['get', 'load'], 0.5], '#74c0fc',
        ['<', ['get', 'load'], 0.8], '#c5f6fa',
        ['<=', ['get', 'load'], 1.2], '#8ce99a',
        ['<=', ['get', 'load'], 1.5], '#ffd43b',
        '#ff6b6b',
      ],
      'fill-opacity': 0.45,
    },
  });
  map.addLayer({
    id: 'draft-outline',
    type: 'line',
    source: 'draft-grids',
    paint: {
      'line-color': ['case', ['get', 'new'], '#0b7285', ['get', 'changed'], '#d9480f', '#343a40'],
      'line-width': ['case', ['any', ['get', 'new'], ['get', 'changed']], 2.2, 1.2],
    },
  });
  map.addLayer({
    id: 'draft-selected',
    type: 'line',
    source: 'draft-grids',
    filter: ['in', ['get', 'code'], ['literal', []]],
    paint: { 'line-color': '#1c7ed6', 'line-width': 4 },
  });
  map.addLayer({
    id: 'unit-lines',
    type: 'line',
    source: 'units',
    paint: { 'line-color': '#6741d9', 'line-width': 3, 'line-dasharray': [3, 2] },
  });
  map.addLayer({
    id: 'compare-lines',
    type: 'line',
    source: 'compare',
    paint: {
      'line-color': ['match', ['get', 'side'], 'a', '#e8590c', '#1c7ed6'],
      'line-width': ['match', ['get', 'side'], 'a', 5, 2.5],
      'line-dasharray': ['match', ['get', 'side'], 'a', ['literal', [1, 0]], ['literal', [2, 1]]],
    },
  });
  // Below the issue markers, so that MapLibre places the markers first and a label that would cover
  // one is left out (symbol collision); under zoom 14 only the sequence, the load from 14 on.
  map.addLayer({
    id: 'draft-labels',
    type: 'symbol',
    source: 'draft-label-points',
    minzoom: 13,
    layout: {
      'text-field': [
        'step', ['zoom'],
        ['get', 'label'],
        14, ['format', ['get', 'label'], { 'font-scale': 1.1 }, '\n', {}, ['get', 'loadText'], { 'font-scale': 0.85 }],
      ],
      'text-font': font,
      'text-size': 12,
    },
    paint: { 'text-color': '#1b3a5c', 'text-halo-color': '#fff', 'text-halo-width': 1.4 },
  });
  map.addLayer({
    id: 'issue-areas',
    type: 'fill',
    source: 'issues',
    filter: ['!=', ['geometry-type'], 'Point'],
    paint: { 'fill-color': '#e03131', 'fill-opacity': 0.55, 'fill-outline-color': '#c92a2a' },
  });
  map.addLayer({
    id: 'issue-area-lines',
    type: 'line',
    source: 'issues',
    filter: ['!=', ['geometry-type'], 'Point'],
    paint: { 'line-color': '#c92a2a', 'line-width': 2 },
  });
  map.addLayer({
    id: 'issue-points',
    type: 'circle',
    source: 'issues',
    filter: ['==', ['geometry-type'], 'Point'],
    paint: {
      'circle-radius': 9,
      'circle-color': ['match', ['get', 'severity'], 'warning', '#f59f00', '#e03131'],
      'circle-stroke-color': '#fff',
      'circle-stroke-width': 2,
    },
  });
  map.addLayer({
    id: 'issue-labels',
    type: 'symbol',
    source: 'issues',
    filter: ['==', ['geometry-type'], 'Point'],
    layout: {
      'text-field': ['to-string', ['get', 'n']],
      'text-font': font,
      'text-size': 11,
      'text-allow-overlap': true, // a marker always shows its number ...
      'text-padding': 6, // ... and keeps its whole circle (radius 11) clear of labels
    },
    paint: { 'text-color': '#fff' },
  });
}

export function showPublishedGrids(map, visible) {
  for (const id of PUBLISHED_GRID_LAYERS) {
    if (!map.getLayer(id)) continue;
    // Overlay nets stay as the nets toggles of other pages leave them: hidden here.
    const on = visible && id !== 'overlay-grid-outlines';
    map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
  }
}

export function setGrids(map, fc) {
  for (const f of fc.features) {
    const p = f.properties;
    p.load = loadBand(p);
    // The sequence is what tells grids of one community apart; overlay codes are short anyway.
    p.label = p.code.length === 15 ? p.code.slice(12) : p.code;
    p.loadText = p.target_households ? `${p.households}/${p.target_households}` : `${p.households}`;
  }
  map.getSource('draft-grids').setData(fc);
  const labels = fc.features
    .filter((f) => f.properties.label_at)
    .map((f) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: f.properties.label_at }, properties: f.properties }));
  map.getSource('draft-label-points').setData({ type: 'FeatureCollection', features: labels });
}

export function setUnits(map, fc) {
  map.getSource('units').setData(fc);
}

export function setSelection(map, codes) {
  map.setFilter('draft-selected', ['in', ['get', 'code'], ['literal', codes]]);
}

/** Validation issues (and a refused operation's place) as map features: areas where the server sent
 *  one (gaps, overlaps, parts outside the community), points numbered as in the list. */
export function setIssues(map, issues) {
  const features = [];
  issues.forEach((issue, i) => {
    const props = { n: i + 1, check: issue.check, severity: issue.severity || 'error' };
    if (issue.geometry) features.push({ type: 'Feature', geometry: issue.geometry, properties: props });
    if (issue.at) features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: issue.at }, properties: props });
  });
  map.getSource('issues').setData({ type: 'FeatureCollection', features });
}

export function setCompare(map, fc) {
  map.getSource('compare').setData(fc || EMPTY);
}

export function bboxOf(fc) {
  let b = null;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      if (!b) b = [c[0], c[1], c[0], c[1]];
      else b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
    } else c.forEach(visit);
  };
  for (const f of fc.features) if (f.geometry) visit(f.geometry.coordinates);
  return b;
}

export function fitTo(map, fc, animate = true) {
  const b = bboxOf(fc);
  if (b) fitBbox(map, b, 40, animate);
}

/** The draft grid under a screen point (queried on the rendered fill). */
export function gridAt(map, point) {
  const hit = map.queryRenderedFeatures(point, { layers: ['draft-fill'] })[0];
  return hit ? hit.properties.code : null;
}
