// dashboard.test.mjs - browser tests of the dashboard (`/`) and the pipeline page
// (`/pipeline`) served by build/sluice, run by tests/e2e/run.sh, which starts sluice on
// tests/e2e/pipeline.yaml and passes E2E_URL (the server), E2E_DIR (its input files)
// and E2E_OUT (where screenshots go).  Waits poll the page up to a deadline; nothing
// asserts on timing.  Every test leaves a screenshot in E2E_OUT/<test>.png.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ISS_POINTS, FLARES, XSS_CLASS, XSS_NOTE, issAt } from './data.mjs';

const BASE = process.env.E2E_URL || 'http://127.0.0.1:8080';
const DIR = process.env.E2E_DIR;
const OUT = process.env.E2E_OUT || 'tests/out/e2e';
const FLARE_ROWS = FLARES.length + 1;          // + the injection one (the bad one is dead-lettered)
const DEADLINE = 15000;

let browser, context, page;
const problems = [];                           // page errors, console errors, CSP violations
const offsite = [];                            // requests that left 127.0.0.1

before(async () => {
  mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1366, height: 900 }, timezoneId: 'UTC', locale: 'en-US' });
  context.on('request', (r) => { if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) offsite.push(r.url()); });
  page = await newPage();
});

after(async () => { await browser?.close(); });

afterEach(async (t) => {
  const name = t.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
  try { await page.screenshot({ path: join(OUT, name + '.png'), fullPage: true }); } catch (_) { /* page gone */ }
});

async function newPage() {
  const p = await context.newPage();
  p.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  p.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  await p.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
  });
  return p;
}

