// Small DOM and formatting helpers shared by both pages (no framework: the pages are a map and panels).
import { getLang } from './i18n.js';

export function $(sel, root = document) {
  return root.querySelector(sel);
}

export function $$(sel, root = document) {
  return Array.from(root.querySelectorAll(sel));
}

/** h('div.card#id', {onclick}, child, 'text'): a tiny element builder that never parses HTML strings. */
export function h(tag, attrs, ...children) {
  const [head, id] = tag.split('#');
  const [name, ...classes] = head.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (id) el.id = id;
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function fmtInt(n) {
  if (n === null || n === undefined) return '—';
  return Number(n).toLocaleString(getLang() === 'en' ? 'en-US' : 'zh-CN');
}

export function fmtPct(r) {
  if (r === null || r === undefined) return '—';
  return `${(r * 100).toFixed(1)}%`;
}

export function fmtTime(iso, withDate = true) {
  if (!iso) return '—';
  const d = new Date(iso);
  const pad = (x) => String(x).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}` : time;
}

export function fmtDistance(m) {
  if (m === null || m === undefined) return '—';
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function readConfig() {
  const el = document.getElementById('onenet-config');
  return el ? JSON.parse(el.textContent) : {};
}

export function toast(message, kind = 'info', ms = 3500) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const item = h(`div.toast.${kind}`, {}, message);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}
