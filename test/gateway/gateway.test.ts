import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { LocalBackend } from '../../src/gateway/local-backend.js';
import { buildGateway } from '../../src/gateway/server.js';
import WebSocket from 'ws';
import { WsClient } from '../helpers/ws-client.js';

const TOKENS = [
  { token: 'alice-token-0123456789', user: 'alice', concurrentRunsMax: 1 },
  { token: 'bob-token-0123456789', user: 'bob', concurrentRunsMax: 8 },
];
const BOB = { authorization: `Bearer ${TOKENS[1]?.token}` };
const ALICE = { authorization: `Bearer ${TOKENS[0]?.token}` };

let app: FastifyInstance;
let base: string;

before(async () => {
  app = await buildGateway({ backend: new LocalBackend({ slots: 2, queueMax: 2 }), auth: { enabled: true, tokens: TOKENS } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  base = `127.0.0.1:${addr.port}`;
});
after(() => app.close());

async function post(body: unknown, headers: Record<string, string> = BOB) {
  const r = await fetch(`http://${base}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('gateway HTTP API (local backend)', () => {
  test('wait: true answers the finished result', async () => {
    const r = await post({ language: 'python', source: 'print(input()[::-1])\n', stdin: 'olleh\n', wait: true });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ok');
    assert.equal(r.body.stdout, 'hello\n');
    for (const k of ['exit_code', 'signal', 'cpu_time_ms', 'wall_time_ms', 'memory_kb', 'worker', 'assigner', 'compile_output', 'stderr']) assert.ok(k in r.body, k);
  });

  test('without wait: an id to poll', async () => {
    const r = await post({ language: 'c', source: '#include <stdio.h>\nint main(void){puts("c!");return 2;}\n' });
    assert.equal(r.status, 201);
    const id = r.body.id as string;
    for (let i = 0; i < 100; i++) {
      const g = (await (await fetch(`http://${base}/api/v1/runs/${id}`, { headers: BOB })).json()) as Record<string, unknown>;
      if (g.status !== 'queued' && g.status !== 'running') {
        assert.equal(g.status, 'runtime_error');
        assert.equal(g.exit_code, 2);
        assert.equal(g.stdout, 'c!\n');
        return;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.fail('run did not finish');
  });

  test('auth: no token 401, another user cannot see a run', async () => {
    assert.equal((await post({ language: 'python', source: 'print(1)' }, {})).status, 401);
    assert.equal((await post({ language: 'python', source: 'print(1)' }, { authorization: 'Bearer wrong' })).status, 401);
    const r = await post({ language: 'python', source: 'print(1)', wait: true });
    const other = await fetch(`http://${base}/api/v1/runs/${r.body.id}`, { headers: ALICE });
    assert.equal(other.status, 404);
  });

  test('quota: a user over her concurrent runs gets 429', async () => {
    const first = await post({ language: 'python', source: 'import time\ntime.sleep(2)\n' }, ALICE);
    assert.equal(first.status, 201);
    const second = await post({ language: 'python', source: 'print(1)' }, ALICE);
    assert.equal(second.status, 429);
    assert.equal(second.body.code, 'QUOTA');
    await fetch(`http://${base}/api/v1/runs/${first.body.id}`, { method: 'DELETE', headers: ALICE });
  });

  const bad: Array<[string, unknown, number, RegExp]> = [
    ['unknown language', { language: 'cobol', source: 'x' }, 400, /unknown language "cobol"/],
    ['source too large', { language: 'python', source: '#'.repeat(1024 * 1024 + 1) }, 413, /over the \d+-byte cap/],
    ['limit above maximum', { language: 'python', source: 'print(1)', cpu_time_limit: 1e6 }, 400, /cpu_time_limit.*out of range/],
    // Beyond JavaScript's safe integers: still the configured range, not a schema's int bound.
    ['huge memory limit', { language: 'python', source: 'print(1)', memory_limit: 1e300 }, 400, /memory_limit \(KB\)=1e\+300 is out of range.*between 8192 and \d+/],
    ['huge output limit', { language: 'python', source: 'print(1)', output_limit: 1e300 }, 400, /output_limit \(bytes\)=1e\+300 is out of range.*between 1 and \d+/],
    ['fractional memory limit', { language: 'python', source: 'print(1)', memory_limit: 65536.5 }, 400, /memory_limit.*whole number/],
    ['limit not a number', { language: 'python', source: 'print(1)', memory_limit: 'lots' }, 400, /memory_limit/],
    ['neither source nor files', { language: 'python' }, 400, /exactly one of "source" or "files"/],
    ['unknown field', { language: 'python', source: 'x', frobnicate: 1 }, 400, /frobnicate|Unrecognized/i],
    ['bad file name', { language: 'python', files: [{ name: '../etc/passwd', content: 'x' }] }, 400, /bad file name/],
  ];
  for (const [name, body, code, pattern] of bad) {
    test(`bad input: ${name} → ${code}`, async () => {
      const r = await post(body);
      assert.equal(r.status, code, JSON.stringify(r.body));
      assert.match(String(r.body.error), pattern);
    });
  }

  test('garbage JSON → 400', async () => {
    const r = await fetch(`http://${base}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...BOB }, body: '{"language": ' });
    assert.equal(r.status, 400);
  });

  test('languages, cluster, healthz, metrics, docs', async () => {
    const langs = (await (await fetch(`http://${base}/api/v1/languages`)).json()) as Array<{ language: string }>;
    assert.ok(langs.some((l) => l.language === 'java'));
    assert.equal((await fetch(`http://${base}/healthz`)).status, 200);
    const cluster = (await (await fetch(`http://${base}/api/v1/cluster`, { headers: BOB })).json()) as { nodes: unknown[] };
    assert.ok(cluster.nodes.length >= 1);
    const metrics = await (await fetch(`http://${base}/metrics`)).text();
    assert.match(metrics, /codearena_runs_total\{status="ok"\} \d+/);
    assert.match(metrics, /codearena_placement_seconds_bucket/);
    assert.match(metrics, /codearena_queue_length/);
    const doc = (await (await fetch(`http://${base}/docs/json`)).json()) as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/api/v1/runs']);
  });
});

describe('gateway WebSocket', () => {
  test('interactive run: prompt, two lines, answer, exit', async () => {
    const c = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    c.send({ type: 'start', language: 'c', source: '#include <stdio.h>\n#include <stdlib.h>\nint main(void){char a[32],b[32];printf("a? ");fflush(stdout);fgets(a,32,stdin);printf("b? ");fflush(stdout);fgets(b,32,stdin);printf("sum=%d\\n",atoi(a)+atoi(b));return 0;}\n' });
    await c.waitFor((m) => m.type === 'accepted');
    await c.waitFor(() => c.output('stdout') === 'a? ');
    c.send({ type: 'stdin', data: '2\n' });
    await c.waitFor(() => c.output('stdout') === 'a? b? ');
    c.send({ type: 'stdin', data: '40\n' });
    const exit = await c.waitFor((m): m is Extract<typeof m, { type: 'exit' }> => m.type === 'exit');
    assert.equal(exit.result.status, 'ok');
    assert.equal(c.output('stdout'), 'a? b? sum=42\n');
    c.close();
  });

  test('resume: a client that reconnects gets exactly the rest', async () => {
    const c1 = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    c1.send({ type: 'start', language: 'python', source: 'import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.15)\n', interactive: false });
    const acc = await c1.waitFor((m): m is Extract<typeof m, { type: 'accepted' }> => m.type === 'accepted');
    await c1.waitFor((m) => m.type === 'output');
    const seen = c1.messages.filter((m) => m.type === 'output') as Array<{ seq: number; first_seq: number; data: string }>;
    const lastSeq = seen[seen.length - 1]?.seq ?? -1;
    c1.ws.terminate();
    const c2 = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    c2.send({ type: 'resume', id: acc.id, resume_token: acc.resume_token, last_seq: lastSeq });
    await c2.waitFor((m) => m.type === 'exit');
    const rest = c2.messages.filter((m) => m.type === 'output') as Array<{ seq: number; first_seq: number; data: string }>;
    const all = [...seen.filter((m) => m.seq <= lastSeq), ...rest];
    const seqs = all.flatMap((m) => Array.from({ length: m.seq - m.first_seq + 1 }, (_, k) => m.first_seq + k));
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'no chunk lost or repeated');
    assert.equal(Buffer.concat(all.map((m) => Buffer.from(m.data, 'base64'))).toString(), '0\n1\n2\n3\n4\n5\n');
    c2.close();
  });

  test('binary output: frames carry the exact bytes, numbered; everything else stays JSON; resume keeps the mode', async () => {
    const bytes = Buffer.from(Array.from({ length: 20 * 256 }, (_, i) => i % 256)); // not UTF-8
    const c = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    c.send({ type: 'start', language: 'python', source: 'import sys\nsys.stdout.buffer.write(bytes(range(256)) * 20)\n', interactive: false, binary_output: true });
    const acc = await c.waitFor((m): m is Extract<typeof m, { type: 'accepted' }> => m.type === 'accepted');
    const exit = await c.waitFor((m): m is Extract<typeof m, { type: 'exit' }> => m.type === 'exit');
    assert.equal(exit.result.status, 'ok');
    const frames = c.messages.filter((m) => m.type === 'output') as Array<{ seq: number; first_seq: number; data: string }>;
    assert.ok(c.binaryFrames > 0 && c.binaryFrames === frames.length, 'every output message came as a binary frame');
    const seqs = frames.flatMap((m) => Array.from({ length: m.seq - m.first_seq + 1 }, (_, k) => m.first_seq + k));
    assert.deepEqual(seqs, seqs.map((_, i) => i));
    assert.ok(Buffer.concat(frames.map((m) => Buffer.from(m.data, 'base64'))).equals(bytes), 'the bytes as written');
    c.close();
    const r = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    r.send({ type: 'resume', id: acc.id, resume_token: acc.resume_token, last_seq: 1, binary_output: true });
    await r.waitFor((m) => m.type === 'exit');
    const rest = r.messages.filter((m) => m.type === 'output') as Array<{ first_seq: number; data: string }>;
    assert.equal(r.binaryFrames, rest.length);
    assert.equal(rest[0]?.first_seq, 2);
    assert.ok(Buffer.concat(rest.map((m) => Buffer.from(m.data, 'base64'))).equals(bytes.subarray(2 * 1500)), 'exactly the rest');
    r.close();
  });

  test('resume with a wrong token is refused', async () => {
    const c = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    c.send({ type: 'resume', id: 'nope', resume_token: 'x', last_seq: -1 });
    const e = await c.waitFor((m) => m.type === 'error');
    assert.equal((e as { code: string }).code, 'NOT_FOUND');
    c.close();
  });

  test('kill over the socket', async () => {
    const c = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    c.send({ type: 'start', language: 'python', source: 'import time\nprint("up", flush=True)\ntime.sleep(30)\n' });
    await c.waitFor(() => c.output().includes('up'));
    c.send({ type: 'kill' });
    const exit = await c.waitFor((m): m is Extract<typeof m, { type: 'exit' }> => m.type === 'exit');
    assert.equal(exit.result.status, 'killed');
    c.close();
  });

  test('bad messages get errors and the socket stays usable', async () => {
    const c = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    c.ws.send('not json');
    c.send({ type: 'launch' });
    c.send({ type: 'stdin', data: 'x' });
    c.send({ type: 'start', language: 'cobol', source: 'x' });
    await c.waitFor(() => c.messages.filter((m) => m.type === 'error').length === 4);
    const codes = c.messages.map((m) => (m as { code?: string }).code);
    assert.deepEqual(codes, ['BAD_JSON', 'BAD_MESSAGE', 'NO_RUN', 'UNKNOWN_LANGUAGE']);
    c.send({ type: 'start', language: 'python', source: 'print("fine")', interactive: false });
    await c.waitFor((m) => m.type === 'exit');
    assert.equal(c.output(), 'fine\n');
    c.close();
  });

  test('no token: the socket is closed with 4401', async () => {
    const c = await WsClient.open(`ws://${base}/api/v1/runs/stream`);
    await c.waitFor((m) => m.type === 'error');
    await new Promise((r) => c.ws.once('close', r));
    assert.equal(c.closed, true);
  });
});

describe('WebSocket liveness', () => {
  test('the Gateway pings its clients and drops one that stops answering', async () => {
    const app2 = await buildGateway({ backend: new LocalBackend({ slots: 1, queueMax: 1 }), auth: { enabled: false, tokens: [] }, wsPingMs: 100 });
    await app2.listen({ host: '127.0.0.1', port: 0 });
    const url = `ws://127.0.0.1:${(app2.server.address() as { port: number }).port}/api/v1/runs/stream`;
    try {
      const open = (autoPong: boolean) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url, { autoPong });
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        });
      const answering = await open(true);
      const silent = await open(false);
      let pings = 0;
      answering.on('ping', () => pings++);
      const closed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
      assert.equal(await closed, 1006, 'terminated: it never answered a ping');
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(pings >= 3, `pinged ${pings} times`);
      assert.equal(answering.readyState, WebSocket.OPEN, 'a client that answers stays');
      answering.close();
    } finally {
      await app2.close();
    }
  });
});

describe('queue', () => {
  test('past the queue bound the Gateway answers 503, and queued runs report their place', async () => {
    const sleeper = { language: 'python', source: 'import time\ntime.sleep(1.5)\n' };
    const ids: string[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post(sleeper);
      statuses.push(r.status);
      if (r.status === 201) ids.push(r.body.id as string);
    }
    assert.deepEqual(statuses, [201, 201, 201, 201, 503], `2 slots + 2 queued, then full: ${JSON.stringify(statuses)}`);
    const c = await WsClient.open(`ws://${base}/api/v1/runs/stream`, BOB);
    c.send({ type: 'start', language: 'python', source: 'print(1)' });
    const e = await c.waitFor((m) => m.type === 'error');
    assert.equal((e as { code: string }).code, 'QUEUE_FULL');
    c.close();
    for (const id of ids) await fetch(`http://${base}/api/v1/runs/${id}`, { method: 'DELETE', headers: BOB });
  });
});
