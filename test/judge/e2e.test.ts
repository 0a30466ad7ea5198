import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliAsync } from '../helpers/cli.js';
import { UpCluster } from '../helpers/up.js';

/**
 * The judge on a `codearena up` cluster (2 Worker processes, an Assigner buddy pair): a Kattis
 * folder through the CLI, the verdict of every kind in C, C++, Python and Java, a Kattis output
 * validator, group skipping, and a 40-student batch that loses a Worker process and then an
 * Assigner mid-way and still ends with exactly one result per student, each equal to grading that
 * student alone.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-judge-e2e-'));
const cluster = new UpCluster(['--workers', '2']);
let url = '';

function tree(root: string, files: Record<string, string>): string {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return root;
}

const SUM = tree(path.join(dir, 'sum'), {
  'problem.yaml': 'name: Sum\nlimits:\n  time_limit: 2\n  memory: 256\n  output: 1\n',
  'data/sample/1.in': '1 2\n',
  'data/sample/1.ans': '3\n',
  'data/secret/1.in': '5 7\n',
  'data/secret/1.ans': '12\n',
  'data/secret/big/1.in': '100 200\n',
  'data/secret/big/1.ans': '300\n',
  'data/secret/big/2.in': '1000000 1\n',
  'data/secret/big/2.ans': '1000001\n',
});

const SOLUTIONS: Record<string, [string, string, string[]]> = {
  c_ok: ['main.c', '#include <stdio.h>\nint main(){long a,b; scanf("%ld %ld",&a,&b); printf("%ld\\n",a+b); return 0;}\n', ['AC', 'AC', 'AC', 'AC']],
  cpp_ok: ['main.cpp', '#include <iostream>\nint main(){long a,b; std::cin>>a>>b; std::cout<<a+b<<std::endl;}\n', ['AC', 'AC', 'AC', 'AC']],
  py_ok: ['main.py', 'a, b = map(int, input().split())\nprint(a + b)\n', ['AC', 'AC', 'AC', 'AC']],
  java_ok: ['Main.java', 'import java.util.*;\npublic class Main { public static void main(String[] x) { Scanner s = new Scanner(System.in); long a = s.nextLong(), b = s.nextLong(); System.out.println(a + b); } }\n', ['AC', 'AC', 'AC', 'AC']],
  c_wrong: ['main.c', '#include <stdio.h>\nint main(){long a,b; scanf("%ld %ld",&a,&b); printf("%ld\\n", a == 100 ? 0 : a+b); return 0;}\n', ['AC', 'AC', 'WA', 'SK']],
  c_slow: ['main.c', 'int main(){ volatile long x = 0; for(;;) x++; }\n', ['TLE', 'TLE', 'TLE', 'SK']],
  c_mem: ['main.c', '#include <stdlib.h>\n#include <string.h>\nint main(){ for(int i=0;i<64;i++){ char *p = malloc(16<<20); memset(p, 1, 16<<20);} return 0; }\n', ['MLE', 'MLE', 'MLE', 'SK']],
  c_crash: ['main.c', 'int main(){ volatile int *p = 0; *p = 1; return 0; }\n', ['RE', 'RE', 'RE', 'SK']],
  cpp_ce: ['main.cpp', 'int main( {\n', ['CE', 'CE', 'CE', 'CE']],
  py_flood: ['main.py', 'while True: print("x" * 1000)\n', ['OLE', 'OLE', 'OLE', 'SK']],
};

async function api(method: string, p: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}${p}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  assert.ok(r.status < 400, `${method} ${p}: ${r.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

interface Student { student: string; submission_id: string; state: string; verdict: string | null; score: number; tests: Array<string | null> }

async function waitBatch(id: string, onProgress?: (v: { tests_done: number; tests_total: number }) => Promise<void>, timeoutMs = 240_000): Promise<{ state: string; students: Student[]; done: number; total: number; tests_done: number; tests_total: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = (await api('GET', `/api/v1/batches/${id}`)) as unknown as { state: string; students: Student[]; done: number; total: number; tests_done: number; tests_total: number };
    if (v.state === 'done') return v;
    if (onProgress) await onProgress(v);
    assert.ok(Date.now() < deadline, `batch ${id} not done: ${v.tests_done}/${v.tests_total}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  await cluster.ready(180_000, 3); // on a machine shared with other work the cluster may not settle at once
  url = cluster.url;
});
after(() => cluster.stopCleanly());

describe('judge on a `codearena up` cluster', () => {
  let sumId = '';

  test('codearena judge: a Kattis folder and a class folder, a table, the CSV, exit 0 when all graded', async () => {
    const cls = tree(path.join(dir, 'class1'), { 'ann/main.c': SOLUTIONS.c_ok?.[1] as string, 'ben/sol.py': 'print(0)\n' });
    const csv = path.join(dir, 'out.csv');
    const r = await cliAsync(['judge', SUM, cls, '--gateway', url, '--csv', csv], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^ann\s+accepted\s+3\/3\s+AC AC AC AC$/m);
    assert.match(r.stdout, /^ben\s+wrong_answer\s+0\/3\s+WA WA WA SK$/m);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(rows[0], 'student,submission_id,verdict,sample/1,secret/1,secret/big/1,secret/big/2,score,max_score');
    assert.equal(rows.length, 3);
    const problems = (await (await fetch(`${url}/api/v1/problems`)).json()) as Array<{ id: string; name: string }>;
    sumId = problems.find((p) => p.name === 'Sum')?.id ?? '';
    assert.ok(sumId);
    const one = await cliAsync(['judge', sumId, path.join(cls, 'ann', 'main.c'), '--gateway', url, '--json'], { timeoutMs: 60_000 });
    assert.equal(one.code, 0, one.stderr);
    assert.equal((JSON.parse(one.stdout) as { students: Student[] }).students[0]?.verdict, 'accepted');
    const bad = await cliAsync(['judge', path.join(dir, 'nope'), cls, '--gateway', url]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /nope is neither a problem folder/);
  });

  test('every verdict, in C, C++, Python and Java, per test; compiled once per submission', async () => {
    const b = await api('POST', '/api/v1/batches', {
      problem_id: sumId,
      // A comment of their own: sources unlike the CLI test's, so each compiles here (the cache would have them).
      submissions: Object.entries(SOLUTIONS).map(([student, [name, content]]) => ({ student, files: [{ name, content: `${name.endsWith('.py') ? '#' : '//'} verdicts\n${content}` }] })),
    });
    const v = await waitBatch(b.id as string);
    for (const s of v.students) {
      assert.deepEqual(s.tests, SOLUTIONS[s.student]?.[2], `${s.student}: ${JSON.stringify(s)}`);
    }
    for (const name of ['c_ok', 'cpp_ok', 'java_ok']) {
      const s = v.students.find((x) => x.student === name) as Student;
      const sub = await api('GET', `/api/v1/submissions/${s.submission_id}`);
      assert.equal(sub.compiles, 1, `${name} compiled once for its 4 tests`);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^codearena_judge_compiles_total \d+/m);
  });

  test('a Kattis output validator runs in the sandbox on the cluster', async () => {
    const p = tree(path.join(dir, 'validated'), {
      'problem.yaml': 'name: Any multiple\nvalidation: custom\n',
      'data/secret/1.in': '3\n',
      'data/secret/1.ans': '3\n',
      'data/secret/2.in': '5\n',
      'data/secret/2.ans': '5\n',
      'output_validators/mult/validator.py': 'import sys\nn = int(open(sys.argv[1]).read())\ngot = sys.stdin.read().split()\nok = len(got) == 1 and got[0].lstrip("-").isdigit() and int(got[0]) % n == 0 and int(got[0]) != 0\nsys.exit(42 if ok else 43)\n',
    });
    const cls = tree(path.join(dir, 'class2'), { 'kim/main.py': 'n = int(input())\nprint(n * 7)\n', 'lee/main.py': 'print(1)\n' });
    const r = await cliAsync(['judge', p, cls, '--gateway', url, '--json'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout) as { students: Student[] };
    assert.deepEqual(v.students.map((s) => [s.student, s.tests.join(' ')]), [['kim', 'AC AC'], ['lee', 'WA WA']]);
  });

  test('40 students; a Worker process and then an Assigner killed mid-batch: 40 results, each once, each as graded alone', async () => {
    // Each test sleeps 150 ms so the batch (40 x 4 tests on 2 slots) lasts long enough to kill things in.
    const variants: Array<[string, string[]]> = [
      ['#include <stdio.h>\n#include <unistd.h>\nint main(){long a,b; scanf("%ld %ld",&a,&b); usleep(150000); printf("%ld\\n",a+b); return 0;}\n', ['AC', 'AC', 'AC', 'AC']],
      ['#include <stdio.h>\n#include <unistd.h>\nint main(){long a,b; scanf("%ld %ld",&a,&b); usleep(150000); printf("%ld\\n", a == 100 ? 0 : a+b); return 0;}\n', ['AC', 'AC', 'WA', 'SK']],
      ['#include <stdio.h>\n#include <unistd.h>\nint main(){long a,b; scanf("%ld %ld",&a,&b); usleep(150000); printf("%ld\\n", a - b); return 0;}\n', ['WA', 'WA', 'WA', 'SK']],
    ];
    const subs = Array.from({ length: 40 }, (_, i) => {
      // A comment makes every source distinct: each student compiles their own.
      const [src, want] = variants[i % variants.length] as [string, string[]];
      return { student: `s${String(i).padStart(2, '0')}`, language: 'c', source: `// student ${i}\n${src}`, want };
    });
    const b = await api('POST', '/api/v1/batches', { problem_id: sumId, submissions: subs.map(({ want: _w, ...s }) => s) });
    let killedWorker = false;
    let killedAssigner = false;
    const v = await waitBatch(b.id as string, async (p) => {
      const view = (await api('GET', '/api/v1/cluster')) as { nodes: Array<{ name: string; role: string; state: string; pid: number | null; runs: number }> };
      if (!killedWorker && p.tests_done >= p.tests_total * 0.2) {
        const w = view.nodes.find((n) => n.role === 'worker' && n.state === 'alive' && /-w\d+$/.test(n.name) && n.pid);
        assert.ok(w?.pid, 'a Worker process to kill');
        process.kill(w.pid, 'SIGKILL');
        killedWorker = true;
        console.log(`# killed Worker ${w.name} at ${p.tests_done}/${p.tests_total} tests`);
      } else if (killedWorker && !killedAssigner && p.tests_done >= p.tests_total * 0.5) {
        const a = view.nodes.find((n) => n.role === 'assigner' && n.state === 'alive' && n.pid);
        assert.ok(a?.pid, 'an Assigner to kill');
        process.kill(a.pid, 'SIGKILL');
        killedAssigner = true;
        console.log(`# killed Assigner ${a.name} at ${p.tests_done}/${p.tests_total} tests`);
      }
    });
    assert.ok(killedWorker && killedAssigner, 'both faults happened mid-batch');
    assert.equal(v.total, 40);
    assert.equal(v.done, 40);
    assert.equal(v.tests_done, v.tests_total, 'every test has exactly one final verdict');
    assert.equal(new Set(v.students.map((s) => s.student)).size, 40, 'one result per student');
    for (const s of v.students) {
      const want = subs.find((x) => x.student === s.student)?.want;
      assert.deepEqual(s.tests, want, `${s.student}: ${JSON.stringify(s)}`);
    }
    // Grading one of each variant alone gives the same result as in the batch.
    for (const i of [0, 1, 2]) {
      const alone = await api('POST', '/api/v1/submissions', { problem_id: sumId, language: 'c', source: subs[i]?.source, wait: true });
      const inBatch = v.students[i] as Student;
      const batched = await api('GET', `/api/v1/submissions/${inBatch.submission_id}`);
      const verdictsOf = (x: Record<string, unknown>) => (x.tests as Array<{ verdict: string }>).map((t) => t.verdict);
      assert.deepEqual(verdictsOf(alone), verdictsOf(batched));
      assert.equal(alone.score, inBatch.score);
    }
  });

  test('the standby holds the problems: after the Gateway is killed it grades on them', async () => {
    const ids = ((await (await fetch(`${url}/api/v1/problems`)).json()) as Array<{ id: string }>).map((p) => p.id).sort();
    assert.ok(ids.includes(sumId));
    // The standby copies the Gateway's problems every 2 s; give it a few rounds.
    const monLogs = () => ['mon-1', 'mon-2'].map((n) => { try { return readFileSync(path.join(cluster.logDir, `${n}.log`), 'utf8'); } catch { return ''; } }).join('');
    for (let i = 0; i < 100 && !/"event":"gateway_standby","acting":true/.test(monLogs()); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 8_000));
    const view = (await api('GET', '/api/v1/cluster')) as { nodes: Array<{ name: string; pid: number | null }> };
    const pid = view.nodes.find((n) => n.name === 'gw')?.pid;
    assert.ok(pid, 'the Gateway has a pid');
    process.kill(pid, 'SIGKILL');
    let served = false;
    for (let i = 0; i < 300 && !served; i++) {
      served = await UpCluster.healthy(cluster.standbyUrl);
      if (!served) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(served, 'the standby serves');
    url = cluster.standbyUrl;
    const there = ((await (await fetch(`${url}/api/v1/problems`)).json()) as Array<{ id: string }>).map((p) => p.id).sort();
    assert.deepEqual(there, ids, 'every problem is on the standby');
    const alone = await api('POST', '/api/v1/submissions', { problem_id: sumId, language: 'python', source: SOLUTIONS.py_ok?.[1], wait: true });
    assert.equal(alone.verdict, 'accepted');
  });
});
