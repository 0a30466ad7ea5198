import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { cliAsync } from '../helpers/cli.js';
import { UpCluster } from '../helpers/up.js';

/**
 * Issue 11's "a batch survives the loss of any single node, the Gateway included", on a
 * `codearena up` cluster: `codearena judge` grades 12 students (given only the Gateway's address),
 * the Gateway is SIGKILLed mid-batch, and the CLI ends on the standby with every student graded —
 * the same batch (adopted, not sent again), one result per student, each equal to grading that
 * student alone; a single submission accepted before the kill finishes on the standby under its
 * id. The Worker and Assigner kills are e2e.test.ts's 40-student batch.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-judge-failover-'));
const cluster = new UpCluster(['--workers', '2']);
let gw = '';

const PROBLEM = {
  name: 'Sum (failover)',
  limits: { cpu_time_limit: 2 },
  tests: [
    { name: 'sample', input: '1 2\n', answer: '3\n', sample: true },
    { name: 'one', input: '5 7\n', answer: '12\n' },
    { name: 'big1', input: '100 200\n', answer: '300\n', group: 'big', points: 1 },
    { name: 'big2', input: '1000000 1\n', answer: '1000001\n', group: 'big', points: 1 },
  ],
};

// Each test sleeps 200 ms so the batch (12 x 4 tests on 2 slots) lasts long enough to kill the Gateway in.
const VARIANTS: Array<[string, string[]]> = [
  ['#include <stdio.h>\n#include <unistd.h>\nint main(){long a,b; scanf("%ld %ld",&a,&b); usleep(200000); printf("%ld\\n",a+b); return 0;}\n', ['AC', 'AC', 'AC', 'AC']],
  ['#include <stdio.h>\n#include <unistd.h>\nint main(){long a,b; scanf("%ld %ld",&a,&b); usleep(200000); printf("%ld\\n", a == 100 ? 0 : a+b); return 0;}\n', ['AC', 'AC', 'WA', 'SK']],
  ['#include <stdio.h>\n#include <unistd.h>\nint main(){long a,b; scanf("%ld %ld",&a,&b); usleep(200000); printf("%ld\\n", a - b); return 0;}\n', ['WA', 'WA', 'WA', 'SK']],
];
const STUDENTS = Array.from({ length: 12 }, (_, i) => {
  const [src, want] = VARIANTS[i % VARIANTS.length] as [string, string[]];
  // A comment makes every source distinct: each student compiles their own.
  return { student: `s${String(i).padStart(2, '0')}`, source: `// student ${i}\n${src}`, want };
});

async function call(base: string, method: string, p: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${base}${p}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(60_000) });
  const text = await r.text();
  assert.ok(r.status < 400, `${method} ${p}: ${r.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Watched { type: string; test?: { test: string }; result?: { state: string; verdict: string } }

/** A live watcher of a submission's stream: every event it gets, and how the socket ended. */
function watch(base: string, id: string): { events: Watched[]; closed: Promise<number> } {
  const events: Watched[] = [];
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v1/submissions/${id}/stream`);
  ws.on('message', (d: Buffer) => events.push(JSON.parse(d.toString()) as Watched));
  ws.on('error', () => {});
  return { events, closed: new Promise((r) => ws.on('close', (code: number) => r(code))) };
}

function log(name: string): string {
  try {
    return readFileSync(path.join(cluster.logDir, `${name}.log`), 'utf8');
  } catch {
    return '';
  }
}

before(async () => {
  await cluster.ready(180_000, 3); // on a machine shared with other work the cluster may not settle at once
  gw = cluster.url;
});
after(() => cluster.stopCleanly());

test('the Gateway SIGKILLed mid-batch: codearena judge ends on the standby with every student graded once, as alone; a single submission finishes there', async () => {
  const problem = (await call(gw, 'POST', '/api/v1/problems', PROBLEM)).id as string;
  // The standby has the problem (its copy is on its disk) before the batch starts.
  const onStandby = () => ['mon-1', 'mon-2'].some((m) => existsSync(path.join(cluster.logDir, 'state', `${m}-gateway`, 'problems', `${problem}.json`)));
  for (let i = 0; i < 300 && !onStandby(); i++) await sleep(100);
  assert.ok(onStandby(), 'the standby copied the problem');

  const cls = path.join(dir, 'class');
  for (const s of STUDENTS) {
    mkdirSync(path.join(cls, s.student), { recursive: true });
    writeFileSync(path.join(cls, s.student, 'main.c'), s.source);
  }
  const csv = path.join(dir, 'out.csv');
  // Only the Gateway's address: the CLI learns the standby's from /api/v1/gateways.
  const judging = cliAsync(['judge', problem, cls, '--gateway', gw, '--csv', csv], { timeoutMs: 150_000 });
  // Kill the Gateway once about a third of the class's tests are done.
  const tests = async () => {
    const m = await (await fetch(`${gw}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    return [...m.matchAll(/^codearena_judge_tests_total\{[^}]*\} (\d+)/gm)].reduce((n, x) => n + Number(x[1]), 0);
  };
  const deadline = Date.now() + 90_000;
  let done = 0;
  while ((done = await tests()) < 16) {
    assert.ok(Date.now() < deadline, `the batch did not progress: ${done} tests`);
    await sleep(100);
  }
  // A single submission whose tests sleep 1 s: it cannot finish in the 2 s before the kill (its first
  // test runs alone, the other three on 2 slots), and the standby copies it (every 0.5 s) meanwhile.
  const slowSolo = (VARIANTS[0]?.[0] as string).replace('usleep(200000)', 'usleep(1000000)');
  const solo = (await call(gw, 'POST', '/api/v1/submissions', { problem_id: problem, language: 'c', source: `// solo\n${slowSolo}`, student: 'solo' })).id as string;
  const before = watch(gw, solo);
  await sleep(2_000);
  const soloAtKill = await call(gw, 'GET', `/api/v1/submissions/${solo}`);
  const view = (await call(gw, 'GET', '/api/v1/cluster')) as { nodes: Array<{ name: string; pid: number | null }> };
  const pid = view.nodes.find((n) => n.name === 'gw')?.pid;
  assert.ok(pid, 'the Gateway has a pid');
  process.kill(pid, 'SIGKILL');
  console.log(`# killed the Gateway at ${await tests().catch(() => done)} batch tests done; the single submission ${soloAtKill.state} at ${soloAtKill.done as number}/4`);
  assert.notEqual(soloAtKill.state, 'done', 'the single submission was unfinished when the Gateway died');
  // A live watcher: its socket closes with the Gateway; connected again to the standby (as soon
  // as it serves) it gets what finished so far, then the rest live, and the result.
  await before.closed;
  assert.ok(!before.events.some((e) => e.type === 'submission_result'), 'no result from the dead Gateway');
  for (let i = 0; i < 300 && !(await UpCluster.healthy(cluster.standbyUrl)); i++) await sleep(100);
  const afterKill = watch(cluster.standbyUrl, solo);

  const r = await judging;
  assert.equal(r.code, 0, `codearena judge: ${r.stderr}\n${r.stdout}`);
  assert.doesNotMatch(r.stderr, /sending the class again/, 'the standby took the batch over; it was not sent again');
  for (const s of STUDENTS) {
    const row = new RegExp(`^${s.student}\\s+\\S+\\s+\\S+\\s+(.+)$`, 'm').exec(r.stdout);
    assert.equal(row?.[1]?.trim(), s.want.join(' '), `${s.student} in the table:\n${r.stdout}`);
  }
  assert.match(r.stdout, /^12\/12 graded/m);

  // The standby serves the same batch: same ids, one row per student, every test once.
  const standby = cluster.standbyUrl;
  assert.ok(await UpCluster.healthy(standby), 'the standby serves');
  const adopted = /"event":"judge_adopted"[^\n]*/.exec(log('mon-1') + log('mon-2'))?.[0] ?? '';
  console.log(`# ${adopted}`);
  assert.match(adopted, /"batches":1/, `the standby adopted the batch: ${adopted}`);
  const toRun = Number(/"testsToRun":(\d+)/.exec(adopted)?.[1]);
  assert.ok(toRun > 0, 'with tests still to run');
  const rows = readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(rows.length, 13, 'a header and 12 students');
  const first = rows[1]?.split(',') as string[];
  const sub = await call(standby, 'GET', `/api/v1/submissions/${first[1]}`);
  const batch = (await call(standby, 'GET', `/api/v1/batches/${sub.batch_id as string}`)) as { state: string; done: number; total: number; tests_done: number; tests_total: number; students: Array<{ student: string; submission_id: string; tests: string[]; score: number }> };
  assert.equal(batch.state, 'done');
  assert.equal(batch.total, 12);
  assert.equal(batch.done, 12);
  assert.equal(batch.tests_done, batch.tests_total, 'every test has exactly one final verdict');
  assert.deepEqual(batch.students.map((s) => s.student), STUDENTS.map((s) => s.student), 'one result per student, in order');
  for (const s of batch.students) {
    assert.deepEqual(s.tests, STUDENTS.find((x) => x.student === s.student)?.want, `${s.student}: ${JSON.stringify(s)}`);
    assert.ok(rows.some((row) => row.startsWith(`${s.student},${s.submission_id},`)), `${s.student}'s CSV row has the same submission id`);
  }
  const csvThere = await (await fetch(`${standby}/api/v1/batches/${sub.batch_id as string}/results.csv`)).text();
  assert.equal(csvThere.trim(), rows.join('\n'), 'the standby\'s CSV is the one the CLI wrote');

  // The single submission finishes on the standby under its id.
  let one: Record<string, unknown> = {};
  for (let i = 0; i < 300; i++) {
    one = await call(standby, 'GET', `/api/v1/submissions/${solo}`);
    if (one.state === 'done') break;
    await sleep(200);
  }
  assert.equal(one.state, 'done');
  assert.equal(one.verdict, 'accepted');
  assert.equal(one.student, 'solo');
  assert.equal(await afterKill.closed, 1000, 'the standby\'s stream ends normally after the result');
  const progress = afterKill.events.filter((e) => e.type === 'submission_progress').map((e) => e.test?.test).sort();
  assert.deepEqual(progress, ['big1', 'big2', 'one', 'sample'], 'each test once on the standby\'s stream');
  const result = afterKill.events.at(-1);
  assert.equal(result?.type, 'submission_result');
  assert.equal(result?.result?.verdict, 'accepted');
  console.log(`# the watcher saw ${before.events.length} events before the kill, ${afterKill.events.length} from the standby`);
  // None duplicated: the new Gateway judged exactly the tests without a copied result, each once.
  const judgedThere = [...(await (await fetch(`${standby}/metrics`)).text()).matchAll(/^codearena_judge_tests_total\{[^}]*\} (\d+)/gm)].reduce((n, x) => n + Number(x[1]), 0);
  assert.equal(judgedThere, toRun, 'tests judged on the standby = tests without a result in its copy');

  // Each student's result is the one grading them alone gives (one of each variant, on the standby).
  for (const i of [0, 1, 2]) {
    const alone = await call(standby, 'POST', '/api/v1/submissions', { problem_id: problem, language: 'c', source: STUDENTS[i]?.source, wait: true });
    const inBatch = batch.students[i] as (typeof batch.students)[number];
    const there = await call(standby, 'GET', `/api/v1/submissions/${inBatch.submission_id}`);
    const verdictsOf = (x: Record<string, unknown>) => (x.tests as Array<{ verdict: string }>).map((t) => t.verdict);
    assert.deepEqual(verdictsOf(alone), verdictsOf(there));
    assert.equal(alone.score, inBatch.score);
  }
});
