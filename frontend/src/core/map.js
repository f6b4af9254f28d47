// The shared map core: MapLibre GL JS from npm (ESM), drawing /tiles/style.json — our own basemap,
// boundaries, grids and stations from our own vector tiles; label glyphs from our own server; nothing
// from the internet.  Both pages build on this.
import * as maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import { PROTOCOL, loadTile, routed } from './tilefetch.js';

export { maplibregl };

// Layers of the style that draw each net's grids (tiles/documents.py); the pages switch nets by filter.
const COMMUNITY_GRID_LAYERS = ['grid-outlines', 'grid-labels'];
const OVERLAY_GRID_LAYERS = ['overlay-grid-outlines'];

export function createMap(container, config, options = {}) {
  // The worker is not bundled: `npm run build` copies it to /static/vendor/maplibre-gl/.
  maplibregl.setWorkerUrl(new URL(config.workerUrl, window.location.href).href);
  maplibregl.addProtocol(PROTOCOL, loadTile);
  const map = new maplibregl.Map({
    container,
    style: new URL(config.styleUrl, window.location.href).href,
    attributionControl: { compact: true },
    // CJK ideographs drawn with the browser's local font; the server's glyphs cover digits and Latin.
    localIdeographFontFamily: "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
    fadeDuration: 0,
    // Our tiles go through the retrying loader (core/tilefetch.js) while the browser is online; offline
    // nothing is worth retrying, and MapLibre's own request reads the field page's cached tiles.
    transformRequest: (url, kind) => (kind === 'Tile' && navigator.onLine ? { url: routed(url) } : { url }),
    ...options,
  });
  // MapLibre logs a failed tile as the minified name of its error class: say what failed instead (and
  // as a warning: a tile missing while offline or under load is not a broken page).
  map.on('error', (e) => {
    const err = e.error || {};
    const where = e.sourceId ? `source ${e.sourceId}` : 'map';
    const status = err.status ? ` HTTP ${err.status}` : '';
    const url = err.url ? ` ${err.url}` : '';
    console.warn(`map: ${where} failed${status}${url}: ${err.message || err.name || String(err)}`);
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'bottom-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  // The compact attribution starts folded: on a phone it would cover a fifth of the map.
  map.once('load', () => document.querySelector('.maplibregl-ctrl-attrib')?.classList.remove('maplibregl-compact-show'));
  return map;
}

export function loaded(map) {
  return new Promise((resolve) => (map.loaded() ? resolve(map) : map.once('load', () => resolve(map))));
}

/** Resolves at MapLibre's next `idle` (everything loaded and drawn); a repaint is forced so that an
 *  already idle map answers too instead of waiting for the next change. */
export function idle(map) {
  return new Promise((resolve) => {
    map.once('idle', () => resolve(map));
    map.triggerRepaint();
  });
}

/** Show only the grids of `enabled` nets (多网合一: one point falls in one grid of each net). */
export function setNets(map, nets, enabled) {
  const community = nets.filter((n) => n.follows_communities && enabled.has(n.code)).map((n) => n.code);
  const overlay = nets.filter((n) => !n.follows_communities && enabled.has(n.code)).map((n) => n.code);
  const apply = (ids, codes) => {
    for (const id of ids) {
      if (!map.getLayer(id)) continue;
      map.setFilter(id, ['in', ['get', 'net'], ['literal', codes]]);
      map.setLayoutProperty(id, 'visibility', codes.length ? 'visible' : 'none');
    }
  };
  apply(COMMUNITY_GRID_LAYERS, community);
  apply(OVERLAY_GRID_LAYERS, overlay);
}

export function setVisible(map, ids, visible) {
  for (const id of ids) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
}

export function fitBbox(map, bbox, padding = 40, animate = true) {
  if (!bbox) return;
  map.fitBounds(
    [
      [bbox[0], bbox[1]],
      [bbox[2], bbox[3]],
    ],
    { padding, duration: animate ? 600 : 0, maxZoom: 17 },
  );
}

/** Start on `area`'s populated box (the API's `populated_bbox`), filling the map: where the box and
 *  the screen differ in shape (a wide city on a tall phone) its longer side may run off screen by up to
 *  one zoom level rather than leave half the map an empty margin. */
export function startOn(map, area, padding = 20) {
  const b = area?.populated_bbox || area?.bbox;
  if (!b) return;
  const fit = map.cameraForBounds(
    [
      [b[0], b[1]],
      [b[2], b[3]],
    ],
    { padding },
  );
  if (!fit) return;
  const sw = maplibregl.MercatorCoordinate.fromLngLat([b[0], b[1]]);
  const ne = maplibregl.MercatorCoordinate.fromLngLat([b[2], b[3]]);
  const box = (ne.x - sw.x) / Math.max(sw.y - ne.y, 1e-12);
  const canvas = map.getContainer();
  const screen = canvas.clientWidth / Math.max(canvas.clientHeight, 1);
  const fill = Math.min(Math.abs(Math.log2(box / screen)), 1);
  map.jumpTo({ center: fit.center, zoom: fit.zoom + fill });
}

/** A GeoJSON source + outline and fill layers for the selected area (drill-down, "my grid"). */
export function addSelection(map, id, colour = '#1971c2') {
  map.addSource(id, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({
    id: `${id}-fill`,
    type: 'fill',
    source: id,
    paint: { 'fill-color': colour, 'fill-opacity': 0.06 },
  });
  map.addLayer({
    id: `${id}-line`,
    type: 'line',
    source: id,
    paint: { 'line-color': colour, 'line-width': 3.5, 'line-opacity': 0.9 },
  });
  return (geometry) =>
    map.getSource(id).setData(
      geometry ? { type: 'Feature', geometry, properties: {} } : { type: 'FeatureCollection', features: [] },
    );
}
