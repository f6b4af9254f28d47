// The three indicator panels of the one-screen overview (一屏统览): people & houses, event statistics,
// operations.  They follow the selected area; people are counted by the server and never listed.
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { getJSON, qs } from '../core/api.js';
import { categoryName, label, pick, t } from '../core/i18n.js';
import { clear, debounce, fmtInt, fmtPct, h } from '../core/util.js';
import { areaCode, emit, on, state } from './state.js';

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

const charts = new Map(); // element id → echarts instance
const TEXT = '#c5d5f0';
const AXIS = '#335b8e';
const cache = { people: null, events: null, operations: null, ranks: null };

function rem() {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
}

function chart(el) {
  let c = charts.get(el.id);
  if (c && c.getDom() !== el) {
    c.dispose();
    c = null;
  }
  if (!c) {
    c = echarts.init(el, null, { renderer: 'canvas' });
    charts.set(el.id, c);
  }
  return c;
}

function kpi(label, value, cls = '') {
  return h(`div.kpi${cls ? `.${cls}` : ''}`, {}, h('span.v', {}, value), h('span.k', {}, label));
}

function body(id) {
  return clear(document.querySelector(`#${id} .body`));
}

function failed(id, err) {
  body(id).append(h('p.muted', {}, `${t('error')}: ${err.message}`));
}

// ------------------------------------------------------------------------------------- people
async function people() {
  const area = areaCode();
  try {
    cache.people = await getJSON(`/api/map/indicators/people${qs({ area })}`);
  } catch (err) {
    return failed('panel-people', err);
  }
  drawPeople();
}

function drawPeople() {
  const d = cache.people;
  if (!d) return;
  const b = body('panel-people');
  b.append(
    h(
      'div.kpis',
      {},
      kpi(t('people.buildings'), fmtInt(d.buildings)),
      kpi(t('people.house_units'), fmtInt(d.house_units)),
      kpi(t('people.households'), fmtInt(d.households)),
      kpi(t('people.residents'), fmtInt(d.residents)),
    ),
    h('div.sub', {}, t('people.special')),
  );
  const el = h('div.chart', { id: 'chart-special' });
  b.append(el, h('p.note', {}, pick(d.note)));
  const r = rem();
  chart(el).setOption(
    {
      grid: { left: r * 5, right: r * 2.5, top: r * 0.3, bottom: r * 0.3 },
      tooltip: { trigger: 'item' },
      xAxis: { type: 'value', show: false },
      yAxis: {
        type: 'category',
        data: d.special_groups.map((g) => label('group', g.tag, g.label)),
        axisLabel: { color: TEXT, fontSize: r * 0.72 },
        axisLine: { lineStyle: { color: AXIS } },
      },
      series: [
        {
          type: 'bar',
          data: d.special_groups.map((g) => g.count),
          itemStyle: { color: '#4dabf7' },
          barWidth: '55%',
          label: { show: true, position: 'right', color: TEXT, fontSize: r * 0.68 },
        },
      ],
    },
    true,
  );
}

// ------------------------------------------------------------------------------------- events
async function events() {
  try {
    cache.events = await getJSON(`/api/map/indicators/events${qs({ area: areaCode() })}`);
  } catch (err) {
    return failed('panel-events', err);
  }
  drawEvents();
}

function drawEvents() {
  const d = cache.events;
  if (!d) return;
  const b = body('panel-events');
  b.append(
    h(
      'div.kpis',
      {},
      kpi(t('events.today'), fmtInt(d.today)),
      kpi(t('events.month'), fmtInt(d.month)),
      kpi(t('events.closure'), fmtPct(d.closure_rate)),
      kpi(t('events.ontime'), fmtPct(d.on_time_rate)),
    ),
  );
  const r = rem();
  const lightEl = h('div.chart', { id: 'chart-light' });
  const catEl = h('div.chart', { id: 'chart-category' });
  b.append(
    h('div.two', {}, h('div', {}, h('div.sub', {}, t('events.byLight')), lightEl), h('div', {}, h('div.sub', {}, t('events.byCategory')), catEl)),
    h('div.sub', {}, t('events.trend')),
  );
  const trendEl = h('div.chart.tall', { id: 'chart-trend' });
  b.append(trendEl);
  const lights = [
    { name: t('legend.green'), value: d.by_light.green, itemStyle: { color: '#2f9e44' } },
    { name: t('legend.yellow'), value: d.by_light.yellow, itemStyle: { color: '#f59f00' } },
    { name: t('legend.red'), value: d.by_light.red, itemStyle: { color: '#e03131' } },
  ];
  chart(lightEl).setOption(
    {
      tooltip: { trigger: 'item' },
      series: [
        {
          type: 'pie',
          radius: ['45%', '75%'],
          data: lights,
          label: { color: TEXT, fontSize: r * 0.65, formatter: '{c}' },
          labelLine: { length: r * 0.3, length2: r * 0.3 },
        },
      ],
      graphic: [],
    },
    true,
  );
  const top = d.by_category.slice(0, 6).reverse();
  chart(catEl).setOption(
    {
      grid: { left: r * 4.2, right: r * 1.8, top: r * 0.2, bottom: r * 0.2 },
      tooltip: { trigger: 'item' },
      xAxis: { type: 'value', show: false },
      yAxis: {
        type: 'category',
        data: top.map((c) => categoryName(c.code, c.name)),
        axisLabel: { color: TEXT, fontSize: r * 0.62, width: r * 4, overflow: 'truncate' },
        axisLine: { lineStyle: { color: AXIS } },
      },
      series: [
        {
          type: 'bar',
          data: top.map((c) => c.count),
          itemStyle: { color: '#ffa94d' },
          label: { show: true, position: 'right', color: TEXT, fontSize: r * 0.6 },
        },
      ],
    },
    true,
  );
  chart(trendEl).setOption(
    {
      grid: { left: r * 2.2, right: r * 0.6, top: r * 1.5, bottom: r * 1.3 },
      tooltip: { trigger: 'axis' },
      legend: { textStyle: { color: TEXT, fontSize: r * 0.65 }, top: 0, itemHeight: r * 0.5 },
      xAxis: {
        type: 'category',
        data: d.trend.map((p) => p.day.slice(5)),
        axisLabel: { color: TEXT, fontSize: r * 0.6 },
        axisLine: { lineStyle: { color: AXIS } },
      },
      yAxis: { type: 'value', axisLabel: { color: TEXT, fontSize: r * 0.6 }, splitLine: { lineStyle: { color: '#16325a' } } },
      series: [
        { name: t('events.reported'), type: 'line', smooth: true, data: d.trend.map((p) => p.reported), itemStyle: { color: '#4dabf7' }, symbolSize: r * 0.25 },
        { name: t('events.closed'), type: 'line', smooth: true, data: d.trend.map((p) => p.closed), itemStyle: { color: '#69db7c' }, symbolSize: r * 0.25 },
      ],
    },
    true,
  );
}

