/* app.js - the dashboard at `/`: reads the `dashboard:` section (GET /api/dashboard),
 * then each panel's rows (GET /api/tables/TABLE?time=&from=&to=&order=&limit=&offset=)
 * and draws them: map, line, bar, table, stat, timeline.  A date range for the page
 * (kept in the URL hash) and an override per panel; live updates from
 * /api/tail/TOPIC (SSE) when a panel names a `topic:`, else a periodic refresh.
 *
 * Every value from data goes into the page as text (SL.h / textContent). */
'use strict';

(() => {
  const { h, clear, toMs } = SL;
  const RANGES = { '1h': 3600e3, '24h': 864e5, '7d': 6048e5, '30d': 2592e6, all: null };

  const state = {
    dash: null,
    range: { quick: 'all' },   // {quick: '1h'|...|'all'} or {from: ms|null, to: ms|null}
    panels: [],
    lastOk: 0,
  };

  /* ---------------------------------------------------------------- range */

  /* {from, to} in ms (null = open) of a range at this moment. */
  function resolve(range) {
    if (range.quick) {
      const span = RANGES[range.quick];
      return { from: span ? Date.now() - span : null, to: null };
    }
    return { from: range.from ?? null, to: range.to ?? null };
  }

  function rangeFromHash() {
    const q = new URLSearchParams(location.hash.slice(1));
    if (q.has('from') || q.has('to')) {
      const from = SL.toMs(q.get('from')), to = SL.toMs(q.get('to'));
      return { from: Number.isFinite(from) ? from : null, to: Number.isFinite(to) ? to : null };
    }
    const r = q.get('range');
    return { quick: r && r in RANGES ? r : 'all' };
  }

  function rangeToHash(range) {
    const q = new URLSearchParams();
    if (range.quick) { if (range.quick !== 'all') q.set('range', range.quick); }
    else {
      if (range.from != null) q.set('from', new Date(range.from).toISOString());
      if (range.to != null) q.set('to', new Date(range.to).toISOString());
    }
    const s = q.toString();
    history.replaceState(null, '', s ? '#' + s : location.pathname + location.search);
  }

  function describe(range) {
    if (range.quick) return range.quick === 'all' ? 'all time' : 'last ' + range.quick;
    const f = range.from != null ? SL.fmtTime(range.from, false) : '…';
    const t = range.to != null ? SL.fmtTime(range.to, false) : 'now';
    return f + ' → ' + t;
  }

  /* A quick-range button group and two datetime-local inputs bound to get()/set(). */
  function rangeControls(get, set, extra) {
    const buttons = Object.keys(RANGES).map((k) =>
      h('button', { type: 'button', 'data-range': k, text: k === 'all' ? 'All' : k, onclick: () => set({ quick: k }) }));
    const from = h('input', { type: 'datetime-local', 'aria-label': 'From' });
    const to = h('input', { type: 'datetime-local', 'aria-label': 'To' });
    const onInput = () => set({ from: SL.fromLocalInput(from.value), to: SL.fromLocalInput(to.value) });
    from.addEventListener('change', onInput);
    to.addEventListener('change', onInput);
    const sync = () => {
      const r = get();
      for (const b of buttons) b.setAttribute('aria-pressed', String(!!r && r.quick === b.dataset.range));
      const res = r ? resolve(r) : { from: null, to: null };
      if (document.activeElement !== from) from.value = r && !r.quick ? SL.toLocalInput(res.from) : '';
      if (document.activeElement !== to) to.value = r && !r.quick ? SL.toLocalInput(res.to) : '';
    };
    const el = h('span.range-ctl', { style: { display: 'contents' } },
      h('span.seg', { role: 'group', 'aria-label': 'Quick ranges' }, buttons),
      h('span.range-inputs', null, h('label', null, 'From ', from), h('label', null, 'To ', to)),
      extra || null);
    return { el, sync, from, to };
  }

  /* ---------------------------------------------------------------- panels */

  class Panel {
    constructor(cfg) {
      this.cfg = cfg;
      this.type = String(cfg.type || '');
      this.range = null;         // per-panel override, or null = the page's
      this.offset = 0;           // table paging
      this.order = cfg.order ? String(cfg.order) : '';
      this.inflight = null;
      this.again = false;
      this.view = null;          // renderer state kept between refreshes
      this.build();
    }

    build() {
      const c = this.cfg;
      this.meta = h('span.panel-meta');
      this.rangeBtn = h('button.icon-btn', {
        type: 'button', title: 'Date range of this panel', 'aria-expanded': 'false', text: '◷',
        onclick: () => this.toggleRange(),
      });
      const reset = h('button.btn.small', { type: 'button', text: 'Use page range', onclick: () => this.setRange(null) });
      this.ctl = rangeControls(() => this.range, (r) => this.setRange(r), reset);
      this.rangeRow = h('div.panel-range', { hidden: true }, this.ctl.el);
      this.body = h('div.panel-body', { class: this.type }, h('div.loading', { text: 'Loading…' }));
      this.err = h('div.panel-err', { role: 'status' });
      const span = Number(c.span) === 2 || (!c.span && (this.type === 'map' || this.type === 'timeline'));
      this.el = h('section.panel', {
        class: span ? 'span2' : null, id: 'panel-' + String(c.id || ''), 'data-type': this.type,
      }, h('div.panel-head', null, h('h2', { text: c.title ?? c.table ?? '' }), this.meta, this.rangeBtn),
      this.rangeRow, this.body, this.err);
    }

    toggleRange() {
      const open = this.rangeRow.hidden;
      this.rangeRow.hidden = !open;
      this.rangeBtn.setAttribute('aria-expanded', String(open));
      this.ctl.sync();
    }

    setRange(r) {
      this.range = r;
      this.offset = 0;
      this.ctl.sync();
      this.meta.classList.toggle('override', !!r);
      this.load();
    }

    effectiveRange() { return resolve(this.range || state.range); }

    /* The column the date range filters on. */
    timeColumn() {
      const c = this.cfg;
      if (c.time) return String(c.time);
      if (this.type === 'line') return c.x ? String(c.x) : '';
      if (this.type === 'timeline') return c.start ? String(c.start) : '';
      return '';
    }

    params() {
      const c = this.cfg, p = {};
      const tc = this.timeColumn();
      const r = this.effectiveRange();
      if (tc && (r.from != null || r.to != null)) {
        p.time = tc;
        if (r.from != null) p.from = new Date(r.from).toISOString();
        if (r.to != null) p.to = new Date(r.to).toISOString();
      }
      if (c.where) p.where = String(c.where);
      const lim = Number(c.limit);
      switch (this.type) {
        case 'map': if (tc) p.order = tc + ' asc'; p.limit = lim || 5000; break;
        case 'line': p.order = String(c.x) + ' asc'; p.limit = lim || 10000; break;
        case 'bar': p.order = String(c.x) + ' asc'; p.limit = lim || 5000; break;
        case 'timeline': p.order = String(c.start) + ' asc'; p.limit = lim || 2000; break;
        case 'table': if (this.order) p.order = this.order; p.limit = lim || 20; p.offset = this.offset; break;
        case 'stat': {
          const agg = statAgg(c);
          if (agg === 'count') p.limit = 1;
          else if (agg === 'last' || agg === 'first') { if (tc) p.order = tc + (agg === 'last' ? ' desc' : ' asc'); p.limit = 1; }
          else p.limit = lim || 10000;
          break;
        }
        default: p.limit = lim || 100;
      }
      return p;
    }

    /* Fetch and draw; one request at a time per panel (a call during one repeats it after). */
    async load() {
      if (this.inflight) { this.again = true; return; }
      const renderer = RENDER[this.type];
      if (!renderer) { this.fail('unknown panel type "' + this.type + '"'); return; }
      const params = this.params();
      this.inflight = SL.table(String(this.cfg.table), params);
      try {
        const data = await this.inflight;
        this.err.textContent = '';
        // Redraw only when something changed: keeps hover state and costs nothing idle.
        const rowsSig = data.rows.length <= 2000 ? JSON.stringify(data.rows)
          : data.rows.length + JSON.stringify([data.rows[0], data.rows[data.rows.length - 1]]);
        const sig = [JSON.stringify(params), data.total, rowsSig, themeKey(), this.body.clientWidth].join('|');
        if (sig !== this.sig) {
          await renderer(this, data);
          this.sig = sig;
        }
        this.el.dataset.total = String(data.total);
        this.el.dataset.loaded = String((Number(this.el.dataset.loaded) || 0) + 1);
        state.lastOk = Date.now();
        setStatus(true);
      } catch (e) {
        this.fail(e.message || String(e));
        setStatus(false, e.message);
      } finally {
        this.inflight = null;
        if (this.again) { this.again = false; this.load(); }
      }
    }

    fail(msg) {
      this.err.textContent = msg;
      if (this.body.querySelector('.loading')) clear(this.body).append(h('div.empty', { text: 'No data' }));
    }

    setMeta(text) {
      const over = this.range ? ' · ' + describe(this.range) : '';
      this.meta.textContent = text + over;
      this.meta.title = 'Range: ' + describe(this.range || state.range);
    }

    /* Live updates: a tail of the panel's topic triggers a reload (debounced); without a
     * topic (or while the tail is down) a periodic refresh. */
    startLive(periodMs) {
      const topic = this.cfg.topic ? String(this.cfg.topic) : '';
      let es = null, debounce = null;
      const kick = () => { clearTimeout(debounce); debounce = setTimeout(() => this.load(), 250); };
      if (topic && 'EventSource' in window) {
        es = new EventSource(SL.tailURL(topic));
        es.addEventListener('message', kick);
        es.addEventListener('open', kick);
      }
      const period = Number(this.cfg.refresh_ms) || periodMs;
      this.timer = setInterval(() => {
        if (document.hidden) return;
        if (es && es.readyState === EventSource.OPEN && Date.now() - this.lastTick < 30000) return;
        this.lastTick = Date.now();
        this.load();
      }, period);
      this.lastTick = Date.now();
      this.es = es;
    }
  }

  function statAgg(c) {
    if (!c.value || String(c.value) === 'count') return 'count';
    return c.agg ? String(c.agg) : 'last';
  }

  /* ---------------------------------------------------------------- renderers */

  const RENDER = { map: renderMap, line: renderLine, bar: renderBar, table: renderTable, stat: renderStat, timeline: renderTimeline };

  let worldPromise = null;
  function world() {
    if (!worldPromise)
      worldPromise = SL.getJSON('/static/countries-110m.json').then((w) => topojson.feature(w, w.objects.countries));
    return worldPromise;
  }

  const MAP_W = 960, MAP_H = 500;

  async function renderMap(panel, data) {
    const c = panel.cfg;
    const lat = String(c.lat), lon = String(c.lon), tc = c.time ? String(c.time) : '';
    if (!panel.view) {
      const projection = d3.geoNaturalEarth1().fitExtent([[4, 4], [MAP_W - 4, MAP_H - 4]], { type: 'Sphere' });
      const path = d3.geoPath(projection);
      const svg = h('svg:svg', { viewBox: `0 0 ${MAP_W} ${MAP_H}`, role: 'img', 'aria-label': String(c.title || 'map') });
      const land = h('svg:g');
      svg.append(
        h('svg:path.sphere', { d: path({ type: 'Sphere' }) }),
        h('svg:path.graticule', { d: path(d3.geoGraticule10()) }),
        land);
      const track = h('svg:path.track');
      const pts = h('svg:g.points');
      svg.append(track, pts);
      const legend = h('div');
      clear(panel.body).append(svg, legend);
      panel.view = { projection, path, svg, track, pts, legend, rows: [] };
      world().then((countries) => {
        for (const f of countries.features) land.append(h('svg:path.land', { d: path(f) }));
      }).catch((e) => { panel.err.textContent = 'world map: ' + e.message; });
      // One set of handlers for every point: the index of the hovered point is in data-i.
      const show = (ev) => {
        const t = ev.target;
        if (!(t instanceof SVGElement) || !t.classList.contains('pt')) return;
        const row = panel.view.rows[Number(t.dataset.i)];
        if (!row) return;
        SL.tooltip(ev.clientX, ev.clientY, c.label ? row[String(c.label)] : (tc ? fmtCell(row[tc]) : ''),
          Object.entries(row));
      };
      pts.addEventListener('pointermove', show);
      pts.addEventListener('pointerdown', show);
      pts.addEventListener('pointerleave', SL.hideTooltip);
    }
    const v = panel.view;
    const rows = data.objects.filter((r) => Number.isFinite(SL.num(r[lat])) && Number.isFinite(SL.num(r[lon])));
    v.rows = rows;
    const scale = c.color ? SL.colorScale(rows.map((r) => r[String(c.color)])) : null;
    const coords = rows.map((r) => [SL.num(r[lon]), SL.num(r[lat])]);
    const wantTrack = c.track !== undefined ? String(c.track) === 'true' : !!tc;
    v.track.setAttribute('d', wantTrack && coords.length > 1 ? v.path({ type: 'LineString', coordinates: coords }) || '' : '');
    clear(v.pts);
    const frag = document.createDocumentFragment();
    rows.forEach((r, i) => {
      const p = v.projection(coords[i]);
      if (!p) return;
      const last = i === rows.length - 1 && wantTrack;
      frag.append(h('svg:circle.pt', {
        class: last ? 'last' : null, cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: last ? 6 : rows.length > 1500 ? 2 : 3,
        fill: scale ? scale.color(r[String(c.color)]) : 'var(--accent)', 'data-i': i,
      }));
    });
    if (wantTrack && rows.length) {
      const p = v.projection(coords[coords.length - 1]);
      if (p) frag.append(h('svg:circle.pulse', { cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 11 }));
    }
    v.pts.append(frag);
    clear(v.legend);
    if (scale) v.legend.append(SL.legendEl(scale, String(c.color)));
    panel.el.dataset.count = String(rows.length);
    let meta = rows.length + ' point' + (rows.length === 1 ? '' : 's');
    if (data.total > rows.length) meta += ' of ' + data.total;
    if (tc && rows.length) meta += ' · last ' + SL.fmtAgo(toMs(rows[rows.length - 1][tc]));
    panel.setMeta(meta);
  }

  function fmtCell(v) {
    const t = toMs(v);
    return typeof v === 'string' && Number.isFinite(t) && /\d{4}-\d\d-\d\d/.test(v) ? SL.fmtTime(t) : SL.cellText(v);
  }

  function renderLine(panel, data) {
    const c = panel.cfg;
    const x = String(c.x), y = String(c.y), s = c.series ? String(c.series) : '';
    const groups = new Map();
    let isTime = true;
    for (const r of data.objects) {
      const yv = SL.num(r[y]);
      let xv = toMs(r[x]);
      if (!Number.isFinite(xv)) { isTime = false; xv = SL.num(r[x]); }
      if (!Number.isFinite(xv) || !Number.isFinite(yv)) continue;
      const key = s ? SL.cellText(r[s]) : y;
      if (!groups.has(key)) groups.set(key, new Map());
      groups.get(key).set(xv, yv);
    }
    const names = [...groups.keys()].sort();
    const xsAll = new Set();
    for (const g of groups.values()) for (const k of g.keys()) xsAll.add(k);
    const xs = [...xsAll].sort((a, b) => a - b);
    const series = names.map((n) => xs.map((xv) => (groups.get(n).has(xv) ? groups.get(n).get(xv) : null)));
    const plotData = [isTime ? xs.map((t) => t / 1000) : xs, ...series];
    const npts = series.reduce((a, ser) => a + ser.filter((v) => v !== null).length, 0);
    panel.el.dataset.series = String(names.length);
    panel.el.dataset.count = String(npts);
    panel.setMeta(names.length + ' series · ' + npts + ' points');

    if (!xs.length) {
      if (panel.view) { panel.view.u.destroy(); panel.view = null; }
      clear(panel.body).append(h('div.empty', { text: 'No data in this range' }));
      return;
    }
    const key = names.join('\u0000') + '|' + isTime + '|' + themeKey();
    if (panel.view && panel.view.key === key) { panel.view.u.setData(plotData); return; }
    if (panel.view) panel.view.u.destroy();
    clear(panel.body);
    const fg = SL.cssVar('--muted') || '#888', grid = SL.cssVar('--grid') || 'rgba(128,128,128,.15)';
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      width: Math.max(200, panel.body.clientWidth - 4),
      height: Number(c.height) || 280,
      scales: { x: { time: isTime } },
      series: [{ label: x, value: isTime ? (u, v) => (v == null ? '—' : SL.fmtTime(v * 1000)) : undefined },
        ...names.map((n, i) => ({
          label: n, stroke: SL.PALETTE[i % SL.PALETTE.length], width: 1.6, spanGaps: true,
          points: { show: xs.length < 60 }, value: (u, v) => (v == null ? '—' : SL.fmtNum(v)),
        }))],
      axes: [{ ...axis }, { ...axis, size: 64, values: (u, vals) => vals.map((v) => SL.fmtNum(v)) }],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
    };
    const u = new uPlot(opts, plotData, panel.body);
    panel.view = { u, key };
  }

  function renderBar(panel, data) {
    const c = panel.cfg;
    const x = String(c.x), y = String(c.y), agg = c.agg ? String(c.agg) : 'sum';
    const acc = new Map();
    for (const r of data.objects) {
      const k = SL.cellText(r[x]);
      const v = SL.num(r[y]);
      if (!acc.has(k)) acc.set(k, []);
      if (Number.isFinite(v) || agg === 'count') acc.get(k).push(v);
    }
    let bars = [...acc.entries()].map(([k, vs]) => ({ k, v: aggregate(agg, vs) })).filter((b) => Number.isFinite(b.v));
    const all = bars.length;
    if (bars.length > 40) bars = bars.sort((a, b) => b.v - a.v).slice(0, 40);
    panel.el.dataset.count = String(bars.length);
    panel.setMeta(bars.length + (all > bars.length ? ' of ' + all : '') + ' bars · ' + agg + ' of ' + y);
    clear(panel.body);
    if (!bars.length) { panel.body.append(h('div.empty', { text: 'No data in this range' })); return; }
    const W = Math.max(260, panel.body.clientWidth - 4), rowH = 22;
    const labelW = Math.min(180, Math.max(60, 8 + 7 * Math.max(...bars.map((b) => b.k.length))));
    const valW = 70;
    const max = Math.max(0, ...bars.map((b) => b.v)), min = Math.min(0, ...bars.map((b) => b.v));
    const sx = (v) => labelW + ((v - min) / ((max - min) || 1)) * (W - labelW - valW);
    const svg = h('svg:svg', { viewBox: `0 0 ${W} ${bars.length * rowH}`, height: bars.length * rowH });
    const scale = c.color ? SL.colorScale(bars.map((b) => b.k)) : null;
    bars.forEach((b, i) => {
      const y0 = i * rowH;
      const x0 = sx(Math.min(0, b.v)), x1 = sx(Math.max(0, b.v));
      const label = h('svg:text', { x: labelW - 6, y: y0 + rowH / 2 + 4, 'text-anchor': 'end' });
      label.textContent = b.k.length > 26 ? b.k.slice(0, 25) + '…' : b.k;
      const rect = h('svg:rect.bar', { x: x0.toFixed(1), y: y0 + 3, width: Math.max(1, x1 - x0).toFixed(1), height: rowH - 6, rx: 3 });
      if (scale) rect.style.fill = scale.color(b.k);
      rect.addEventListener('pointermove', (ev) => SL.tooltip(ev.clientX, ev.clientY, b.k, [[agg + ' of ' + y, SL.fmtNum(b.v)]]));
      rect.addEventListener('pointerleave', SL.hideTooltip);
      const val = h('svg:text.value', { x: x1 + 6, y: y0 + rowH / 2 + 4 });
      val.textContent = SL.fmtNum(b.v);
      svg.append(label, rect, val);
    });
    panel.body.append(h('div.chart', null, svg));
  }

  function aggregate(agg, vs) {
    const f = vs.filter(Number.isFinite);
    switch (agg) {
      case 'count': return vs.length;
      case 'avg': return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
      case 'min': return f.length ? Math.min(...f) : NaN;
      case 'max': return f.length ? Math.max(...f) : NaN;
      case 'first': return f.length ? f[0] : NaN;
      case 'last': return f.length ? f[f.length - 1] : NaN;
      default: return f.reduce((a, b) => a + b, 0);
    }
  }

  function renderTable(panel, data) {
    const c = panel.cfg;
    const cols = Array.isArray(c.columns) && c.columns.length ? c.columns.map(String) : data.columns;
    const [ocol, odir] = panel.order ? panel.order.split(/\s+/) : ['', ''];
    const thead = h('tr', null, cols.map((col) => {
      const sorted = col === ocol;
      return h('th.sortable', {
        scope: 'col', text: col, 'aria-sort': sorted ? (/^desc$/i.test(odir || '') ? 'descending' : 'ascending') : null,
        onclick: () => {
          panel.order = col + (sorted && !/^desc$/i.test(odir || '') ? ' desc' : ' asc');
          panel.offset = 0;
          panel.load();
        },
      });
    }));
    const tbody = h('tbody');
    for (const r of data.objects) {
      tbody.append(h('tr', null, cols.map((col) => {
        const v = r[col];
        const isNum = typeof v === 'number';
        return h('td', { class: v === null || v === undefined ? 'null' : isNum ? 'num' : null, text: v === null || v === undefined ? '—' : SL.cellText(v), title: typeof v === 'string' && v.length > 40 ? v : null });
      })));
    }
    const limit = Number(panel.params().limit);
    const from = data.total ? panel.offset + 1 : 0, to = panel.offset + data.objects.length;
    const prev = h('button.btn.small', { type: 'button', text: '‹ Prev', disabled: panel.offset <= 0, onclick: () => { panel.offset = Math.max(0, panel.offset - limit); panel.load(); } });
    const next = h('button.btn.small', { type: 'button', text: 'Next ›', disabled: to >= data.total, onclick: () => { panel.offset += limit; panel.load(); } });
    SL.append(clear(panel.body), [
      h('div.table-wrap', null, h('table.data', null, h('thead', null, thead), tbody)),
      data.objects.length ? null : h('div.empty', { text: 'No rows in this range' }),
      h('div.pager', null, h('span.page-info', { text: `${from}–${to} of ${data.total}` }), prev, next)]);
    panel.el.dataset.count = String(data.objects.length);
    panel.setMeta(data.total + ' row' + (data.total === 1 ? '' : 's'));
  }

  function renderStat(panel, data) {
    const c = panel.cfg;
    const agg = statAgg(c);
    let v, caption;
    if (agg === 'count') { v = data.total; caption = 'rows'; }
    else {
      const col = String(c.value);
      const vs = data.objects.map((r) => SL.num(r[col]));
      v = aggregate(agg === 'last' || agg === 'first' ? 'first' : agg, vs);
      caption = agg + ' of ' + col + (agg === 'count' ? '' : ' · ' + data.total + ' rows');
    }
    clear(panel.body).append(h('div.stat', null,
      h('div', null, h('span.stat-value', { text: SL.fmtNum(v) }), c.unit ? h('span.stat-unit', { text: String(c.unit) }) : null),
      h('div.stat-caption', { text: caption })));
    panel.el.dataset.count = String(data.total);
    panel.el.dataset.value = String(v);
    panel.setMeta(describe(panel.range || state.range));
  }

  function renderTimeline(panel, data) {
    const c = panel.cfg;
    const sCol = String(c.start), eCol = String(c.end);
    const items = [];
    for (const r of data.objects) {
      const a = toMs(r[sCol]);
      let b = toMs(r[eCol]);
      if (!Number.isFinite(a)) continue;
      if (!Number.isFinite(b) || b < a) b = a;
      items.push({ a, b, r });
    }
    panel.el.dataset.count = String(items.length);
    panel.setMeta(items.length + ' interval' + (items.length === 1 ? '' : 's'));
    clear(panel.body);
    if (!items.length) { panel.body.append(h('div.empty', { text: 'No data in this range' })); return; }
    const range = panel.effectiveRange();
    let t0 = Math.min(...items.map((i) => i.a)), t1 = Math.max(...items.map((i) => i.b));
    if (range.from != null && range.to != null) { t0 = Math.min(t0, range.from); t1 = Math.max(t1, range.to); }
    const pad = (t1 - t0) * 0.02 || 60000;
    t0 -= pad; t1 += pad;
    // Greedy lane packing: each interval goes to the first lane free at its start.
    const lanes = [];
    const W = Math.max(280, panel.body.clientWidth - 4);
    const sx = (t) => ((t - t0) / (t1 - t0)) * W;
    const minPx = 3 * (t1 - t0) / W;  // a bar is at least 3 px wide: keep room for it
    for (const it of items) {
      let lane = lanes.findIndex((end) => end + minPx * 2 <= it.a);
      if (lane < 0) { lane = lanes.length; lanes.push(0); }
      lanes[lane] = Math.max(it.b, it.a + minPx);
      it.lane = lane;
    }
    const laneH = 20, axisH = 22, H = lanes.length * laneH + axisH;
    const scale = c.color ? SL.colorScale(items.map((i) => i.r[String(c.color)])) : null;
    const svg = h('svg:svg', { viewBox: `0 0 ${W} ${H}`, height: H });
    const axis = h('svg:g.axis');
    for (const t of SL.timeTicks(t0, t1, Math.max(2, Math.floor(W / 110)))) {
      const x = sx(t.t).toFixed(1);
      axis.append(h('svg:line', { x1: x, x2: x, y1: 0, y2: H - axisH + 4 }));
      const tx = h('svg:text', { x, y: H - 6, 'text-anchor': 'middle' });
      tx.textContent = t.label;
      axis.append(tx);
    }
    svg.append(axis);
    const label = c.label ? String(c.label) : '';
    items.forEach((it) => {
      const x0 = sx(it.a), x1 = Math.max(sx(it.b), x0 + 3), y0 = it.lane * laneH + 2;
      const g = h('svg:g');
      const rect = h('svg:rect.iv', { x: x0.toFixed(1), y: y0, width: (x1 - x0).toFixed(1), height: laneH - 4, rx: 3 });
      rect.style.fill = scale ? scale.color(it.r[String(c.color)]) : 'var(--accent)';
      const title = label ? SL.cellText(it.r[label]) : '';
      rect.addEventListener('pointermove', (ev) => SL.tooltip(ev.clientX, ev.clientY, title,
        [['start', SL.fmtTime(it.a)], ['end', SL.fmtTime(it.b)], ['duration', SL.fmtDuration(it.b - it.a)],
          ...Object.entries(it.r).filter(([k]) => k !== sCol && k !== eCol)]));
      rect.addEventListener('pointerdown', (ev) => rect.dispatchEvent(new PointerEvent('pointermove', ev)));
      rect.addEventListener('pointerleave', SL.hideTooltip);
      g.append(rect);
      if (title && x1 - x0 > 40) {
        const t = h('svg:text.iv-label', { x: (x0 + 4).toFixed(1), y: y0 + laneH / 2 + 2 });
        const maxChars = Math.floor((x1 - x0 - 8) / 6);
        t.textContent = title.length > maxChars ? title.slice(0, Math.max(1, maxChars - 1)) + '…' : title;
        g.append(t);
      }
      svg.append(g);
    });
    SL.append(panel.body, [h('div.chart', null, svg), scale ? SL.legendEl(scale, String(c.color)) : null]);
    panel.view = { width: W };
  }

  /* ---------------------------------------------------------------- page */

  function themeKey() { return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'; }

  function setStatus(ok, msg) {
    const dot = document.getElementById('status-dot'), text = document.getElementById('status-text');
    dot.className = 'dot ' + (ok ? 'ok' : 'bad');
    text.textContent = ok ? 'live · ' + new Date().toLocaleTimeString() : 'error';
    document.getElementById('status').title = ok ? 'last update ' + new Date().toLocaleString() : String(msg || '');
  }

  function setPageRange(r) {
    state.range = r;
    rangeToHash(r);
    pageCtl.sync();
    for (const p of state.panels) {
      p.offset = 0;
      p.meta.title = 'Range: ' + describe(p.range || r);
      if (!p.range) p.load();
    }
  }

  // The page-level controls are in index.html; wire them like rangeControls does.
  const pageCtl = (() => {
    const buttons = [...document.querySelectorAll('#quick button')];
    const from = document.getElementById('from'), to = document.getElementById('to');
    for (const b of buttons) b.addEventListener('click', () => setPageRange({ quick: b.dataset.range }));
    const onInput = () => setPageRange({ from: SL.fromLocalInput(from.value), to: SL.fromLocalInput(to.value) });
    from.addEventListener('change', onInput);
    to.addEventListener('change', onInput);
    return {
      sync() {
        const r = state.range;
        for (const b of buttons) b.setAttribute('aria-pressed', String(r.quick === b.dataset.range));
        from.value = r.quick ? '' : SL.toLocalInput(r.from);
        to.value = r.quick ? '' : SL.toLocalInput(r.to);
      },
    };
  })();

  async function main() {
    state.range = rangeFromHash();
    pageCtl.sync();
    const grid = document.getElementById('panels');
    let dash;
    try {
      dash = await SL.getJSON('/api/dashboard');
    } catch (e) {
      clear(grid).append(h('div.panel-err', { text: 'Cannot load /api/dashboard: ' + e.message }));
      setStatus(false, e.message);
      return;
    }
    state.dash = dash;
    const title = dash.title ? String(dash.title) : 'Dashboard';
    document.getElementById('title').textContent = title;
    document.title = title + ' · sluice';
    clear(grid);
    const panels = Array.isArray(dash.panels) ? dash.panels : [];
    if (!panels.length)
      grid.append(h('div.empty', { text: 'This pipeline has no dashboard: add a `dashboard:` section with panels.' }));
    for (const cfg of panels) {
      const p = new Panel(cfg);
      state.panels.push(p);
      grid.append(p.el);
    }
    for (const p of state.panels) { p.load(); p.startLive(Number(dash.refresh_ms) || 5000); }

    // Redraw size-dependent charts when their width changes (phones rotate, windows resize).
    const ro = new ResizeObserver((entries) => {
      for (const en of entries) {
        const p = state.panels.find((q) => q.body === en.target);
        if (!p) continue;
        const w = Math.round(en.contentRect.width);
        if (p.lastWidth && Math.abs(p.lastWidth - w) > 8) {
          if (p.type === 'line' && p.view) p.view.u.setSize({ width: Math.max(200, w - 4), height: Number(p.cfg.height) || 280 });
          else if (p.type === 'timeline' || p.type === 'bar') p.load();
        }
        p.lastWidth = w;
      }
    });
    for (const p of state.panels) ro.observe(p.body);
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => state.panels.forEach((p) => p.load()));
    document.addEventListener('visibilitychange', () => { if (!document.hidden) state.panels.forEach((p) => p.load()); });
    window.addEventListener('hashchange', () => { state.range = rangeFromHash(); setPageRange(state.range); });
    document.addEventListener('scroll', SL.hideTooltip, { passive: true });
  }

  main();
})();
