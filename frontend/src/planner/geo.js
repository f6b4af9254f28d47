// Plane geometry on lon/lat for picking which grid a drawn line is meant for; the server does the
// real geometry (boundaries/operations.py), so nothing here has to be exact to the millimetre.

function inRing(x, y, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether [x, y] lies in a GeoJSON Polygon or MultiPolygon (holes honoured). */
export function contains(geometry, [x, y]) {
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  return polys.some((rings) => inRing(x, y, rings[0]) && !rings.slice(1).some((r) => inRing(x, y, r)));
}

/** Points along a line (every segment's middle and the vertices between them). */
export function samples(coords) {
  const out = [];
  for (let i = 1; i < coords.length; i++) {
    const [a, b] = [coords[i - 1], coords[i]];
    for (const t of [0.25, 0.5, 0.75]) out.push([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
  }
  return out;
}

/** The feature most of the line's sample points fall in: the grid a split line is drawn across. */
export function mostCrossed(features, coords) {
  const pts = samples(coords);
  let best = null;
  let count = 0;
  for (const f of features) {
    const n = pts.filter((p) => contains(f.geometry, p)).length;
    if (n > count) [best, count] = [f, n];
  }
  return best;
}
