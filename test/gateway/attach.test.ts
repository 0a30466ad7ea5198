import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { isGatewayBound } from '../../src/gateway/bound.js';
import { ClusterBackend, type ClusterBackendPorts } from '../../src/gateway/cluster-backend.js';
import type { RelayOutgoing } from '../../src/gateway/relay-core.js';
import { resumeToken } from '../../src/gateway/run-store.js';
import { buildGateway } from '../../src/gateway/server.js';
import { RunMessageSchema, type RunMessage, type RunSpecWire } from '../../src/protocol/run-messages.js';
import { deriveResumeKey } from '../../src/wire/psk.js';
import { WsClient } from '../helpers/ws-client.js';

// The Gateway side of resume across a Gateway failover: a Gateway that never saw a run (the
// standby that took over) gets a resume with a valid token, asks every Assigner (run_attach), and
// the one holding it (a fake here) answers run_attached, replays the chunks and streams on.

const SECRET = 'test-secret-0123456789abcdefghijklmnop';
const KEY = deriveResumeKey(SECRET);

const sent: Array<{ to: string; msg: RelayOutgoing }> = [];
const ports: ClusterBackendPorts = {
  self: 'mon-1',
  configMonitors: ['mon-1'],
  configAssigners: ['asg-1', 'asg-2'],
  links: {
    send: (to, msg) => {
      sent.push({ to, msg });
      return true;
    },
  },
  resolve: () => null,
  log: pino({ level: 'silent' }),
};

const backend = new ClusterBackend(ports);
let app: FastifyInstance;
let ws = '';

