/* common.js - helpers shared by the dashboard (app.js) and the pipeline page
 * (pipeline.js): safe element building, the query API, time and number formats,
 * colour scales and the tooltip.
 *
 * Safety rule of these pages: data never reaches innerHTML.  Every value from the
 * server is put into the page with textContent (h() turns strings into text nodes)
 * or as a numeric SVG attribute computed here. */
'use strict';

const SL = (() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';

  /* h('div.cls', {attr: v, onclick: fn}, child, ...) - children that are strings or
   * numbers become text nodes; null/false children are skipped.  'svg:tag' makes an
   * SVG element.  Attribute values are set with setAttribute (never as HTML); `text`
   * sets textContent; functions are only ever handlers written in this code. */
  function h(spec, attrs, ...kids) {
    let svg = false;
    if (spec.startsWith('svg:')) { svg = true; spec = spec.slice(4); }
    const [tag, ...classes] = spec.split('.');
    const el = svg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
    if (classes.length) el.setAttribute('class', classes.join(' '));
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'text') el.textContent = String(v);
        else if (k === 'class') el.setAttribute('class', (el.getAttribute('class') ? el.getAttribute('class') + ' ' : '') + v);
        else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k.startsWith('on')) throw new Error('refusing a non-function handler');
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(el, kids);
    return el;
  }

  function append(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  /* ---- the server API ---- */

  // An optional bearer token (serve.token): ?token=... on the page URL, kept for the tab.
  const token = (() => {
    const q = new URLSearchParams(location.search).get('token');
    if (q) sessionStorage.setItem('sluice.token', q);
    return sessionStorage.getItem('sluice.token') || '';
  })();

  async function getJSON(url, opts = {}) {
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const res = await fetch(url, { headers, cache: 'no-store', signal: opts.signal });
    if (!res.ok) {
      let msg = res.status + ' ' + res.statusText;
      try { const b = await res.json(); if (b && b.error) msg += ': ' + b.error; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    return res.json();
  }

  /* GET /api/tables/NAME?...  ->  {columns (names), rows (arrays), objects (rows as objects), total} */
  async function table(name, params, opts) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {}))
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const d = await getJSON('/api/tables/' + encodeURIComponent(name) + (q.toString() ? '?' + q : ''), opts);
    // columns: ["name", ...] or [{name, type}, ...]
    const columns = Array.isArray(d.columns) ? d.columns.map((c) => (c && typeof c === 'object' ? String(c.name) : String(c))) : [];
    const rows = Array.isArray(d.rows) ? d.rows : [];
    const objects = rows.map((r) => {
      if (!Array.isArray(r)) return r && typeof r === 'object' ? r : {};
      const o = {};
      columns.forEach((c, i) => { o[c] = r[i]; });
      return o;
    });
    const total = Number.isFinite(d.total) ? d.total : rows.length;
    return { columns: columns.length ? columns : Object.keys(objects[0] || {}), rows, objects, total };
  }

  /* A URL for EventSource / streaming fetch (EventSource cannot send headers). */
  function tailURL(topic, params) {
    const q = new URLSearchParams(params || {});
    if (token) q.set('token', token);
    return '/api/tail/' + encodeURIComponent(topic) + (q.toString() ? '?' + q : '');
  }

  /* ---- time ---- */

  /* Epoch ms of a value: numbers (seconds or ms), numeric strings, ISO-8601 text
   * (without a zone = UTC, as the sinks write it).  NaN when it is not a time. */
  function toMs(v) {
    if (v === null || v === undefined || v === '') return NaN;
    if (typeof v === 'number') return Math.abs(v) < 1e11 ? v * 1000 : v;
    if (typeof v !== 'string') return NaN;
    const s = v.trim();
    if (/^-?\d+(\.\d+)?$/.test(s)) return toMs(Number(s));
    let iso = s.replace(' ', 'T');
    if (/^\d{4}-\d\d-\d\d$/.test(iso)) iso += 'T00:00:00Z';
    else if (/^\d{4}-\d\d-\d\dT[\d:.]+$/.test(iso)) iso += 'Z';
    const t = Date.parse(iso);
    return Number.isFinite(t) ? t : NaN;
  }

  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function fmtTime(ms, withSeconds = true) {
    if (!Number.isFinite(ms)) return '—';
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}` +
      (withSeconds ? ':' + pad(d.getSeconds()) : '');
  }
  /* The value of an <input type=datetime-local> for ms (local time). */
  function toLocalInput(ms) {
    if (!Number.isFinite(ms)) return '';
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  function fromLocalInput(s) {
    if (!s) return null;
    const t = new Date(s).getTime();  // datetime-local text has no zone: local time
    return Number.isFinite(t) ? t : null;
  }
  function fmtAgo(ms, now = Date.now()) {
    if (!Number.isFinite(ms)) return '—';
    const d = Math.round((now - ms) / 1000);
    const a = Math.abs(d);
    const t = a < 60 ? a + ' s' : a < 3600 ? Math.round(a / 60) + ' min' : a < 86400 ? Math.round(a / 3600) + ' h' : Math.round(a / 86400) + ' d';
    return d >= 0 ? t + ' ago' : 'in ' + t;
  }
  function fmtDuration(ms) {
    if (!Number.isFinite(ms)) return '—';
    const s = ms / 1000;
    if (s < 1) return Math.round(ms) + ' ms';
    if (s < 120) return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
    if (s < 7200) return Math.round(s / 60) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h';
    return (s / 86400).toFixed(1) + ' d';
  }

  const DUR = { ms: 1, s: 1000, m: 60000, min: 60000, h: 3600000, d: 86400000, w: 604800000 };
  function parseDuration(s) {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)$/.exec(String(s || '').trim());
    return m ? Number(m[1]) * DUR[m[2]] : NaN;
  }

  /* About n round time ticks between a and b (ms). */
  function timeTicks(a, b, n = 6) {
    const steps = [1e3, 5e3, 15e3, 6e4, 3e5, 9e5, 18e5, 36e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 6048e5, 2592e6, 7776e6, 31536e6];
    const span = Math.max(1, b - a);
    const step = steps.find((s) => span / s <= n) || steps[steps.length - 1];
    const off = new Date().getTimezoneOffset() * 60000;  // align day ticks on local midnight
    const ticks = [];
    let t = Math.ceil((a - (step >= 864e5 ? -off : 0)) / step) * step + (step >= 864e5 ? -off : 0);
    for (; t <= b && ticks.length < 50; t += step) ticks.push(t);
    const fmt = (ms) => {
      const d = new Date(ms);
      if (step >= 864e5) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
      if (step >= 6e4) return (span > 864e5 ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` : '') + `${pad(d.getHours())}:${pad(d.getMinutes())}`;
      return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    };
    return ticks.map((t2) => ({ t: t2, label: fmt(t2) }));
  }

  /* ---- numbers ---- */

  function num(v) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    return NaN;
  }
  const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  const nfSmall = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });
  function fmtNum(v) {
    if (!Number.isFinite(v)) return '—';
    return Math.abs(v) >= 1 || v === 0 ? nf.format(v) : nfSmall.format(v);
  }
  function fmtBytes(n) {
    if (!Number.isFinite(n)) return '—';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  /* Any cell value as display text. */
  function cellText(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  /* ---- colours ---- */

  // Categorical palette readable on light and dark backgrounds.
  const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#8cd17d', '#86bcb6', '#d4a6c8'];
  const RAMP = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];  // viridis stops

  function ramp(t) {
    t = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(t));
    const f = t - i;
    const a = RAMP[i], b = RAMP[i + 1];
    const c = (k) => Math.round(parseInt(a.slice(k, k + 2), 16) * (1 - f) + parseInt(b.slice(k, k + 2), 16) * f);
    return `rgb(${c(1)},${c(3)},${c(5)})`;
  }

  /* A colour for each value of a field: numbers on a ramp (min..max), anything else
   * one palette colour per distinct value in sorted order (stable across refreshes of
   * the same data).  -> {color(v), legend: [{label, color}], numeric, min, max} */
  function colorScale(values) {
    const present = values.filter((v) => v !== null && v !== undefined && v !== '');
    const nums = present.map(num);
    if (present.length && nums.every(Number.isFinite)) {
      let min = Infinity, max = -Infinity;
      for (const n of nums) { if (n < min) min = n; if (n > max) max = n; }
      const span = max - min || 1;
      return { numeric: true, min, max, color: (v) => (Number.isFinite(num(v)) ? ramp((num(v) - min) / span) : '#888'), legend: [] };
    }
    const distinct = [...new Set(present.map(String))].sort();
    const idx = new Map(distinct.map((d, i) => [d, i]));
    return {
      numeric: false,
      color: (v) => (idx.has(String(v)) ? PALETTE[idx.get(String(v)) % PALETTE.length] : '#888'),
      legend: distinct.slice(0, 24).map((d, i) => ({ label: d, color: PALETTE[i % PALETTE.length] })),
    };
  }

  function legendEl(scale, field) {
    if (!scale) return null;
    if (scale.numeric)
      return h('div.legend', null, h('span.legend-field', { text: field }),
        h('span', { text: fmtNum(scale.min) }), h('span.ramp'), h('span', { text: fmtNum(scale.max) }));
    return h('div.legend', null, field ? h('span.legend-field', { text: field }) : null,
      scale.legend.map((l) => h('span.legend-item', null, h('i.swatch', { style: { background: l.color } }), l.label)));
  }

  /* ---- tooltip (one per page) ---- */

  let tip;
  function tooltip(x, y, title, pairs) {
    if (!tip) { tip = h('div.tooltip', { role: 'tooltip' }); document.body.append(tip); }
    clear(tip);
    if (title !== null && title !== undefined && title !== '') tip.append(h('div.tip-title', { text: title }));
    const dl = h('dl');
    for (const [k, v] of pairs) dl.append(h('dt', { text: k }), h('dd', { text: cellText(v) }));
    tip.append(dl);
    tip.hidden = false;
    const r = tip.getBoundingClientRect();
    const vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
    let left = x + 14, top = y + 14;
    if (left + r.width > vw - 8) left = Math.max(8, x - r.width - 14);
    if (top + r.height > vh - 8) top = Math.max(8, y - r.height - 14);
    tip.style.left = left + 'px';
    tip.style.top = top + 'px';
  }
  function hideTooltip() { if (tip) tip.hidden = true; }

  /* A CSS custom property's value (for canvas drawing that cannot use CSS). */
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  return {
    h, append, clear, getJSON, table, tailURL, token, toMs, fmtTime, toLocalInput, fromLocalInput, fmtAgo,
    fmtDuration, parseDuration, timeTicks, num, fmtNum, fmtBytes, cellText, PALETTE, colorScale, legendEl,
    tooltip, hideTooltip, cssVar,
  };
})();
