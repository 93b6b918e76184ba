// data.mjs - the browser tests' input files: DIR/iss.jsonl (120 ISS-like positions,
// one a minute from 2024-05-01T00:00Z, on a real ground track) and DIR/flares.jsonl
// (12 flares around that day, one whose fields are HTML/script injections, and one
// with a bad time that the job's `validate` sends to flares_store.dlq).
// Also exported for the test, which appends more lines while the page is open.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const T0 = Date.UTC(2024, 4, 1) / 1000;   // 2024-05-01T00:00:00Z, epoch s
export const ISS_POINTS = 120;
export const XSS_CLASS = '<script>window.__xss=1</script>';
export const XSS_NOTE = '"><img src=x onerror="window.__xss=2">';

// wheretheiss.at-shaped position i minutes after T0 (inclination 51.6°, 92.7 min orbit).
export function issAt(i) {
  const t = i * 60;
  const inc = (51.6 * Math.PI) / 180;
  const u = (2 * Math.PI * t) / (92.7 * 60);
  const lat = (Math.asin(Math.sin(inc) * Math.sin(u)) * 180) / Math.PI;
  let lon = (Math.atan2(Math.cos(inc) * Math.sin(u), Math.cos(u)) * 180) / Math.PI - 30 - (360 * t) / 86164;
  lon = ((((lon + 180) % 360) + 360) % 360) - 180;
  return {
    name: 'iss', id: 25544,
    latitude: lat.toFixed(4), longitude: lon.toFixed(4),     // strings, like open-notify
    altitude: 418 + 4 * Math.sin(u), velocity: 27580 + 20 * Math.cos(u),
    visibility: Math.cos(u) > 0 ? 'daylight' : 'eclipsed',
    timestamp: T0 + t,
  };
}

const iso = (s) => new Date(s * 1000).toISOString().replace(':00.000Z', 'Z');
export const FLARES = [
  ['2024-04-25T03:10Z', 35, 'C3.1'], ['2024-04-26T11:02Z', 48, 'M1.2'], ['2024-04-27T07:45Z', 22, 'C8.4'],
  ['2024-04-28T18:30Z', 61, 'X1.0'], ['2024-04-29T09:12Z', 15, 'B9.0'], ['2024-04-30T14:00Z', 90, 'M5.2'],
  ['2024-05-01T01:20Z', 40, 'C2.2'], ['2024-05-01T06:05Z', 55, 'M2.7'], ['2024-05-01T20:40Z', 30, 'C5.5'],
  ['2024-05-02T04:15Z', 75, 'X2.3'], ['2024-05-02T12:50Z', 25, 'C1.1'], ['2024-05-02T22:05Z', 45, 'M1.9'],
].map(([begin, mins, cls], i) => {
  const b = Date.parse(begin.replace('Z', ':00Z')) / 1000;
  return { flrID: `2024-flr-${String(i + 1).padStart(2, '0')}`, classType: cls, beginTime: iso(b), endTime: iso(b + mins * 60), note: `flare ${i + 1}` };
});
export const BAD_FLARE = { flrID: 'bad-1', classType: 'C1.0', beginTime: 'not a time', endTime: 'later', note: 'bad time' };
export const XSS_FLARE = { flrID: 'xss-1', classType: XSS_CLASS, beginTime: '2024-05-01T00:30Z', endTime: '2024-05-01T00:50Z', note: XSS_NOTE };

export function writeAll(dir) {
  mkdirSync(dir, { recursive: true });
  const lines = [];
  for (let i = 0; i < ISS_POINTS; i++) lines.push(JSON.stringify(issAt(i)));
  writeFileSync(join(dir, 'iss.jsonl'), lines.join('\n') + '\n');
  writeFileSync(join(dir, 'flares.jsonl'), [...FLARES, XSS_FLARE, BAD_FLARE].map((f) => JSON.stringify(f)).join('\n') + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) writeAll(process.argv[2] || '.');
