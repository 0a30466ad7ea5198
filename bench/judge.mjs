// Judge throughput, measured side by side in one run (ratios, not absolute claims):
//  a class of STUDENTS C submissions x TESTS tests graded as one batch on `codearena up` (2 Worker
//  processes), against the same STUDENTS x TESTS test runs done by a bare loop of sandboxed runs in
//  this process (the runner `codearena exec` uses, 2 at a time like the 2 Workers, each output
//  checked the same way). Both compile once per submission (the loop through the same compile
//  cache), so the ratio is what the cluster's path costs: Gateway, Assigner, Worker, placement.
//  Also: compiles per submission (the Gateway's codearena_judge_compiles_total) and the class's wall time.
//  STUDENTS=5 TESTS=3 npm run bench -- judge for a smoke run.
import { startUp } from './up.mjs';
import { check } from '../dist/src/judge/checkers.js';
import { configureCompileCache } from '../dist/src/sandbox/compile-cache.js';
import { findLanguage } from '../dist/src/sandbox/languages.js';
import { validateLimits } from '../dist/src/sandbox/limits.js';
import { startRun } from '../dist/src/sandbox/runner.js';
import { SandboxPool } from '../dist/src/sandbox/sandbox-process.js';

const STUDENTS = Number(process.env.STUDENTS ?? 100);
const TESTS = Number(process.env.TESTS ?? 10);
const CONCURRENCY = 2;
process.on('uncaughtException', (err) => { console.error(err); process.exit(1); });
process.on('unhandledRejection', (err) => { console.error(err); process.exit(1); });

const tests = Array.from({ length: TESTS }, (_, i) => ({ name: `t${i + 1}`, input: `${i} ${i * 7}\n`, answer: `${i + i * 7}\n` }));
const source = (s) => `// student ${s}\n#include <stdio.h>\nint main(void){ long a, b; if (scanf("%ld %ld", &a, &b) != 2) return 1; printf("%ld\\n", a + b); return 0; }\n`;
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

// 1. The class on the cluster.
const up = await startUp({ args: ['--workers', '2'], port: 18_690, basePort: 18_600 });
const url = up.url;
async function api(method, p, body) {
  const r = await fetch(`${url}${p}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const j = await r.json();
  if (r.status >= 400) throw new Error(`${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}
async function compilesTotal() {
  const m = await (await fetch(`${url}/metrics`)).text();
  return Number(/^codearena_judge_compiles_total (\d+)/m.exec(m)?.[1] ?? 0);
}
let cluster;
try {
  const problem = await api('POST', '/api/v1/problems', { name: 'bench-sum', limits: { cpu_time_limit: 2 }, tests });
  // Warm-up: one submission (sandbox pools, toolchain pages), not counted.
  await api('POST', '/api/v1/submissions', { problem_id: problem.id, language: 'c', source: source('warm-up'), wait: true });
  const compilesBefore = await compilesTotal();
  const t0 = process.hrtime.bigint();
  const batch = await api('POST', '/api/v1/batches', {
    problem_id: problem.id,
    submissions: Array.from({ length: STUDENTS }, (_, s) => ({ student: `s${s}`, language: 'c', source: source(s) })),
  });
  let view;
  for (;;) {
    view = await api('GET', `/api/v1/batches/${batch.id}`);
    if (view.state === 'done') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const wallMs = ms(t0);
  const accepted = view.verdicts.accepted ?? 0;
  if (accepted !== STUDENTS * TESTS) throw new Error(`expected every test accepted: ${JSON.stringify(view.verdicts)}`);
  cluster = { wallMs, testsPerS: (STUDENTS * TESTS) / (wallMs / 1000), compilesPerSubmission: ((await compilesTotal()) - compilesBefore) / STUDENTS };
} finally {
  await up.stop();
}

// 2. The same test runs in a bare loop: the runner in this process, CONCURRENCY at a time.
configureCompileCache({ dir: null });
const pool = new SandboxPool({ workDirKb: validateLimits({}).workDirKb, tmpDirKb: validateLimits({}).workDirKb, size: CONCURRENCY + 1 });
pool.refill();
const limits = validateLimits({ cpuTimeMs: 2000, wallTimeMs: 6000 });
async function runOne(s, t) {
  const h = startRun({ language: findLanguage('c'), source: Buffer.from(source(s)), interactive: false, limits, stdin: Buffer.from(t.input), pool });
  h.endInput();
  const out = [];
  for await (const c of h.chunks) if (c.stream === 'stdout') out.push(Buffer.from(c.data));
  const r = await h.result;
  if (r.status !== 'ok' || check({ kind: 'lines' }, Buffer.from(t.answer), Buffer.concat(out)).verdict !== 'accepted') throw new Error(`loop run failed: ${r.status}`);
  return r.compiled === true;
}
// The same warm-up.
for (const t of tests) await runOne('warm-up', t);
let loopCompiles = 0;
const t1 = process.hrtime.bigint();
// Per student, the first test alone (it compiles), then the rest: the judge's own order.
const queue = [];
for (let s = 0; s < STUDENTS; s++) queue.push(s);
async function lane() {
  for (;;) {
    const s = queue.shift();
    if (s === undefined) return;
    if (await runOne(s, tests[0])) loopCompiles++;
    for (const t of tests.slice(1)) if (await runOne(s, t)) loopCompiles++;
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, lane));
const loopMs = ms(t1);
await pool.stop();
const loop = { wallMs: loopMs, testsPerS: (STUDENTS * TESTS) / (loopMs / 1000), compilesPerSubmission: loopCompiles / STUDENTS };

const f = (x, d = 1) => x.toFixed(d);
console.log(`judge bench: ${STUDENTS} C submissions x ${TESTS} tests = ${STUDENTS * TESTS} test runs, 2 Workers`);
console.log(`  cluster (codearena up, one batch): ${f(cluster.wallMs / 1000, 2)} s, ${f(cluster.testsPerS)} tests/s, ${f(cluster.compilesPerSubmission, 2)} compiles per submission`);
console.log(`  bare loop of sandboxed runs:       ${f(loop.wallMs / 1000, 2)} s, ${f(loop.testsPerS)} tests/s, ${f(loop.compilesPerSubmission, 2)} compiles per submission`);
console.log(`  ratio cluster / loop: ${f((cluster.testsPerS / loop.testsPerS) * 100, 0)}% (target >= 70%)`);
process.exit(0);