/* Poll fn (run in the page) until it returns a truthy value; fail with the last value. */
async function until(fn, arg, what, ms = DEADLINE) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await page.evaluate(fn, arg);
    if (last && last.ok !== false) return last;
    if (Date.now() > end) assert.fail(`${what}: still ${JSON.stringify(last)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const panelData = (id) => page.evaluate((pid) => {
  const p = document.getElementById('panel-' + pid);
  return p ? { ...p.dataset, err: p.querySelector('.panel-err').textContent } : null;
}, id);

/* Wait until panel `id` shows `count` (a number or a predicate source). */
function waitCount(id, want, what) {
  return until(([pid, w]) => {
    const p = document.getElementById('panel-' + pid);
    const n = p ? Number(p.dataset.count) : NaN;
    const ok = Array.isArray(w) ? n >= w[0] && n <= w[1] : n === w;
    return { ok, count: n, err: p && p.querySelector('.panel-err').textContent };
  }, [id, want], what);
}

/* Hover `loc` until the tooltip shows (the first hover may scroll, which hides it). */
async function hoverTip(loc, what) {
  const end = Date.now() + DEADLINE;
  for (;;) {
    await loc.hover();
    const t = await page.evaluate(() => {
      const el = document.querySelector('.tooltip');
      return el && !el.hidden ? { text: el.textContent } : null;
    });
    if (t) return t;
    if (Date.now() > end) assert.fail(what + ': no tooltip');
  }
}

async function setRange(scope, from, to) {
  const f = page.locator(scope + ' input[type=datetime-local]').first();
  const t = page.locator(scope + ' input[type=datetime-local]').nth(1);
  await f.fill(from);
  await t.fill(to);
  await t.dispatchEvent('change');
}

// Panels of tests/e2e/pipeline.yaml, in order.
const P = { flares: 'p0', bitcoin: 'p1', bar: 'p2', map: 'p3', line: 'p4', timeline: 'p5', table: 'p6' };

test('dashboard loads every panel from /api/dashboard', async () => {
  await page.goto(BASE + '/');
  assert.equal(await page.textContent('#title'), 'Space and markets (e2e)');
  await until(() => {
    const ps = [...document.querySelectorAll('.panel')];
    return { ok: ps.length === 7 && ps.every((p) => Number(p.dataset.loaded) > 0), n: ps.length, loaded: ps.map((p) => p.dataset.loaded || 0) };
  }, null, 'every panel loaded');
  for (const id of Object.values(P)) assert.equal((await panelData(id)).err, '', 'no error in panel ' + id);
  // every panel has data once the sinks have written everything
  await waitCount(P.flares, FLARE_ROWS, 'flare count');
  const bitcoin = await until(() => {
    const v = document.querySelector('#panel-p1 .stat-value');
    return { ok: !!v && v.textContent !== '—', text: v && v.textContent };
  }, null, 'bitcoin stat');
  assert.match(bitcoin.text, /^\d{2},\d{3}(\.\d+)?$/);
  await waitCount(P.bar, 3, 'bars per coin');
});

test('map draws the ISS track with one point per position', async () => {
  await waitCount(P.map, ISS_POINTS, 'map points');
  const m = await page.evaluate(() => {
    const svg = document.querySelector('#panel-p3 svg');
    return {
      points: svg.querySelectorAll('circle.pt').length,
      land: svg.querySelectorAll('path.land').length,
      track: (svg.querySelector('path.track').getAttribute('d') || '').length,
      legend: [...document.querySelectorAll('#panel-p3 .legend-item')].map((e) => e.textContent),
    };
  });
  assert.equal(m.points, ISS_POINTS);
  assert.ok(m.land > 100, 'country outlines drawn: ' + m.land);
  assert.ok(m.track > 100, 'track drawn');
  assert.deepEqual(m.legend, ['daylight', 'eclipsed']);
  // hovering a point shows its fields
  const tip = await hoverTip(page.locator('#panel-p3 circle.pt').nth(10), 'map tooltip');
  assert.match(tip.text, /latitude/);
  assert.match(tip.text, /2024-05-01T00:10:00/);
});

test('line chart has one series per coin', async () => {
  await waitCount(P.line, 150, 'price points');
  const d = await panelData(P.line);
  assert.equal(d.series, '3');
  const labels = await page.evaluate(() =>
    [...document.querySelectorAll('#panel-p4 .u-legend .u-series')].slice(1).map((e) => e.querySelector('.u-label').textContent));
  assert.deepEqual(labels, ['bitcoin', 'ethereum', 'solana']);
  assert.equal(await page.locator('#panel-p4 canvas').count(), 1);
});

test('table shows the rows, sorted and paged', async () => {
  await waitCount(P.table, FLARE_ROWS, 'table rows');
  const t = await page.evaluate(() => ({
    head: [...document.querySelectorAll('#panel-p6 th')].map((e) => e.textContent),
    first: [...document.querySelectorAll('#panel-p6 tbody tr')].map((r) => r.cells[0].textContent),
    info: document.querySelector('#panel-p6 .page-info').textContent,
  }));
  assert.deepEqual(t.head, ['flr_id', 'class_type', 'begin_time', 'end_time', 'duration_s', 'note']);
  assert.equal(t.first[0], '2024-flr-12', 'newest first (order: begin_time desc)');
  assert.equal(t.first.at(-1), '2024-flr-01');
  assert.equal(t.info, `1–${FLARE_ROWS} of ${FLARE_ROWS}`);
  // click a header: sorted by it, ascending
  await page.click('#panel-p6 th:text-is("flr_id")');
  await until(() => document.querySelector('#panel-p6 tbody tr').cells[0].textContent === '2024-flr-01', null, 'sorted by flr_id');
  // timeline draws one bar per flare
  await waitCount(P.timeline, FLARE_ROWS, 'timeline intervals');
  assert.equal(await page.locator('#panel-p5 rect.iv').count(), FLARE_ROWS);
});

test('changing the date range changes the counts', async () => {
  // 2024-05-01 00:00 .. 00:59 (the page runs in UTC): one ISS point a minute
  await setRange('#rangebar', '2024-05-01T00:00', '2024-05-01T00:59');
  await waitCount(P.map, [59, 60], 'map points in the hour');
  await waitCount(P.line, 36, 'prices in the hour (12 per coin)');
  await waitCount(P.table, 1, 'flares in the hour');
  await waitCount(P.flares, 1, 'flare count in the hour');
  assert.match(page.url(), /#from=2024-05-01T00%3A00/);
  // a panel's own range overrides the page's: the map alone shows 01:00..01:29
  await page.click('#panel-p3 .panel-head .icon-btn');
  await setRange('#panel-p3 .panel-range', '2024-05-01T01:00', '2024-05-01T01:29');
  await waitCount(P.map, [29, 30], 'map points in its own half hour');
  assert.equal(Number((await panelData(P.table)).count), 1, 'the table keeps the page range');
  await page.click('#panel-p3 button:text-is("Use page range")');
  await waitCount(P.map, [59, 60], 'map back on the page range');
  // all time again
  await page.click('#quick button[data-range=all]');
  await waitCount(P.map, ISS_POINTS, 'map points of all time');
  await waitCount(P.table, FLARE_ROWS, 'table rows of all time');
  // a relative range finds nothing in 2024's data
  await page.click('#quick button[data-range="7d"]');
  await waitCount(P.map, 0, 'no points in the last 7 days');
  await page.click('#quick button[data-range=all]');
  await waitCount(P.map, ISS_POINTS, 'map points of all time');
});

test('records added after the page loaded appear without a reload', async () => {
  assert.ok(DIR, 'E2E_DIR is set');
  await page.evaluate(() => { window.__noReload = true; });
  appendFileSync(join(DIR, 'iss.jsonl'), JSON.stringify(issAt(ISS_POINTS)) + '\n');
  appendFileSync(join(DIR, 'flares.jsonl'), JSON.stringify({
    flrID: '2024-flr-13', classType: 'X9.9', beginTime: '2024-05-03T01:00Z', endTime: '2024-05-03T02:00Z', note: 'late arrival',
  }) + '\n');
  await waitCount(P.map, ISS_POINTS + 1, 'the new ISS position on the map');
  await waitCount(P.table, FLARE_ROWS + 1, 'the new flare in the table');
  await until(() => document.querySelector('#panel-p6 tbody tr').cells[0].textContent === '2024-flr-13' ||
    [...document.querySelectorAll('#panel-p6 tbody td')].some((td) => td.textContent === '2024-flr-13'), null, 'new flare row');
  await waitCount(P.flares, FLARE_ROWS + 1, 'flare count');
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
});

test('values from data render as text: no script runs, no element is made', async () => {
  const r = await page.evaluate(([cls, note]) => {
    const tds = [...document.querySelectorAll('#panel-p6 td')].map((td) => td.textContent);
    return {
      xss: window.__xss, imgs: document.querySelectorAll('img').length,
      scripts: document.scripts.length, cls: tds.includes(cls), note: tds.includes(note),
      legend: [...document.querySelectorAll('#panel-p5 .legend-item')].map((e) => e.textContent),
    };
  }, [XSS_CLASS, XSS_NOTE]);
  assert.equal(r.xss, undefined, 'no injected script ran');
  assert.equal(r.imgs, 0, 'no img element');
  assert.equal(r.scripts, 6, 'only the page\'s own scripts');
  assert.ok(r.cls, 'the <script> class shows as text in the table');
  assert.ok(r.note, 'the "><img ...> note shows as text in the table');
  assert.ok(r.legend.includes('<'), 'the timeline legend shows "<" as text');
  // the flare's tooltip on the timeline shows it as text too
  const bars = page.locator('#panel-p5 rect.iv');
  let seen = '';
  for (let i = 0, n = await bars.count(); i < n && !seen; i++) {
    const { text } = await hoverTip(bars.nth(i), 'timeline tooltip');
    if (text.includes(XSS_CLASS)) seen = text;
  }
  assert.ok(seen.includes(XSS_NOTE), 'tooltip of the injected flare shows its fields as text');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.evaluate(() => document.querySelectorAll('img').length), 0);
});

test('static files: only the embedded ones, no path traversal', async () => {
  for (const [path, want] of [['/', 200], ['/pipeline', 200], ['/static/app.js', 200], ['/static/countries-110m.json', 200],
    ['/static/../src/web.c', 404], ['/static/%2e%2e/%2e%2e/Makefile', 404], ['/static//app.js', 404],
    ['/static/app.js/', 404], ['/../../etc/passwd', 404], ['/static/', 404], ['/web/src/app.js', 404]]) {
    const res = await fetch(BASE + path, { redirect: 'manual' });
    assert.equal(res.status, want, path);
  }
  const res = await fetch(BASE + '/static/app.js');
  assert.match(res.headers.get('content-type'), /javascript/);
  const etag = res.headers.get('etag');
  if (etag) assert.equal((await fetch(BASE + '/static/app.js', { headers: { 'If-None-Match': etag } })).status, 304);
});

test('pipeline page shows sources, topics, jobs, sinks and the DLQ browser', async () => {
  await page.goto(BASE + '/pipeline');
  const s = await until(() => {
    const secs = [...document.querySelectorAll('.section[data-section]')].map((e) => e.dataset.section);
    return { ok: ['sources', 'topics', 'jobs', 'sinks'].every((x) => secs.includes(x)), secs };
  }, null, 'pipeline sections');
  assert.deepEqual(s.secs.slice(0, 4), ['sources', 'topics', 'jobs', 'sinks']);
  const names = await page.evaluate(() => ({
    sources: [...document.querySelectorAll('#sec-sources tbody tr')].map((r) => r.cells[0].textContent),
    jobs: [...document.querySelectorAll('#sec-jobs tbody tr')].map((r) => r.cells[0].textContent),
    topics: [...document.querySelectorAll('#sec-topics tbody tr')].map((r) => r.cells[0].textContent),
  }));
  assert.deepEqual(names.sources, ['iss', 'tickers', 'flares']);
  assert.deepEqual(names.jobs, ['iss_store', 'prices_store', 'flares_store']);
  assert.ok(names.topics.includes('iss.positions') && names.topics.includes('flares_store.dlq'));
  await page.click('#sec-jobs button[data-job=flares_store]');
  const dlq = await until(() => {
    const d = document.getElementById('dlq');
    return { ok: !!d && d.querySelectorAll('.dlq-list li').length >= 1, text: d && d.textContent };
  }, null, 'dead letters of flares_store');
  assert.match(dlq.text, /flares_store\.dlq/);
  assert.match(dlq.text, /bad-1/);
  assert.match(dlq.text, /not a time/);
});

test('phone width: one column, nothing wider than the screen', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, timezoneId: 'UTC' });
  const old = page;
  page = await phone.newPage();
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  try {
    await page.goto(BASE + '/');
    await waitCount(P.map, ISS_POINTS + 1, 'map on a phone');
    await waitCount(P.table, FLARE_ROWS + 1, 'table on a phone');
    const m = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth,
      lefts: [...new Set([...document.querySelectorAll('.panel')].map((p) => Math.round(p.getBoundingClientRect().left)))],
    }));
    assert.ok(m.scroll <= m.width + 1, `page is ${m.scroll}px wide on a ${m.width}px screen`);
    assert.equal(m.lefts.length, 1, 'one column');
    await page.screenshot({ path: join(OUT, 'phone-dashboard.png'), fullPage: true });
    await page.goto(BASE + '/pipeline');
    await page.waitForSelector('#sec-jobs tbody tr');
    const w = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(w <= 1, 'pipeline page fits the screen (its tables scroll inside)');
  } finally {
    await page.screenshot({ path: join(OUT, 'phone-pipeline.png'), fullPage: true }).catch(() => {});
    page = old;
    await phone.close();
  }
});

test('dark mode', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(BASE + '/');
  await waitCount(P.map, ISS_POINTS + 1, 'map in dark mode');
  await waitCount(P.line, 150, 'line in dark mode');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(bg, 'rgb(244, 246, 249)', 'the dark background is used');
});

test('no page errors, no CSP violations, nothing loaded from outside', () => {
  assert.deepEqual(problems, []);
  assert.deepEqual(offsite, []);
});
