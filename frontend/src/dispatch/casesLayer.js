// Open cases on the map, coloured by progress light and clustered at low zoom (in the browser: the open
// set of a Daqing-scale city is ~11,000 points), plus a short highlight for cases that just arrived or
// changed.  Finished cases drop out; the full history stays available as the style's case tiles.
import { getJSON } from '../core/api.js';
import { emit, state } from './state.js';

const SOURCE = 'open-cases';
const FLASH = 'case-flash';
const LIGHT_COLOUR = ['match', ['get', 'light'], 'red', '#e03131', 'yellow', '#f59f00', '#2f9e44'];
const FINAL = new Set(['closed', 'evaluated', 'rejected', 'merged']);

const features = new Map(); // number → GeoJSON feature
let flashes = []; // {feature, until}
let pushTimer = null;

export function caseCount() {
  return features.size;
}

export function hasCase(number) {
  return features.has(number);
}

function push() {
  // Re-clustering 10k points costs the worker a few ms; batch bursts of updates into one setData.
  if (pushTimer) return;
  pushTimer = setTimeout(() => {
    pushTimer = null;
    const src = state.map.getSource(SOURCE);
    if (src) src.setData({ type: 'FeatureCollection', features: Array.from(features.values()) });
  }, 150);
}

export function addCasesLayer(map, font) {
  map.addSource(SOURCE, {
    type: 'geojson',
    data: { type: 'FeatureCollection', features: [] },
    cluster: true,
    clusterRadius: 45,
    clusterMaxZoom: 13,
    clusterProperties: {
      red: ['+', ['case', ['==', ['get', 'light'], 'red'], 1, 0]],
      yellow: ['+', ['case', ['==', ['get', 'light'], 'yellow'], 1, 0]],
      emergency: ['+', ['case', ['==', ['get', 'severity'], 'emergency'], 1, 0]],
    },
  });
  map.addSource(FLASH, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({
    id: 'open-case-clusters',
    type: 'circle',
    source: SOURCE,
    filter: ['has', 'point_count'],
    paint: {
      'circle-color': ['case', ['>', ['get', 'red'], 0], '#e03131', ['>', ['get', 'yellow'], 0], '#f59f00', '#2f9e44'],
      'circle-opacity': 0.85,
      'circle-radius': ['interpolate', ['linear'], ['get', 'point_count'], 2, 11, 50, 18, 500, 26, 5000, 36],
      'circle-stroke-color': ['case', ['>', ['get', 'emergency'], 0], '#c2255c', '#ffffff'],
      'circle-stroke-width': ['case', ['>', ['get', 'emergency'], 0], 3, 1.5],
    },
  });
  map.addLayer({
    id: 'open-case-cluster-count',
    type: 'symbol',
    source: SOURCE,
    filter: ['has', 'point_count'],
    layout: {
      'text-field': ['get', 'point_count_abbreviated'],
      'text-font': font,
      'text-size': 12,
      'text-allow-overlap': true,
    },
    paint: { 'text-color': '#ffffff' },
  });
  map.addLayer({
    id: 'open-cases',
    type: 'circle',
    source: SOURCE,
    filter: ['!', ['has', 'point_count']],
    paint: {
      'circle-color': LIGHT_COLOUR,
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 5, 17, 9],
      'circle-stroke-color': ['case', ['==', ['get', 'severity'], 'emergency'], '#c2255c', '#ffffff'],
      'circle-stroke-width': ['case', ['==', ['get', 'severity'], 'emergency'], 3, 1.5],
    },
  });
  map.addLayer({
    id: 'case-flash',
    type: 'circle',
    source: FLASH,
    paint: {
      'circle-color': 'rgba(0,0,0,0)',
      'circle-radius': 14,
      'circle-stroke-color': ['case', ['==', ['get', 'severity'], 'emergency'], '#c2255c', '#ffd43b'],
      'circle-stroke-width': 4,
    },
  });
  map.on('click', 'open-case-clusters', async (e) => {
    const f = e.features[0];
    const zoom = await map.getSource(SOURCE).getClusterExpansionZoom(f.properties.cluster_id);
    map.easeTo({ center: f.geometry.coordinates, zoom: Math.min(zoom + 0.5, 18) });
  });
  map.on('click', 'open-cases', (e) => emit('opencase', e.features[0].properties.number));
  for (const id of ['open-case-clusters', 'open-cases']) {
    map.on('mouseenter', id, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', id, () => (map.getCanvas().style.cursor = ''));
  }
  animateFlashes(map);
}

export async function loadCases() {
  const fc = await getJSON('/api/map/cases.geojson');
  features.clear();
  for (const f of fc.features) features.set(f.properties.number, f);
  push();
  return features.size;
}

/** Put a case (the API's case JSON) on the map, move it, or take it off when finished or unplaced. */
export function upsertCase(c, highlight = false) {
  if (FINAL.has(c.status) || c.lon === null || c.lat === null || c.needs_placement) {
    if (features.delete(c.number)) push();
  } else {
    features.set(c.number, {
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [c.lon, c.lat] },
      properties: {
        number: c.number,
        status: c.status,
        severity: c.severity,
        category: c.category,
        category_name: c.category_name,
        grid_code: c.grid_code,
        light: c.light || 'green',
      },
    });
    push();
  }
  if (highlight && c.lon !== null && c.lat !== null) {
    flashes.push({
      until: performance.now() + 5000,
      feature: {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [c.lon, c.lat] },
        properties: { severity: c.severity },
      },
    });
    updateFlashSource();
  }
}

function updateFlashSource() {
  const now = performance.now();
  flashes = flashes.filter((f) => f.until > now);
  const src = state.map.getSource(FLASH);
  if (src) src.setData({ type: 'FeatureCollection', features: flashes.map((f) => f.feature) });
}

function animateFlashes(map) {
  // A pulsing ring for a few seconds: only repaints while something is highlighted.
  const tick = () => {
    if (flashes.length) {
      const phase = (performance.now() % 1000) / 1000;
      map.setPaintProperty('case-flash', 'circle-radius', 10 + 18 * phase);
      map.setPaintProperty('case-flash', 'circle-stroke-opacity', 1 - phase);
      if (flashes.some((f) => f.until <= performance.now())) updateFlashSource();
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