before(async () => {
  app = await buildGateway({ backend, auth: { enabled: false, tokens: [] }, resumeKey: KEY });
  await app.listen({ host: '127.0.0.1', port: 0 });
  ws = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1/runs/stream`;
});
after(() => app.close());

function spec(id: string): RunSpecWire {
  return {
    id,
    user: 'anonymous',
    language: 'python',
    files: [{ name: 'main.py', content: 'print(input())' }],
    main: 'main.py',
    stdin: '',
    interactive: true,
    limits: { cpuTimeMs: 5000, wallTimeMs: 30000, memoryKb: 262144, outputBytesMax: 4194304, processesMax: 32, fileSizeKb: 16384, openFilesMax: 64, workDirKb: 65536 },
  };
}

/** The fake Assigner speaks: every message checked against the wire schema first. */
function fromAssigner(name: string, msg: RunMessage): void {
  const parsed = RunMessageSchema.parse(msg);
  assert.ok(isGatewayBound(parsed), `${parsed.type} is not for a Gateway`);
  backend.handle(name, parsed);
}

function chunk(seq: number, text: string) {
  return { seq, stream: 'stdout' as const, data: new Uint8Array(Buffer.from(text)) };
}

function attachesFor(id: string) {
  return sent.filter((s) => s.msg.type === 'run_attach' && s.msg.id === id);
}

async function until(pred: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('resume of a run this Gateway never saw (after a Gateway failover)', () => {
  test('a valid token: run_attach to every Assigner; the holder replays and streams; input reaches it', async () => {
    const id = 'run-attach-1';
    const c = await WsClient.open(ws);
    c.send({ type: 'resume', id, resume_token: resumeToken(KEY, id), last_seq: 1 });
    await until(() => attachesFor(id).length === 2);
    assert.deepEqual(attachesFor(id).map((s) => s.to).sort(), ['asg-1', 'asg-2']);
    assert.deepEqual(attachesFor(id)[0]?.msg, { type: 'run_attach', from: 'mon-1', id, afterSeq: -1 });
    // asg-1 does not hold it and says nothing; asg-2 does.
    fromAssigner('asg-2', { type: 'run_attached', from: 'asg-2', id, spec: spec(id), phase: 'running', worker: 'wrk-1-w0' });
    fromAssigner('asg-2', { type: 'run_output', from: 'asg-2', id, chunks: [chunk(0, 'a'), chunk(1, 'b'), chunk(2, 'c')] });
    await c.waitFor((m) => m.type === 'output' && m.seq === 2);
    fromAssigner('asg-2', { type: 'run_output', from: 'asg-2', id, chunks: [chunk(3, 'd')] });
    await c.waitFor((m) => m.type === 'output' && m.seq === 3);
    // The client saw 0 and 1 before the failover: it gets exactly the rest.
    const got = c.messages.filter((m) => m.type === 'output').map((m) => Buffer.from((m as { data: string }).data, 'base64').toString()).join('');
    assert.equal(got, 'cd');
    // Another Assigner cannot inject chunks into it.
    fromAssigner('asg-1', { type: 'run_output', from: 'asg-1', id, chunks: [chunk(4, 'X')] });
    c.send({ type: 'stdin', data: 'hello\n' });
    await until(() => sent.some((s) => s.to === 'asg-2' && s.msg.type === 'run_input' && s.msg.id === id));
    fromAssigner('asg-2', { type: 'run_output', from: 'asg-2', id, chunks: [chunk(4, 'e')] });
    fromAssigner('asg-2', { type: 'run_exit', from: 'asg-2', id, result: { status: 'ok', exit_code: 0, signal: null, cpu_time_ms: 1, wall_time_ms: 2, memory_kb: 3, language: 'python', version: '3' } });
    const exit = await c.waitFor((m) => m.type === 'exit');
    assert.equal((exit as { result: { status: string } }).result.status, 'ok');
    c.close();
    const view = (await (await fetch(ws.replace('ws://', 'http://').replace('/api/v1/runs/stream', `/api/v1/runs/${id}`))).json()) as Record<string, unknown>;
    assert.equal(view.stdout, 'abcde', 'the Gateway holds the whole output again');
    assert.equal(view.worker, 'wrk-1-w0');
    assert.equal(view.assigner, 'asg-2');
  });

  test('a finished run: the chunks and the exit', async () => {
    const id = 'run-attach-2';
    const c = await WsClient.open(ws);
    c.send({ type: 'resume', id, resume_token: resumeToken(KEY, id), last_seq: -1 });
    await until(() => attachesFor(id).length === 2);
    fromAssigner('asg-1', { type: 'run_attached', from: 'asg-1', id, spec: spec(id), phase: 'finished', worker: 'wrk-1-w1' });
    fromAssigner('asg-1', { type: 'run_output', from: 'asg-1', id, chunks: [chunk(0, 'done\n')] });
    fromAssigner('asg-1', { type: 'run_exit', from: 'asg-1', id, result: { status: 'runtime_error', exit_code: 3, signal: null, cpu_time_ms: 1, wall_time_ms: 2, memory_kb: 3, language: 'python', version: '3' } });
    const exit = await c.waitFor((m) => m.type === 'exit');
    assert.equal((exit as { result: { status: string; exit_code: number } }).result.exit_code, 3);
    assert.equal(c.messages.filter((m) => m.type === 'output').length, 1);
    c.close();
  });

  test('a wrong token: not found, and no Assigner is asked', async () => {
    const id = 'run-attach-3';
    const c = await WsClient.open(ws);
    c.send({ type: 'resume', id, resume_token: resumeToken(deriveResumeKey('another-secret-0123456789abcdefghijkl'), id), last_seq: -1 });
    const err = await c.waitFor((m) => m.type === 'error');
    assert.equal((err as { code: string }).code, 'NOT_FOUND');
    assert.equal(attachesFor(id).length, 0);
    c.close();
  });

  test('nobody holds it: not found after the wait', async () => {
    const id = 'run-attach-4';
    const c = await WsClient.open(ws);
    c.send({ type: 'resume', id, resume_token: resumeToken(KEY, id), last_seq: -1 });
    const err = await c.waitFor((m) => m.type === 'error', 5_000);
    assert.equal((err as { code: string }).code, 'NOT_FOUND');
    c.close();
  });

  test('two clients resume it at once: one ask per Assigner, both get the stream', async () => {
    const id = 'run-attach-5';
    const a = await WsClient.open(ws);
    const b = await WsClient.open(ws);
    a.send({ type: 'resume', id, resume_token: resumeToken(KEY, id), last_seq: -1 });
    b.send({ type: 'resume', id, resume_token: resumeToken(KEY, id), last_seq: -1 });
    await until(() => attachesFor(id).length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(attachesFor(id).length, 2);
    fromAssigner('asg-2', { type: 'run_attached', from: 'asg-2', id, spec: spec(id), phase: 'queued', worker: null });
    fromAssigner('asg-2', { type: 'run_started', from: 'asg-2', id, worker: 'wrk-1-w0' });
    fromAssigner('asg-2', { type: 'run_output', from: 'asg-2', id, chunks: [chunk(0, 'x')] });
    await a.waitFor((m) => m.type === 'output');
    await b.waitFor((m) => m.type === 'output');
    a.close();
    b.close();
  });
});
