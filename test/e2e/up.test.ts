import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliAsync } from '../helpers/cli.js';
import { UpCluster } from '../helpers/up.js';
import { WsClient } from '../helpers/ws-client.js';

const HELLO: Record<string, [string, string]> = {
  c: ['hello.c', '#include <stdio.h>\nint main(void){puts("Hello, world!");return 0;}\n'],
  cpp: ['hello.cpp', '#include <iostream>\nint main(){std::cout<<"Hello, world!"<<std::endl;}\n'],
  python: ['hello.py', 'print("Hello, world!")\n'],
  java: ['Main.java', 'public class Main { public static void main(String[] a) { System.out.println("Hello, world!"); } }\n'],
  javascript: ['hello.js', 'console.log("Hello, world!");\n'],
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-e2e-'));
const cluster = new UpCluster(['--workers', '2', '--auth', '--queue-max', '2']);
let url = '';

before(async () => {
  await cluster.ready();
  url = cluster.url;
});
after(() => cluster.stopCleanly());

/** The process id of Worker process `name` (wrk-1-wN) of this cluster. */
function workerPid(name: string): number {
  const index = /-w(\d+)$/.exec(name)?.[1];
  assert.ok(index !== undefined, `not a Worker process name: ${name}`);
  const pid = execFileSync('pgrep', ['-f', '--', `worker-proc --config-stdin --host wrk-1 --index ${index} --state-dir ${cluster.logDir}/state`], { encoding: 'utf8' }).trim().split('\n')[0];
  return Number(pid);
}

/** Waits until the run is running and names the Worker running it. */
async function runningWorker(id: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const v = (await (await fetch(`${url}/api/v1/runs/${id}`, { headers: cluster.headers() })).json()) as { status: string; worker: string | null };
    if (v.status === 'running' && v.worker) return v.worker;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`run ${id} never ran`);
}