// ------------------------------------------------------------------------------------- operations
function rankGroup(area) {
  // Rank the units one level below the selection: streets of a district, communities of a street …
  const level = area?.level || 'city';
  return { city: 'street', district: 'street', street: 'community', community: 'grid', grid: 'grid' }[level];
}

async function operations() {
  const area = areaCode();
  const group = rankGroup(state.area);
  try {
    const [ops, ranks, depts, overdue] = await Promise.all([
      getJSON(`/api/map/indicators/operations${qs({ area })}`),
      getJSON(`/api/cases/stats${qs({ group })}`),
      getJSON(`/api/cases/stats${qs({ group: 'department' })}`),
      getJSON(`/api/cases/overdue${qs({ area, limit: 5 })}`),
    ]);
    cache.operations = { ops, ranks: ranks.rows.filter((r) => String(r.unit).startsWith(area)), depts: depts.rows, overdue };
  } catch (err) {
    return failed('panel-operations', err);
  }
  drawOperations();
}

function rankList(rows) {
  if (!rows.length) return h('p.muted', {}, t('none'));
  return h(
    'ol.rank',
    {},
    rows.slice(0, 5).map((r, i) =>
      h(
        'li',
        {},
        h('span.n', {}, String(i + 1)),
        h('span', { title: r.unit }, r.name),
        h('span.muted', {}, fmtInt(r.received)),
        h('span.r', { title: t('ops.onTimeRate') }, fmtPct(r.on_time_rate)),
      ),
    ),
  );
}

function drawOperations() {
  const d = cache.operations;
  if (!d) return;
  const o = d.ops;
  const b = body('panel-operations');
  b.append(
    h(
      'div.kpis',
      {},
      kpi(t('ops.workers'), fmtInt(o.grid_workers)),
      kpi(t('ops.grids'), fmtInt(o.grids)),
      kpi(t('ops.overdue'), fmtInt(o.overdue), 'red'),
      kpi(t('ops.placement'), fmtInt(o.needs_placement)),
      kpi(t('ops.stations'), fmtInt(o.stations)),
      kpi(t('events.open'), fmtInt(o.open_cases)),
      kpi(t('ops.checkins'), o.checked_in_today ?? t('ops.nodata'), o.checked_in_today === null ? 'na' : ''),
      kpi(
        t('ops.patrols'),
        o.patrols_today === null ? t('ops.nodata') : `${fmtInt(o.patrols_today)} · ${o.patrol_km_today} km`,
        o.patrols_today === null ? 'na' : '',
      ),
    ),
    h(
      'div.two',
      {},
      h('div', {}, h('div.sub', {}, `${t('ops.rankStreets')} · ${t(`level.${rankGroup(state.area)}`)}`), rankList(d.ranks)),
      h('div', {}, h('div.sub', {}, t('ops.rankDepartments')), rankList(d.depts)),
    ),
    h('div.sub', {}, `${t('ops.overdueList')} (${fmtInt(d.overdue.count)})`),
    h(
      'ol.list',
      { id: 'overdue-list' },
      d.overdue.results.length
        ? d.overdue.results.map((c) =>
            h(
              'li',
              {},
              h('i', { className: 'dot red' }),
              h('button.link', { type: 'button', onclick: () => emit('opencase', c.number) }, c.number),
              h('span', {}, categoryName(c.category, c.category_name)),
            ),
          )
        : h('li.muted', {}, t('none')),
    ),
    h('p.note', {}, pick(o.note)),
  );
}

export function refreshPanels() {
  return Promise.all([people(), events(), operations()]);
}

export function setupPanels() {
  on('areachange', () => refreshPanels());
  // Live changes move the statistics; recount at most every 10 s, not on every event.
  on('casechanged', debounce(() => Promise.all([events(), operations()]), 10000));
  window.addEventListener('langchange', () => {
    drawPeople();
    drawEvents();
    drawOperations();
  });
  window.addEventListener(
    'resize',
    debounce(() => charts.forEach((c) => c.resize()), 200),
  );
}
