// The patrol recorder (巡查轨迹): while the page is open and recording is on, a fix is kept every 30 s or
// every 25 m moved, whichever comes first — not every second — and the kept points go to the outbox in
// batches (every 10 points or 2 minutes, and when the page is hidden), each batch with its own key.
// Points not yet batched live in localStorage, so closing the page loses nothing.
import { enqueue } from './outbox.js';
import { metres, onFix, watch } from './position.js';

export const EVERY_MS = 30000;
export const EVERY_M = 25;
const BATCH_POINTS = 10;
const BATCH_MS = 120000;
const MAX_ACCURACY_M = 500; // worse fixes are noise, not a place
const BUFFER = 'onenet-field-patrol-buffer';
const SWITCH = 'onenet-field-patrol';

export const events = new EventTarget();
let buffer = load();
let last = buffer.length ? buffer[buffer.length - 1] : null;
let unsubscribe = null;
let kept = 0; // points kept since the page opened

function load() {
  try {
    return JSON.parse(localStorage.getItem(BUFFER) || '[]');
  } catch {
    return [];
  }
}

function save() {
  try {
    localStorage.setItem(BUFFER, JSON.stringify(buffer));
  } catch {
    /* storage full or private mode: the points still go out with the next batch */
  }
}

function changed() {
  events.dispatchEvent(new CustomEvent('change', { detail: { recording: recording(), buffered: buffer.length } }));
}

export function recording() {
  return unsubscribe !== null;
}

export function keptCount() {
  return kept;
}

export function buffered() {
  return buffer.slice();
}

function keep(fix) {
  if (fix.accuracy > MAX_ACCURACY_M) return;
  if (last && fix.t - last.t < EVERY_MS && metres(last, fix) < EVERY_M) return;
  const point = { lon: fix.lon, lat: fix.lat, t: fix.t, accuracy: fix.accuracy };
  last = point;
  buffer.push(point);
  kept += 1;
  save();
  events.dispatchEvent(new CustomEvent('point', { detail: point }));
  changed();
  if (buffer.length >= BATCH_POINTS) flushBuffer();
}

/** Hand the kept points to the outbox as one batch (EPSG:4326, times in epoch ms). */
export async function flushBuffer() {
  if (!buffer.length) return null;
  const points = buffer;
  buffer = [];
  save();
  changed();
  return enqueue('patrol', { crs: 'EPSG:4326', points });
}

export function start() {
  if (unsubscribe) return;
  unsubscribe = onFix(keep);
  watch();
  try {
    localStorage.setItem(SWITCH, 'on');
  } catch {
    /* ignore */
  }
  changed();
}

export function stop() {
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
  try {
    localStorage.setItem(SWITCH, 'off');
  } catch {
    /* ignore */
  }
  flushBuffer();
  changed();
}

/** Recording is on unless the worker switched it off last time; batches leave on a timer and on hide. */
export function setup() {
  setInterval(() => flushBuffer(), BATCH_MS);
  document.addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && flushBuffer());
  let wanted = 'on';
  try {
    wanted = localStorage.getItem(SWITCH) || 'on';
  } catch {
    /* ignore */
  }
  if (wanted === 'on') start();
  else changed();
  if (buffer.length) flushBuffer(); // points left from the last visit
}
