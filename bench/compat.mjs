// The peers' dialects' overhead: p50 of a Python hello world through each adapter (Jobe, Piston,
// Judge0 with wait=true) vs through /api/v1/runs (wait: true), measured interleaved in one run on
// one `codearena up` cluster, so the machine's load hits all four alike. RUNS (default 40) each.
import { startUp } from './up.mjs';

const RUNS = Number(process.env.RUNS ?? 40);
const PORT = 19_050;
const up = await startUp({ args: ['--workers', '2'], port: PORT, basePort: 18_900 });
const url = up.url;
process.on('uncaughtException', (err) => { console.error(err); process.exit(1); });
process.on('unhandledRejection', (err) => { console.error(err); process.exit(1); });

const HELLO = 'print("hello")\n';
const json = { 'content-type': 'application/json' };
async function post(path, body, check) {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: json, body: JSON.stringify(body) });
  const j = await r.json();
  if (!check(j)) throw new Error(`${path}: ${JSON.stringify(j).slice(0, 300)}`);
}
const ways = {
  'api/v1': () => post('/api/v1/runs', { language: 'python', source: HELLO, wait: true }, (j) => j.status === 'ok' && j.stdout === 'hello\n'),
  jobe: () => post('/jobe/index.php/restapi/runs', { run_spec: { language_id: 'python3', sourcecode: HELLO, sourcefilename: '__tester__.python3', input: '', file_list: [] } }, (j) => j.outcome === 15 && j.stdout === 'hello\n'),
  piston: () => post('/api/v2/execute', { language: 'python', version: '*', files: [{ content: HELLO }] }, (j) => j.run?.code === 0 && j.run.stdout === 'hello\n'),
  judge0: () => post('/submissions?wait=true', { language_id: 71, source_code: HELLO }, (j) => j.status?.id === 3 && j.stdout === 'hello\n'),
};
const names = Object.keys(ways);
const lat = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < 3; i++) for (const n of names) await ways[n]();
for (let i = 0; i < RUNS; i++) {
  // Rotated order: no way always follows the same one.
  for (let k = 0; k < names.length; k++) {
    const n = names[(i + k) % names.length];
    const t = process.hrtime.bigint();
    await ways[n]();
    lat[n].push(Number(process.hrtime.bigint() - t) / 1e6);
  }
}
await up.stop();
const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = p50(lat['api/v1']);
console.log(`Python hello world, ${RUNS} runs each, interleaved, one cluster (2 Worker processes)`);
console.log('way        p50 ms   vs /api/v1/runs');
for (const n of names) {
  const v = p50(lat[n]);
  console.log(`${n.padEnd(10)} ${v.toFixed(1).padStart(6)}   ${n === 'api/v1' ? '' : `${(((v - base) / base) * 100).toFixed(1)} %`}`);
}
process.exit(0);
