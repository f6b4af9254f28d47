// The phone's position: one watch for the whole page (the patrol recorder, "nearest first", the check-in
// and the report all read it).  Browsers report WGS84, so every fix says `crs: 'EPSG:4326'` and the server
// converts (a phone app that got GCJ-02 from a domestic SDK would say GCJ02 instead).
const listeners = new Set();
let watchId = null;
export let current = null; // {lon, lat, accuracy, t, crs}

function toFix(pos) {
  return {
    lon: pos.coords.longitude,
    lat: pos.coords.latitude,
    accuracy: Math.round(pos.coords.accuracy * 10) / 10,
    t: pos.timestamp || Date.now(),
    crs: 'EPSG:4326',
  };
}

function publish(fix) {
  current = fix;
  for (const fn of listeners) fn(fix);
}

export function onFix(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function watch() {
  if (watchId !== null || !navigator.geolocation) return;
  watchId = navigator.geolocation.watchPosition(
    (pos) => publish(toFix(pos)),
    () => {},
    { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 },
  );
}

/** A fix no older than `maxAge` ms (a fresh one for a check-in). */
export function fresh(maxAge = 0, timeout = 15000) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(new Error('geolocation unavailable'));
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const fix = toFix(pos);
        publish(fix);
        resolve(fix);
      },
      (err) => reject(new Error(err.message || 'geolocation failed')),
      { enableHighAccuracy: true, maximumAge: maxAge, timeout },
    );
  });
}

/** The watch's fix if it is younger than `maxAge` ms, else a new one; if the phone cannot give a new one
 *  in time, a fix of the last five minutes still says where the worker is. */
export async function recent(maxAge = 30000) {
  if (current && Date.now() - current.t <= maxAge) return current;
  try {
    return await fresh(maxAge, 10000);
  } catch (err) {
    if (current && Date.now() - current.t <= 300000) return current;
    throw err;
  }
}

/** Metres between two fixes (haversine; enough for "moved 25 m"). */
export function metres(a, b) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(s));
}
