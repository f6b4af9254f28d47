// My cases: the open cases in (or assigned to) my grid and my own open reports, nearest first, and what I
// may do with each — exactly the transitions the case API lists for me (签收, 处置反馈 with photos, 核查结案,
// 现场处置 …), sent through /api/cases/{number}/transitions with the version I saw.  Handling needs the
// network (a case may have moved on meanwhile); reports and check-ins do not.
import { postForm, postJSON } from '../core/api.js';
import { categoryName, t } from '../core/i18n.js';
import { $, clear, fmtDistance, fmtTime, h, toast } from '../core/util.js';
import { compress } from './photo.js';
import { current } from './position.js';

// What each transition asks for on the phone; `photo` adds a photo input whose pictures are uploaded as
// attachments first and named in the transition.
const FORMS = {
  handle: [['result', 'textarea'], ['photo']],
  resolve_on_spot: [['result', 'textarea'], ['photo']],
  close: [['photo']],
  comment: [['comment', 'textarea'], ['photo']],
  return: [['reason', 'textarea']],
  escalate: [['reason', 'textarea']],
  request_extension: [['reason', 'textarea'], ['hours', 'number']],
};
const LABEL = { result: 'field.result', reason: 'field.reason', comment: 'field.comment', hours: 'field.hours' };

let ctx = null; // {map, reload, focus}
let cases = [];
let openNumber = null;

export function setupCases(options) {
  ctx = options;
}

export function renderCases(list) {
  cases = list || [];
  $('#cases-count').textContent = String(cases.length);
  const ol = clear($('#case-list'));
  if (!cases.length) ol.append(h('li.muted', {}, t('field.noCases')));
  for (const c of cases) {
    ol.append(
      h(
        'li.case',
        { dataset: { number: c.number }, onclick: () => openCase(c.number) },
        h(`i.dot.${c.light || 'green'}`, {}),
        h(
          'div.main',
          {},
          h('div.title', {}, h('b', {}, categoryName(c.category, c.category_name)), ' ', h('span.tag', {}, t(`st.${c.status}`))),
          h('div.meta', {}, c.number, ' · ', c.address || c.description.slice(0, 24)),
        ),
        h('div.dist', {}, c.distance_m !== null ? fmtDistance(c.distance_m) : ''),
      ),
    );
  }
  if (openNumber) {
    const still = cases.find((c) => c.number === openNumber);
    if (still) showDetail(still);
    else closeDetail();
  }
}

export function openCase(number) {
  const c = cases.find((x) => x.number === number);
  if (!c) return;
  openNumber = number;
  showDetail(c);
  ctx.focus(c);
}

function closeDetail() {
  openNumber = null;
  $('#case-detail').hidden = true;
  $('#case-list').hidden = false;
}

function row(label, value) {
  return value ? h('div.kv', {}, h('span.k', {}, label), h('span.v', {}, value)) : null;
}

function showDetail(c) {
  $('#case-list').hidden = true;
  const box = clear($('#case-detail'));
  box.hidden = false;
  box.append(
    h('button.link', { type: 'button', onclick: closeDetail }, `← ${t('field.back')}`),
    h(
      'div.card#case-card',
      { dataset: { number: c.number, status: c.status } },
      h('h3', {}, `${categoryName(c.category, c.category_name)} · ${t(`st.${c.status}`)}`),
      row(t('case.number'), c.number),
      row(t('case.address'), c.address),
      row(t('case.description'), c.description),
      row(t('case.reported'), fmtTime(c.reported_at)),
      row(t('case.deadline'), c.deadline ? fmtTime(c.deadline) : ''),
      row(t('field.distance'), c.distance_m !== null ? fmtDistance(c.distance_m) : ''),
      row(t('case.result'), c.result),
    ),
  );
  const actions = h('div.actions');
  for (const name of c.transitions) {
    actions.append(h('button.secondary', { type: 'button', dataset: { transition: name }, onclick: () => showForm(c, name) }, t(`t.${name}`)));
  }
  if (!c.transitions.length) actions.append(h('p.muted', {}, t('case.noActions')));
  box.append(actions, h('div#transition-form'));
}

function showForm(c, name) {
  const fields = FORMS[name] || [];
  const form = h('form.card#t-form', { dataset: { transition: name } }, h('h3', {}, t(`t.${name}`)));
  for (const [field, kind] of fields) {
    if (field === 'photo') {
      form.append(h('label', {}, h('span', {}, t('field.addPhoto')), h('input', { type: 'file', name: 'photo', accept: 'image/*', capture: 'environment', multiple: true })));
    } else if (kind === 'textarea') {
      const ph = field === 'result' ? t('field.resultPh') : '';
      form.append(h('label', {}, h('span', {}, t(LABEL[field])), h('textarea', { name: field, rows: 2, maxlength: 2000, required: true, placeholder: ph })));
    } else {
      form.append(h('label', {}, h('span', {}, t(LABEL[field])), h('input', { type: 'number', name: field, min: 1, max: 240, required: true })));
    }
  }
  const submit = h('button', { type: 'submit' }, t(`t.${name}`));
  form.append(h('div.row', {}, submit));
  if (name === 'handle') {
    // 处置反馈 and, where the table lets this worker check it too (their own grid), 核查结案 in one go.
    form.append(h('button.secondary.wide', { type: 'button', id: 'handle-close', onclick: () => act(c, name, form, true) }, t('field.handleClose')));
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(c, name, form, false);
  });
  const slot = clear($('#transition-form'));
  slot.append(form);
  if (!fields.length) act(c, name, form, false); // 签收 and the like need nothing more
  else form.scrollIntoView({ block: 'nearest' });
}

async function uploadPhotos(number, input) {
  const ids = [];
  for (const file of Array.from(input?.files || [])) {
    const { blob } = await compress(file);
    const data = new FormData();
    data.set('file', blob, 'photo.jpg');
    const att = await postForm(`/api/cases/${encodeURIComponent(number)}/attachments`, data);
    ids.push(att.id);
  }
  return ids;
}

async function transition(c, name, payload) {
  const where = current ? { actor_location: { lon: current.lon, lat: current.lat, crs: current.crs } } : {};
  return postJSON(`/api/cases/${encodeURIComponent(c.number)}/transitions`, { transition: name, version: c.version, ...where, ...payload });
}

async function act(c, name, form, thenClose) {
  if (!navigator.onLine) return toast(t('field.needOnline'), 'error');
  const payload = {};
  for (const el of form.querySelectorAll('textarea, input[type=number]')) {
    if (!el.value.trim()) return el.focus();
    payload[el.name] = el.type === 'number' ? Number(el.value) : el.value.trim();
  }
  const buttons = form.querySelectorAll('button');
  buttons.forEach((b) => (b.disabled = true));
  try {
    const ids = await uploadPhotos(c.number, form.querySelector('input[type=file]'));
    if (ids.length) payload.attachments = ids;
    let after = await transition(c, name, payload);
    if (thenClose && after.transitions?.includes('close')) after = await transition(after, 'close', {});
    toast(t('field.done', { what: t(`t.${thenClose ? 'close' : name}`) }), 'ok');
    clear($('#transition-form'));
    await ctx.reload();
    if (!cases.find((x) => x.number === c.number)) closeDetail();
    return after;
  } catch (err) {
    toast(err.message, 'error', 6000);
    if (err.status === 409) await ctx.reload();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
  return null;
}
