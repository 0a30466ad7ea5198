import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { strToU8, zipSync } from 'fflate';
import WebSocket from 'ws';
import { LocalBackend } from '../../src/gateway/local-backend.js';
import { buildGateway } from '../../src/gateway/server.js';

/**
 * The judge's API on a Gateway over the local backend (this machine's sandbox): verdicts, checkers,
 * groups, samples, batches, CSV, progress, bounds, and problems surviving a restart. The cluster
 * path (Assigners, Workers, failures) is in e2e.test.ts.
 */

let app: FastifyInstance;
let base: string;
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'ca-judge-state-'));

async function start(): Promise<void> {
  app = await buildGateway({ backend: new LocalBackend({ slots: 2, queueMax: 16 }), auth: { enabled: false, tokens: [] }, stateDir });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

before(start);
after(() => app.close());

type Json = Record<string, unknown> & { tests?: Array<Record<string, unknown>> };

async function post(p: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; body: Json }> {
  const r = await fetch(base + p, { method: 'POST', headers, body: body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Json };
}

async function get(p: string): Promise<Json> {
  return (await (await fetch(base + p)).json()) as Json;
}

const DOUBLE = {
  name: 'double',
  limits: { cpu_time_limit: 1, memory_limit: 64 * 1024, output_limit: 64 * 1024 },
  tests: [
    { name: 's1', input: '1\n', answer: '2\n', sample: true },
    { name: 't1', input: '5\n', answer: '10\n' },
    { name: 'g1', input: '7\n', answer: '14\n', group: 'g', points: 2 },
    { name: 'g2', input: '8\n', answer: '16\n', group: 'g', points: 2 },
    { name: 'g3', input: '9\n', answer: '18\n', group: 'g', points: 2 },
  ],
};

async function grade(problemId: string, language: string, source: string): Promise<Json> {
  const r = await post('/api/v1/submissions', { problem_id: problemId, language, source, wait: true });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const verdicts = (v: Json) => (v.tests ?? []).map((t) => t.verdict);

describe('judge API (local backend)', () => {
  let problemId = '';

  test('a JSON problem is stored under its content hash; the same upload again is the same problem', async () => {
    const r = await post('/api/v1/problems', DOUBLE);
    assert.equal(r.status, 201);
    problemId = r.body.id as string;
    const again = await post('/api/v1/problems', DOUBLE);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, problemId);
    const shown = await get(`/api/v1/problems/${problemId}`);
    const tests = shown.tests as Array<Record<string, unknown>>;
    assert.equal(tests[0]?.input, '1\n', 'samples come with their data');
    assert.equal(tests[1]?.input, undefined, 'secret tests do not');
  });

  test('verdicts per test: accepted, wrong answer with the group skipped, time limit, runtime error, output limit, memory limit, compile error once', async () => {
    const ok = await grade(problemId, 'python', 'print(int(input())*2)');
    assert.deepEqual(verdicts(ok), ['accepted', 'accepted', 'accepted', 'accepted', 'accepted']);
    assert.equal(ok.score, 7);
    assert.equal(ok.max_score, 7);
    assert.equal(ok.verdict, 'accepted');
    for (const t of ok.tests ?? []) assert.equal(typeof t.cpu_time_ms, 'number');

    const wrong = await grade(problemId, 'python', 'n=int(input())\nprint(n*2 if n != 7 else 0)');
    assert.deepEqual(verdicts(wrong), ['accepted', 'accepted', 'wrong_answer', 'skipped', 'skipped'], 'the rest of a failed group is skipped');
    assert.equal(wrong.score, 1);
    assert.deepEqual(wrong.tests?.[2]?.diff, { line: 1 }, 'a secret test shows where, not what');
    const wrongSample = await grade(problemId, 'python', 'print(int(input())*2 + 1)');
    assert.deepEqual(wrongSample.tests?.[0]?.diff, { line: 1, expected: '2', got: '3' }, 'a sample shows expected and got');
    assert.equal(wrongSample.tests?.[0]?.output, '3\n');

    const slow = await grade(problemId, 'python', 'while True: pass');
    assert.equal(slow.tests?.[0]?.verdict, 'time_limit');
    const crash = await grade(problemId, 'python', 'import sys\nsys.exit(3)');
    assert.equal(crash.tests?.[0]?.verdict, 'runtime_error');
    assert.equal(crash.tests?.[0]?.exit_code, 3);
    const flood = await grade(problemId, 'python', 'while True: print("x" * 1000)');
    assert.equal(flood.tests?.[0]?.verdict, 'output_limit');
    const hungry = await grade(problemId, 'c', '#include <stdlib.h>\n#include <string.h>\nint main(){ for(int i=0;i<64;i++){ char *p = malloc(16<<20); memset(p, 1, 16<<20);} return 0; }');
    assert.equal(hungry.tests?.[0]?.verdict, 'memory_limit');

    const ce = await grade(problemId, 'c', 'int main( {');
    assert.deepEqual(verdicts(ce), Array(5).fill('compile_error'));
    assert.match(ce.compile_output as string, /error/);
    assert.equal(ce.compiles, 1, 'compiled once, no test ran');

    const c = await grade(problemId, 'c', '#include <stdio.h>\nint main(){int n; scanf("%d",&n); printf("%d\\n", 2*n);}');
    assert.deepEqual(verdicts(c), Array(5).fill('accepted'));
    assert.equal(c.compiles, 1, 'compiled once for five tests');
  });

  test('custom checkers: testlib (argv input output answer; 0/1/7 with points) and one that crashes is internal_error', async () => {
    const checker = [
      'import sys',
      'inp, out, ans = open(sys.argv[1]).read(), open(sys.argv[2]).read(), open(sys.argv[3]).read()',
      'got = int(out.split()[0]) if out.split() else None',
      'want = int(ans)',
      'if got == want: sys.exit(0)',
      'if got is not None and abs(got - want) == 1:',
      '    sys.stderr.write("points 0.5\\noff by one\\n"); sys.exit(7)',
      'sys.stderr.write("expected %d\\n" % want); sys.exit(1)',
    ].join('\n');
    const p = await post('/api/v1/problems', {
      name: 'sum',
      checker: { kind: 'custom', language: 'python', files: [{ name: 'checker.py', content: checker }] },
      tests: [
        { input: '1 2\n', answer: '3\n', points: 2 },
        { input: '10 20\n', answer: '30\n', points: 2 },
      ],
    });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    const exact = await grade(p.body.id as string, 'python', 'print(sum(map(int, input().split())))');
    assert.deepEqual(verdicts(exact), ['accepted', 'accepted']);
    const off = await grade(p.body.id as string, 'python', 'print(sum(map(int, input().split())) + 1)');
    assert.deepEqual(verdicts(off), ['partial', 'partial']);
    assert.equal(off.score, 2);
    assert.match(off.tests?.[0]?.message as string, /off by one/);
    const wrong = await grade(p.body.id as string, 'python', 'print(0)');
    assert.deepEqual(verdicts(wrong), ['wrong_answer', 'wrong_answer']);
    assert.match(wrong.tests?.[0]?.message as string, /expected 3/);

    const broken = await post('/api/v1/problems', {
      name: 'broken-checker',
      checker: { kind: 'custom', language: 'python', files: [{ name: 'checker.py', content: 'raise SystemExit(5)' }] },
      tests: [{ input: '1\n', answer: '1\n' }],
    });
    const v = await grade(broken.body.id as string, 'python', 'print(1)');
    assert.deepEqual(verdicts(v), ['internal_error'], 'a checker exiting 5 never makes an accepted');
    const slowChecker = await post('/api/v1/problems', {
      name: 'slow-checker',
      checker: { kind: 'custom', language: 'python', files: [{ name: 'checker.py', content: 'while True: pass' }] },
      tests: [{ input: '1\n', answer: '1\n' }],
    });
    const s = await grade(slowChecker.body.id as string, 'python', 'print(1)');
    assert.deepEqual(verdicts(s), ['internal_error'], 'a checker that times out is internal_error');
  });

  test('Kattis zips upload; bad and oversized uploads get clear errors', async () => {
    const zip = zipSync({
      'hello/problem.yaml': strToU8('name: Hello\nlimits:\n  time_limit: 1\n'),
      'hello/data/sample/1.in': strToU8(''),
      'hello/data/sample/1.ans': strToU8('hello\n'),
      'hello/data/secret/1.in': strToU8(''),
      'hello/data/secret/1.ans': strToU8('hello\n'),
    });
    const r = await post('/api/v1/problems', zip, { 'content-type': 'application/zip' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.name, 'Hello');
    const v = await grade(r.body.id as string, 'python', 'print("hello")');
    assert.deepEqual(verdicts(v), ['accepted', 'accepted']);

    const traversal = await post('/api/v1/problems', zipSync({ '../x.in': strToU8('1'), 'x.out': strToU8('1') }), { 'content-type': 'application/zip' });
    assert.equal(traversal.status, 400);
    assert.equal(traversal.body.code, 'BAD_PATH');
    const bomb = await post('/api/v1/problems', zipSync({ 'a.in': new Uint8Array(40 * 1024 * 1024), 'a.out': strToU8('1') }, { level: 9 }), { 'content-type': 'application/zip' });
    assert.equal(bomb.status, 413);
    assert.equal(bomb.body.code, 'PACKAGE_TOO_LARGE');
    const missing = await post('/api/v1/problems', zipSync({ 'data/secret/a.in': strToU8('1') }), { 'content-type': 'application/zip' });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error as string, /a\.in has no a\.ans/);
    const huge = await post('/api/v1/problems', new Uint8Array(50 * 1024 * 1024), { 'content-type': 'application/zip' });
    assert.equal(huge.status, 413);
    assert.match(huge.body.error as string, /the problem is over \d+ bytes/);
    const noProblem = await post('/api/v1/submissions', { problem_id: 'nope', language: 'python', source: 'print(1)' });
    assert.equal(noProblem.status, 404);
    const badLang = await post('/api/v1/submissions', { problem_id: problemId, language: 'cobol', source: 'x' });
    assert.equal(badLang.status, 400);
    assert.equal(badLang.body.code, 'UNKNOWN_LANGUAGE');
  });

  test('live progress over the WebSocket: one submission_progress per test, then submission_result', async () => {
    const r = await post('/api/v1/submissions', { problem_id: problemId, language: 'python', source: 'print(int(input())*2)' });
    assert.equal(r.status, 201);
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/v1/submissions/${r.body.id}/stream`);
    const msgs: Array<Record<string, unknown>> = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (d) => msgs.push(JSON.parse(String(d))));
      ws.on('close', () => resolve());
      ws.on('error', reject);
    });
    const progress = msgs.filter((m) => m.type === 'submission_progress');
    assert.equal(progress.length, 5);
    assert.equal(new Set(progress.map((m) => (m.test as { test: string }).test)).size, 5, 'one per test, none twice');
    assert.equal(msgs[msgs.length - 1]?.type, 'submission_result');
  });

  test('a batch: JSON and a zip of folders, per-student scores, the CSV', async () => {
    const zip = zipSync({
      'class/alice/main.py': strToU8('print(int(input())*2)'),
      'class/bob/sol.c': strToU8('#include <stdio.h>\nint main(){int n; scanf("%d",&n); printf("%d\\n", n == 8 ? 0 : 2*n);}'),
      'class/carol/a.py': strToU8('print(0)'),
      'class/__MACOSX/junk': strToU8('x'),
    });
    const r = await post(`/api/v1/batches?problem_id=${problemId}`, zip, { 'content-type': 'application/zip' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.total, 3);
    const id = r.body.id as string;
    let view: Json = {};
    for (let i = 0; i < 120; i++) {
      view = await get(`/api/v1/batches/${id}`);
      if (view.state === 'done') break;
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.equal(view.state, 'done');
    const students = view.students as Array<{ student: string; score: number; tests: string[] }>;
    assert.deepEqual(students.map((s) => [s.student, s.score, s.tests.join(' ')]), [
      ['alice', 7, 'AC AC AC AC AC'],
      ['bob', 1, 'AC AC AC WA SK'],
      ['carol', 0, 'WA WA WA SK SK'],
    ]);
    const csv = await (await fetch(`${base}/api/v1/batches/${id}/results.csv`)).text();
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'student,submission_id,verdict,s1,t1,g1,g2,g3,score,max_score');
    assert.match(lines[2] as string, /^bob,[0-9a-f-]+,wrong_answer,AC,AC,AC,WA,SK,1,7$/);
    const dup = await post('/api/v1/batches', { problem_id: problemId, submissions: [{ student: 'a', language: 'python', source: '1' }, { student: 'a', language: 'python', source: '2' }] });
    assert.equal(dup.status, 400);
    assert.equal(dup.body.code, 'DUPLICATE_STUDENT');
    const tooMany = await post('/api/v1/batches', { problem_id: problemId, submissions: Array.from({ length: 501 }, (_, i) => ({ student: `s${i}`, language: 'python', source: '1' })) });
    assert.equal(tooMany.status, 413);
    assert.equal(tooMany.body.code, 'BATCH_TOO_LARGE');
  });

  test('problems survive a Gateway restart (kept in its state dir)', async () => {
    await app.close();
    await start();
    const shown = await get(`/api/v1/problems/${problemId}`);
    assert.equal(shown.name, 'double');
    const v = await grade(problemId, 'python', 'print(int(input())*2)');
    assert.equal(v.verdict, 'accepted');
  });
});
