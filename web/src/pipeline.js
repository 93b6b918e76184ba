/* pipeline.js - the pipeline page at `/pipeline` (the originals' Control Center):
 * GET /api/pipeline every 2 s, one table per section (sources, topics, jobs, sinks,
 * alerts), and a DLQ browser that streams the last records of `<job>.dlq` from
 * /api/tail/<job>.dlq?from=start&limit=50 (SSE).
 *
 * The shape is read loosely: a section is an array of objects or an object of
 * objects keyed by name; nested objects become dotted columns; sinks nested in jobs
 * are lifted into their own table.  Every value goes into the page as text. */
'use strict';

(() => {
  const { h, clear } = SL;
  const ORDER = ['sources', 'topics', 'jobs', 'sinks', 'alerts'];
  const TITLES = { sources: 'Sources', topics: 'Topics', jobs: 'Jobs', sinks: 'Sinks', alerts: 'Alerts fired' };
  const sections = new Map();   // name -> {el, table, count}
  let dlq = null;               // the open DLQ browser

  /* ---- shape ---- */

  function rowsOf(v) {
    if (Array.isArray(v)) return v.filter((x) => x && typeof x === 'object' && !Array.isArray(x));
    if (v && typeof v === 'object')
      return Object.entries(v).filter(([, x]) => x && typeof x === 'object' && !Array.isArray(x))
        .map(([k, x]) => ({ name: k, ...x }));
    return [];
  }

  function flatten(o, prefix = '', out = {}) {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix + k;
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length <= 12) flatten(v, key + '.', out);
      else out[key] = v;
    }
    return out;
  }

  /* Rates from the difference of two polls of a counter: name -> [time, value]. */
  const prevCounts = new Map();
  function rate(id, value, now) {
    if (!Number.isFinite(value)) return null;
    const prev = prevCounts.get(id);
    prevCounts.set(id, [now, value]);
    if (!prev || now - prev[0] < 200) return prev && prev.rate !== undefined ? prev.rate : null;
    const r = Math.max(0, (value - prev[1]) / ((now - prev[0]) / 1000));
    prevCounts.get(id).rate = r;
    return r;
  }

  /* Summaries the raw status does not carry: partitions of a topic, rates. */
  function enrich(kind, r, now) {
    if (kind === 'topics' && Array.isArray(r.partitions)) {
      const parts = r.partitions.filter((x) => x && typeof x === 'object');
      const o = { name: r.name };
      o.partitions = parts.length;
      o.records = parts.reduce((a, x) => a + (SL.num(x.end) - SL.num(x.start) || 0), 0);
      o.offsets = parts.map((x, i) => `${i}: ${SL.cellText(x.start)}–${SL.cellText(x.end)}`).join(', ');
      o.bytes = parts.reduce((a, x) => a + (SL.num(x.bytes) || 0), 0);
      for (const [k, v] of Object.entries(r)) if (!(k in o) && k !== 'partitions') o[k] = v;
      return o;
    }
    if (kind === 'jobs' && 'records_in' in r) {
      const o = {};
      for (const [k, v] of Object.entries(r)) { o[k] = v; if (k === 'records_in') o['records/s'] = rate('job:' + r.name, SL.num(v), now); }
      return o;
    }
    if (kind === 'sources' && 'records' in r) {
      const o = {};
      for (const [k, v] of Object.entries(r)) { o[k] = v; if (k === 'records') o['records/s'] = rate('src:' + r.name, SL.num(v), now); }
      return o;
    }
    return r;
  }

  function model(p) {
    const out = new Map();
    const now = Date.now();
    for (const [k, v] of Object.entries(p || {})) {
      const rows = rowsOf(v).map((r) => enrich(k, r, now));
      if (rows.length || ORDER.includes(k)) out.set(k, rows);
    }
    // sinks inside jobs -> a sinks table with the job's name
    if (!out.get('sinks') || !out.get('sinks').length) {
      const sinks = [];
      for (const j of out.get('jobs') || [])
        rowsOf(j.sinks).forEach((s, i) => sinks.push({ job: j.name, '#': i + 1, ...s }));
      if (sinks.length) out.set('sinks', sinks);
    }
    const m = new Map();
    for (const k of [...ORDER, ...[...out.keys()].filter((k2) => !ORDER.includes(k2)).sort()])
      if (out.has(k)) m.set(k, out.get(k).map((r) => flatten(r)));
    return m;
  }

  /* ---- cells ---- */

  const STATUS_CLASS = {
    ok: 'ok', running: 'ok', idle: 'ok', healthy: 'ok', up: 'ok', ready: 'ok', open: 'ok',
    retrying: 'warn', rate_limited: 'warn', 'rate-limited': 'warn', backoff: 'warn', waiting: 'warn', lagging: 'warn', paused: 'warn',
    error: 'bad', failed: 'bad', failing: 'bad', fatal: 'bad', down: 'bad', stopped: 'bad', dead: 'bad',
  };

  function isTimeKey(k) { return /(^|[._])(ts|time|at|last_poll|next_run|last_.*|next_.*|fired|since)$/.test(k) || /_at$|_ts$|_time$/.test(k); }

  function cell(k, v) {
    const base = k.split('.').pop();
    if (v === null || v === undefined) return h('td.null', { text: '—' });
    if (typeof v === 'boolean') return h('td', null, h('span.badge', { class: v ? 'ok' : null, text: String(v) }));
    if (/^(status|state|health|rate_limit|rate_limited|ratelimit)$/.test(base) && typeof v === 'string') {
      return h('td', null, h('span.badge', { class: STATUS_CLASS[v.toLowerCase()] || null, text: v }));
    }
    if (typeof v === 'number') {
      if (/bytes$/.test(base)) return h('td.num', { text: SL.fmtBytes(v), title: String(v) });
      if (/_ms$/.test(base) && v > 1e11) {  // an epoch time in ms (last_poll_ms)
        return h('td', { text: SL.fmtAgo(v), title: SL.fmtTime(v) });
      }
      if (/_in_ms$/.test(base)) return h('td.num', { text: v > 0 ? 'in ' + SL.fmtDuration(v) : 'now', title: String(v) + ' ms' });
      if (/(_ms|latency|duration)$/.test(base)) return h('td.num', { text: v > 0 ? SL.fmtDuration(v) : '0', title: String(v) + ' ms' });
      if (base === 'records/s') return h('td.num', { text: SL.fmtNum(v) });
      if (isTimeKey(base) && v > 1e9) {
        const ms = SL.toMs(v);
        return h('td', { text: SL.fmtAgo(ms), title: SL.fmtTime(ms) });
      }
      const td = h('td.num', { text: SL.fmtNum(v) });
      if (/(failures|errors|error_count|dead_letters|dlq_count)$/.test(base) && v > 0) td.style.color = 'var(--bad)';
      return td;
    }
    if (typeof v === 'string' && isTimeKey(base) && Number.isFinite(SL.toMs(v)) && /\d{4}-\d\d-\d\d/.test(v)) {
      const ms = SL.toMs(v);
      return h('td', { text: SL.fmtAgo(ms), title: SL.fmtTime(ms) });
    }
    if (Array.isArray(v)) return h('td', { text: v.map((x) => SL.cellText(x)).join(', ') });
    const s = SL.cellText(v);
    return h('td', { text: s, title: s.length > 40 ? s : null });
  }

  /* ---- sections ---- */

  function section(name) {
    if (sections.has(name)) return sections.get(name);
    const count = h('span.count');
    const wrap = h('div.table-wrap');
    const el = h('section.section', { id: 'sec-' + name.replace(/[^a-z0-9_-]/gi, '_'), 'data-section': name },
      h('header', null, h('h2', { text: TITLES[name] || name }), count), wrap);
    const s = { el, wrap, count };
    sections.set(name, s);
    return s;
  }

  /* "last_poll_ms" -> "last poll", "next_poll_in_ms" -> "next poll in" */
  function colLabel(k) { return k === '#' ? '#' : k.replace(/_ms$/, '').replace(/_/g, ' '); }

  function renderSection(name, rows) {
    const s = section(name);
    s.count.textContent = String(rows.length);
    const cols = [];
    for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k) && k !== 'sinks') cols.push(k);
    if (cols.includes('name')) { cols.splice(cols.indexOf('name'), 1); cols.unshift('name'); }
    const withDlq = name === 'jobs';
    const table = h('table.data', null,
      h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', text: colLabel(c), title: c })), withDlq ? h('th', { text: 'DLQ' }) : null)),
      h('tbody', null, rows.map((r) => h('tr', null, cols.map((c) => cell(c, r[c])),
        withDlq ? h('td', null, h('button.btn.small', {
          type: 'button', text: 'Browse', 'data-job': r.name == null ? '' : String(r.name),
          onclick: () => openDlq(String(r.dlq_topic || (r.dlq && typeof r.dlq === 'string' ? r.dlq : r.name + '.dlq'))),
        })) : null))));
    clear(s.wrap).append(rows.length ? table : h('div.empty', { text: 'none' }));
  }

  /* ---- DLQ browser: a streaming fetch of the SSE tail, newest first, at most 50 ---- */

  function openDlq(topic) {
    if (dlq) dlq.close();
    const list = h('ol.dlq-list');
    const info = h('span.muted', { text: 'connecting…' });
    const records = new Map();
    const ctl = new AbortController();
    const el = h('section.section.dlq-section', { id: 'dlq', 'data-topic': topic },
      h('header', null, h('h2', { text: 'Dead letters · ' + topic }), h('span.count', { text: '' })),
      h('div.dlq', null,
        h('div.dlq-head', null, info, h('button.btn.small', { type: 'button', text: 'Close', onclick: () => close() })),
        list));
    const container = document.getElementById('sections');
    container.prepend(el);
    el.scrollIntoView({ behavior: 'smooth', block: 'start' });

    const draw = () => {
      const items = [...records.values()].sort((a, b) => (b.ts || 0) - (a.ts || 0) || (b.offset || 0) - (a.offset || 0)).slice(0, 50);
      clear(list);
      for (const r of items) {
        const v = r.value;
        const reason = v && typeof v === 'object' ? (v.error || v.reason || v._error || (v.meta && v.meta.error)) : null;
        list.append(h('li', null,
          h('div.dlq-meta', null,
            h('span', { text: 'partition ' + SL.cellText(r.partition) + ' · offset ' + SL.cellText(r.offset) }),
            r.key != null ? h('span', { text: 'key ' + SL.cellText(r.key) }) : null,
            h('span', { text: Number.isFinite(SL.toMs(r.ts)) ? SL.fmtTime(SL.toMs(r.ts)) : '' })),
          reason ? h('div.dlq-reason', { text: SL.cellText(reason) }) : null,
          h('pre.json', { text: JSON.stringify(v, null, 2) })));
      }
      info.textContent = records.size ? `${Math.min(50, records.size)} record${records.size === 1 ? '' : 's'} (newest first)` : 'no dead letters';
    };

    async function run() {
      try {
        const headers = SL.token ? { Authorization: 'Bearer ' + SL.token } : {};
        const res = await fetch(SL.tailURL(topic, { from: 'start', limit: '50' }), { headers, signal: ctl.signal });
        if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        const idle = setTimeout(draw, 400);
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
            const ev = buf.slice(0, i);
            buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
            const data = ev.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
            if (!data) continue;
            try {
              const r = JSON.parse(data);
              records.set(SL.cellText(r.partition) + ':' + SL.cellText(r.offset), r);
              if (records.size > 200) records.delete(records.keys().next().value);
            } catch (_) { /* not a record */ }
            draw();
          }
        }
        clearTimeout(idle);
        draw();
        info.textContent += ' · end of stream';
      } catch (e) {
        if (e.name !== 'AbortError') info.textContent = 'cannot read ' + topic + ': ' + e.message;
      }
    }
    function close() { ctl.abort(); el.remove(); if (dlq && dlq.el === el) dlq = null; }
    dlq = { el, close };
    run();
  }

  /* ---- refresh loop ---- */

  function setStatus(ok, msg) {
    document.getElementById('status-dot').className = 'dot ' + (ok ? 'ok' : 'bad');
    document.getElementById('status-text').textContent = ok ? 'live · ' + new Date().toLocaleTimeString() : 'error: ' + msg;
  }

  let first = true;
  async function refresh() {
    try {
      const p = await SL.getJSON('/api/pipeline');
      const container = document.getElementById('sections');
      if (first) { clear(container); first = false; }
      if (p && (p.name || p.file)) document.getElementById('title').textContent = 'Pipeline · ' + String(p.name || p.file);
      const m = model(p);
      for (const [name, rows] of m) {
        renderSection(name, rows);
        const s = sections.get(name);
        if (!s.el.isConnected) container.append(s.el);
      }
      setStatus(true);
    } catch (e) {
      setStatus(false, e.message);
      if (first) clear(document.getElementById('sections')).append(h('div.panel-err', { text: 'Cannot load /api/pipeline: ' + e.message }));
    }
  }

  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 2000);
})();