async function post(body: unknown, headers = cluster.headers()) {
  const r = await fetch(`${url}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('runs end to end on a `codearena up` cluster', () => {
  for (const [lang, [name, source]] of Object.entries(HELLO)) {
    test(`${lang} hello world over HTTP, WebSocket and codearena run`, async () => {
      const h = await post({ language: lang, source, wait: true });
      assert.equal(h.status, 200, JSON.stringify(h.body));
      assert.equal(h.body.status, 'ok', JSON.stringify(h.body));
      assert.equal(h.body.stdout, 'Hello, world!\n');
      assert.match(String(h.body.worker), /^wrk-1-w\d$/);
      assert.match(String(h.body.assigner), /^asg-\d$/);

      const ws = await WsClient.open(`${url.replace('http', 'ws')}/api/v1/runs/stream`, cluster.headers());
      ws.send({ type: 'start', language: lang, source, interactive: false });
      const exit = await ws.waitFor((m): m is Extract<typeof m, { type: 'exit' }> => m.type === 'exit', 30_000);
      assert.equal(exit.result.status, 'ok');
      assert.equal(ws.output('stdout'), 'Hello, world!\n');
      ws.close();

      const file = path.join(dir, name);
      writeFileSync(file, source);
      const r = await cliAsync(['run', file, '--gateway', url, '--token', cluster.token as string]);
      assert.equal(r.stdout, 'Hello, world!\n', r.stderr);
      assert.equal(r.code, 0);
    });
  }

  test('an interactive C program prompts, reads two lines and answers', async () => {
    const ws = await WsClient.open(`${url.replace('http', 'ws')}/api/v1/runs/stream`, cluster.headers());
    ws.send({ type: 'start', language: 'c', source: '#include <stdio.h>\n#include <stdlib.h>\nint main(void){char a[32],b[32];printf("a? ");fflush(stdout);if(!fgets(a,32,stdin))return 1;printf("b? ");fflush(stdout);if(!fgets(b,32,stdin))return 1;printf("%d\\n",atoi(a)*atoi(b));return 0;}\n' });
    await ws.waitFor(() => ws.output('stdout') === 'a? ', 30_000);
    ws.send({ type: 'stdin', data: '6\n' });
    await ws.waitFor(() => ws.output('stdout') === 'a? b? ');
    ws.send({ type: 'stdin', data: '7\n' });
    const exit = await ws.waitFor((m): m is Extract<typeof m, { type: 'exit' }> => m.type === 'exit');
    assert.equal(exit.result.status, 'ok');
    assert.equal(ws.output('stdout'), 'a? b? 42\n');
    ws.close();
  });

  test('a client that drops mid-run resumes with its token and gets exactly the rest', async () => {
    const wsUrl = `${url.replace('http', 'ws')}/api/v1/runs/stream`;
    const c1 = await WsClient.open(wsUrl, cluster.headers());
    c1.send({ type: 'start', language: 'python', interactive: false, source: 'import sys, time\nfor i in range(40):\n    print("line", i, flush=True)\n    time.sleep(0.02)\n' });
    const acc = await c1.waitFor((m): m is Extract<typeof m, { type: 'accepted' }> => m.type === 'accepted', 30_000);
    await c1.waitFor(() => c1.output('stdout').includes('line 5'), 30_000);
    c1.ws.terminate();
    const seen = c1.messages.filter((m): m is Extract<typeof m, { type: 'output' }> => m.type === 'output');
    const lastSeq = seen[seen.length - 1]?.seq ?? -1;
    const c2 = await WsClient.open(wsUrl, cluster.headers());
    c2.send({ type: 'resume', id: acc.id, resume_token: acc.resume_token, last_seq: lastSeq });
    await c2.waitFor((m) => m.type === 'exit', 30_000);
    const rest = c2.messages.filter((m): m is Extract<typeof m, { type: 'output' }> => m.type === 'output');
    const all = [...seen, ...rest];
    const seqs = all.flatMap((m) => Array.from({ length: m.seq - m.first_seq + 1 }, (_, k) => m.first_seq + k));
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'no chunk lost or repeated');
    const text = Buffer.concat(all.map((m) => Buffer.from(m.data, 'base64'))).toString();
    assert.equal(text, Array.from({ length: 40 }, (_, i) => `line ${i}\n`).join(''));
    c2.close();
  });

  test('50 concurrent runs all finish correctly', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        // The queue holds 2 per Assigner here: a 503 means "try again", as a client would.
        for (let attempt = 0; attempt < 200; attempt++) {
          const r = await post({ language: 'python', source: `print(${i} * ${i})\n`, wait: true });
          if (r.status !== 503) return r;
          await new Promise((res) => setTimeout(res, 100 + Math.random() * 200));
        }
        throw new Error('never accepted');
      }),
    );
    results.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'ok');
      assert.equal(r.body.stdout, `${i * i}\n`);
    });
  });

  test('past the queue bound the Gateway answers 503', async () => {
    const statuses = await Promise.all(Array.from({ length: 12 }, () => post({ language: 'python', source: 'import time\ntime.sleep(2)\n' })));
    const codes = statuses.map((s) => s.status);
    assert.ok(codes.includes(503), `some run is refused: ${codes.join(',')}`);
    assert.ok(codes.includes(201), 'some run is accepted');
    for (const s of statuses) if (s.status === 201) await fetch(`${url}/api/v1/runs/${s.body.id}`, { method: 'DELETE', headers: cluster.headers() });
  });

  test('a Worker above the PSI bound gets no runs; they land on the other', async () => {
    writeFileSync(path.join(cluster.psiDir, 'wrk-1-w0.json'), JSON.stringify({ cpu: 0.95 }));
    await new Promise((r) => setTimeout(r, 2_000)); // the next heartbeats carry it
    const workers = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await post({ language: 'python', source: 'print(1)\n', wait: true });
      assert.equal(r.body.status, 'ok');
      workers.add(String(r.body.worker));
    }
    writeFileSync(path.join(cluster.psiDir, 'wrk-1-w0.json'), '{}');
    assert.deepEqual([...workers], ['wrk-1-w1']);
  });

  test('above the second PSI bound a Worker stops its batch run, which finishes on another Worker', async () => {
    const r = await post({ language: 'python', source: 'import time\nprint("start", flush=True)\ntime.sleep(2)\nprint("done")\n' });
    const worker = await runningWorker(String(r.body.id));
    writeFileSync(path.join(cluster.psiDir, `${worker}.json`), JSON.stringify({ memory: 0.97 }));
    try {
      for (let i = 0; i < 150; i++) {
        const v = (await (await fetch(`${url}/api/v1/runs/${r.body.id}`, { headers: cluster.headers() })).json()) as { status: string; stdout: string; worker: string };
        if (v.status !== 'queued' && v.status !== 'running') {
          assert.equal(v.status, 'ok', JSON.stringify(v));
          assert.equal(v.stdout, 'start\ndone\n');
          assert.notEqual(v.worker, worker, 'it finished elsewhere');
          return;
        }
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.fail('the evicted run did not finish');
    } finally {
      writeFileSync(path.join(cluster.psiDir, `${worker}.json`), '{}');
    }
  });

  test('kill ends a run as killed', async () => {
    const r = await post({ language: 'python', source: 'import time\ntime.sleep(30)\n' });
    await new Promise((res) => setTimeout(res, 500));
    const d = await fetch(`${url}/api/v1/runs/${r.body.id}`, { method: 'DELETE', headers: cluster.headers() });
    assert.equal(d.status, 202);
    for (let i = 0; i < 50; i++) {
      const g = (await (await fetch(`${url}/api/v1/runs/${r.body.id}`, { headers: cluster.headers() })).json()) as { status: string };
      if (g.status === 'killed') return;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.fail('not killed');
  });

  test('auth: no token is 401; bad input gets clear errors', async () => {
    assert.equal((await post({ language: 'python', source: 'print(1)' }, {})).status, 401);
    assert.equal((await post({ language: 'cobol', source: 'x' })).status, 400);
    assert.equal((await post({ language: 'python', source: '#'.repeat(2_000_000) })).status, 413);
    assert.equal((await post({ language: 'python', source: 'x', memory_limit: 1e12 })).status, 400);
  });

  test('cluster view, metrics and languages', async () => {
    const c = (await (await fetch(`${url}/api/v1/cluster`, { headers: cluster.headers() })).json()) as { nodes: Array<{ name: string; role: string; state: string; pid: number | null }>; leader: string | null };
    const roles = c.nodes.filter((n) => n.state === 'alive').map((n) => n.role).sort();
    for (const r of ['assigner', 'assigner', 'empty', 'gateway', 'monitor', 'monitor', 'worker']) assert.ok(roles.includes(r), `has a live ${r}`);
    assert.match(String(c.leader), /^mon-\d$/);
    const pids = c.nodes.filter((n) => n.state === 'alive').map((n) => n.pid);
    assert.ok(pids.every((p) => typeof p === 'number' && p > 0), `every live node shows its pid: ${JSON.stringify(pids)}`);
    const m = await (await fetch(`${url}/metrics`)).text();
    assert.match(m, /codearena_runs_total\{status="ok"\} \d+/);
    assert.match(m, /codearena_nodes\{role="monitor",state="alive"\} 2/);
    const langs = (await (await fetch(`${url}/api/v1/languages`)).json()) as unknown[];
    assert.equal(langs.length, 5);
  });

  test('a Worker killed mid-run: its interactive run ends as node_lost, the client is told', async () => {
    const ws = await WsClient.open(`${url.replace('http', 'ws')}/api/v1/runs/stream`, cluster.headers());
    ws.send({ type: 'start', language: 'python', source: 'print("up", flush=True)\ninput()\n' });
    const acc = await ws.waitFor((m): m is Extract<typeof m, { type: 'accepted' }> => m.type === 'accepted', 30_000);
    await ws.waitFor(() => ws.output('stdout').includes('up'), 30_000);
    const view = (await (await fetch(`${url}/api/v1/runs/${acc.id}`, { headers: cluster.headers() })).json()) as { worker: string };
    const pid = workerPid(view.worker);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const exit = await ws.waitFor((m): m is Extract<typeof m, { type: 'exit' }> => m.type === 'exit', 15_000);
    console.log(`# node_lost told ${Date.now() - killedAt} ms after SIGKILL of ${view.worker}`);
    assert.equal(exit.result.status, 'node_lost');
    ws.close();
    // The Worker host restarts it; the cluster keeps serving.
    for (let i = 0; i < 100; i++) {
      const r = await post({ language: 'python', source: 'print(2)\n', wait: true });
      if (r.body.status === 'ok') return;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.fail('the cluster did not recover');
  });

  test('a Worker killed under a batch run: the run starts again elsewhere and finishes ok', async () => {
    const r = await post({ language: 'python', source: 'import time\nprint("start", flush=True)\ntime.sleep(2)\nprint("done")\n' });
    assert.equal(r.status, 201);
    const worker = await runningWorker(String(r.body.id));
    const pid = workerPid(worker);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 150; i++) {
      const v = (await (await fetch(`${url}/api/v1/runs/${r.body.id}`, { headers: cluster.headers() })).json()) as { status: string; stdout: string };
      if (v.status !== 'queued' && v.status !== 'running') {
        assert.equal(v.status, 'ok', JSON.stringify(v));
        assert.equal(v.stdout, 'start\ndone\n', 'only the attempt that finished counts');
        return;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.fail('the batch run did not finish after its Worker was killed');
  });

  test('a Worker whose event loop is blocked stops heartbeating', async () => {
    const pid = workerPid('wrk-1-w1');
    assert.ok(pid > 0, 'found the worker process');
    const t0 = Date.now();
    process.kill(pid, 'SIGUSR2');
    for (;;) {
      const c = (await (await fetch(`${url}/api/v1/cluster`, { headers: cluster.headers() })).json()) as { nodes: Array<{ name: string; state: string }> };
      const w = c.nodes.find((n) => n.name === 'wrk-1-w1');
      if (w && w.state !== 'alive') break;
      assert.ok(Date.now() - t0 < 6_000, 'the stalled Worker is suspected within seconds');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test('an Assigner killed mid-run: its buddy takes the run over, no line lost or repeated, input still reaches it', async () => {
    const source = 'import time\nprint("ready", flush=True)\ninput()\nfor i in range(1, 101):\n    print(f"n {i}", flush=True)\n    time.sleep(0.04)\nprint("got", input(), flush=True)\n';
    const ws = await WsClient.open(`${url.replace('http', 'ws')}/api/v1/runs/stream`, cluster.headers());
    ws.send({ type: 'start', language: 'python', source });
    const acc = await ws.waitFor((m): m is Extract<typeof m, { type: 'accepted' }> => m.type === 'accepted', 30_000);
    await ws.waitFor(() => ws.output('stdout').includes('ready'), 30_000);
    ws.send({ type: 'stdin', data: 'go\n' });
    await ws.waitFor(() => ws.output('stdout').includes('n 10\n'), 30_000);
    const run = (await (await fetch(`${url}/api/v1/runs/${acc.id}`, { headers: cluster.headers() })).json()) as { assigner: string };
    const view = (await (await fetch(`${url}/api/v1/cluster`, { headers: cluster.headers() })).json()) as { nodes: Array<{ name: string; pid: number | null }> };
    const pid = view.nodes.find((n) => n.name === run.assigner)?.pid;
    assert.ok(pid, `pid of ${run.assigner}`);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await ws.waitFor(() => ws.output('stdout').includes('n 100\n'), 30_000);
    console.log(`# run went on after SIGKILL of assigner ${run.assigner}; last line ${Date.now() - killedAt} ms after the kill`);
    ws.send({ type: 'stdin', data: 'bye\n' });
    const exit = await ws.waitFor((m): m is Extract<typeof m, { type: 'exit' }> => m.type === 'exit', 30_000);
    assert.equal(exit.result.status, 'ok', JSON.stringify(exit.result));
    const out = ws.output('stdout');
    const numbers = [...out.matchAll(/^n (\d+)\r?$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(numbers, Array.from({ length: 100 }, (_, i) => i + 1), 'every line exactly once, in order');
    assert.match(out, /got bye/);
    ws.close();
    const after = (await (await fetch(`${url}/api/v1/runs/${acc.id}`, { headers: cluster.headers() })).json()) as { assigner: string };
    assert.notEqual(after.assigner, run.assigner, 'the run names the buddy that carried it on');
  });
});
