// Live updates: /api/cases/stream (Server-Sent Events from PostgreSQL LISTEN, already filtered to the
// user's jurisdiction) → fetch the case → map, feed, queue, drawer; a flash and a tone for emergencies.
// EventSource reconnects by itself (the server sends `retry: 3000`).
import { getJSON } from '../core/api.js';
import { categoryName, t } from '../core/i18n.js';
import { clear, fmtTime, h } from '../core/util.js';
import { upsertCase } from './casesLayer.js';
import { emit } from './state.js';

const seen = new Map(); // number → last version applied
const pending = new Map(); // number → version waiting to be fetched
let running = 0;
const MAX_PARALLEL = 4;
const FEED_MAX = 60;
let audio = null;
let soundOn = true;

export function startLive() {
  const dot = document.querySelector('#feed .live-dot');
  const source = new EventSource('/api/cases/stream');
  let opened = 0;
  source.addEventListener('open', () => {
    dot?.classList.add('on');
    // A reconnection may have missed changes while the stream was down: catch up from the APIs.
    if (opened++ > 0) emit('resync');
  });
  source.addEventListener('error', () => dot?.classList.remove('on'));
  source.addEventListener('case', (e) => {
    let p;
    try {
      p = JSON.parse(e.data);
    } catch {
      return;
    }
    if ((seen.get(p.number) || 0) >= p.version) return;
    pending.set(p.number, Math.max(p.version, pending.get(p.number) || 0));
    drain();
  });
  setupSound();
  return source;
}

async function drain() {
  while (running < MAX_PARALLEL && pending.size) {
    const [number, version] = pending.entries().next().value;
    pending.delete(number);
    running++;
    fetchCase(number, version).finally(() => {
      running--;
      drain();
    });
  }
}

async function fetchCase(number, version) {
  let c;
  try {
    c = await getJSON(`/api/cases/${encodeURIComponent(number)}`);
  } catch {
    return; // gone, or not ours to see any more
  }
  const isNew = !seen.has(number) && version <= 1;
  seen.set(number, Math.max(version, c.version));
  upsertCase(c, true);
  addToFeed(c, isNew);
  if (c.severity === 'emergency' && !['closed', 'evaluated', 'rejected', 'merged'].includes(c.status)) alarm(c);
  emit('casechanged', c);
}

// The feed keeps what it was told (case, new or changed, when) so that a language switch redraws it.
const feed = [];

function addToFeed(c, isNew) {
  const at = new Date().toISOString();
  const i = feed.findIndex((e) => e.c.number === c.number);
  if (i >= 0) feed.splice(i, 1);
  feed.unshift({ c, isNew, at });
  feed.length = Math.min(feed.length, FEED_MAX);
  renderFeed();
}

function feedEntry({ c, isNew, at }) {
  return h(
    `li.new${c.severity === 'emergency' ? '.emergency' : ''}`,
    { dataset: { number: c.number } },
    h('span.t', {}, fmtTime(at, false)),
    h('i', { className: `dot ${c.light || 'green'}` }),
    h('button.link', { type: 'button', onclick: () => emit('opencase', c.number) }, c.number),
    h('span', {}, `${categoryName(c.category, c.category_name)} · ${t(`st.${c.status}`)}`),
    h('span.t', {}, isNew ? t('feed.new') : t('feed.changed')),
  );
}

function renderFeed() {
  const list = document.getElementById('feed-list');
  if (!feed.length) return; // the template's "waiting for new cases" stays
  list.replaceChildren(...feed.map(feedEntry));
}

window.addEventListener('langchange', renderFeed);

// ---------------------------------------------------------------------------------------- alarm
function setupSound() {
  const btn = document.getElementById('sound-toggle');
  const render = () => (btn.textContent = soundOn ? t('sound.on') : t('sound.off'));
  btn.addEventListener('click', () => {
    soundOn = !soundOn;
    render();
  });
  window.addEventListener('langchange', render);
  render();
  // Browsers start audio only after a user gesture: the first click on the screen unlocks it.
  const unlock = () => {
    try {
      audio = audio || new AudioContext();
      audio.resume();
    } catch {
      audio = null;
    }
  };
  window.addEventListener('pointerdown', unlock, { once: true });
}

function beep() {
  if (!soundOn || !audio || audio.state !== 'running') return;
  const now = audio.currentTime;
  for (let i = 0; i < 3; i++) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, now + i * 0.35);
    gain.gain.exponentialRampToValueAtTime(0.3, now + i * 0.35 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.35 + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + i * 0.35);
    osc.stop(now + i * 0.35 + 0.3);
  }
}

let flashTimer = null;
function alarm(c) {
  const flash = document.getElementById('flash');
  const text = flash.querySelector('.flash-text');
  clear(text).append(`${t('alert.emergency')} · ${c.number} · ${categoryName(c.category, c.category_name)}`);
  flash.hidden = false;
  // Restart the CSS animation for back-to-back emergencies.
  flash.style.animation = 'none';
  void flash.offsetWidth;
  flash.style.animation = '';
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => (flash.hidden = true), 3500);
  beep();
}
