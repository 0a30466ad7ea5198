// The peers' dialects' overhead: p50 of a Python hello world through each adapter (Jobe, Piston,
// Judge0 with wait=true) vs through /api/v1/runs (wait: true), measured interleaved in one run on
// one `codearena up` cluster, so the machine's load hits all four alike. RUNS (default 40) each.
// Then the adapters' own cost apart from any run: the same four requests to an in-process Gateway
// whose backend finishes every run at once (ISOLATED_RUNS, default 2000 each), p50 in µs.
import { startUp } from './up.mjs';
import { buildGateway } from '../dist/src/gateway/server.js';

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
const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs every way `runs` times, in rotated order (no way always follows the same one); ms each. */
async function measure(runs, warm) {
  const lat = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < warm; i++) for (const n of names) await ways[n]();
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length];
      const t = process.hrtime.bigint();
      await ways[n]();
      lat[n].push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  return lat;
}
function report(title, lat, unit, scale) {
  const base = p50(lat['api/v1']);
  console.log(title);
  console.log(`way        p50 ${unit}   vs /api/v1/runs`);
  for (const n of names) {
    const v = p50(lat[n]);
    console.log(`${n.padEnd(10)} ${(v * scale).toFixed(1).padStart(7)}   ${n === 'api/v1' ? '' : `${(((v - base) / base) * 100).toFixed(1)} %`}`);
  }
}

report(`Python hello world, ${RUNS} runs each, interleaved, one cluster (2 Worker processes)`, await measure(RUNS, 3), 'ms', 1);
await up.stop();

// The adapters alone: a Gateway in this process, a backend that ends each run at once.
const LANGS = [{ id: 'python', name: 'Python 3', extensions: ['.py'], version: 'Python 3.11.2' }];
const instant = {
  async start(run, sink) {
    setImmediate(() => {
      sink.started({ worker: 'w', assigner: 'a' });
      sink.output({ seq: 0, stream: 'stdout', data: Buffer.from('hello\n') });
      sink.exit({ status: 'ok', exit_code: 0, signal: null, cpu_time_ms: 10, wall_time_ms: 12, memory_kb: 9000, language: run.language, version: 'Python 3.11.2' });
    });
  },
  write() {}, endInput() {}, kill() {},
  languages: async () => LANGS,
  cluster: () => ({ nodes: [], queue_length: 0, leader: null, term: 0 }),
  queueLength: () => 0,
  close: async () => {},
};
const app = await buildGateway({ backend: instant, auth: { enabled: false, tokens: [] } });
await app.listen({ host: '127.0.0.1', port: PORT });
const ISOLATED_RUNS = Number(process.env.ISOLATED_RUNS ?? 2000);
report(`The same requests to an in-process Gateway whose backend ends each run at once, ${ISOLATED_RUNS} each`, await measure(ISOLATED_RUNS, 200), 'µs', 1000);
await app.close();
process.exit(0);
