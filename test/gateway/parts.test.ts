import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AcceptedRun, AttachedRun, RunSink } from '../../src/gateway/backend.js';
import { ClientLiveness, clientSendAction, WS_BUFFERED_BYTES_MAX } from '../../src/gateway/client-socket.js';
import Fastify from 'fastify';
import { errorReply, installErrorHandler } from '../../src/gateway/http-errors.js';
import { RunResumer, SingleFlight } from '../../src/gateway/run-attach.js';
import { resumeToken, RunStore } from '../../src/gateway/run-store.js';
import { JudgeError } from '../../src/judge/service.js';
import { OperatingError } from '../../src/protocol/errors.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';

// The Gateway's pure decisions, apart from any server: client back-pressure, the ping round, the
// attach dedupe, resume by id and token, and the error answers.

const KEY = Buffer.alloc(32, 7);
const run = (id: string): AcceptedRun => ({ id, user: 'u', language: 'python', files: [{ name: 'main.py', content: '' }], main: 'main.py', stdin: '', interactive: true, limits: { ...DEFAULT_LIMITS } });

test('back-pressure: a closed socket gets nothing; past WS_BUFFERED_BYTES_MAX unsent the client is cut off', () => {
  assert.equal(clientSendAction(false, 0), 'skip');
  assert.equal(clientSendAction(true, 0), 'send');
  assert.equal(clientSendAction(true, WS_BUFFERED_BYTES_MAX), 'send', 'at the bound: still sent');
  assert.equal(clientSendAction(true, WS_BUFFERED_BYTES_MAX + 1), 'cut');
  assert.equal(clientSendAction(false, WS_BUFFERED_BYTES_MAX + 1), 'skip', 'a closed socket is not closed again');
});

test('liveness: a client that did not answer the previous ping is dropped at the next round', () => {
  const l = new ClientLiveness<{ n: number }>();
  const a = { n: 1 };
  const b = { n: 2 };
  l.heard(a);
  l.heard(b);
  assert.deepEqual(l.round([a, b]).map((x) => x.action), ['ping', 'ping']);
  l.heard(a); // a answered, b did not
  assert.deepEqual(l.round([a, b]).map((x) => [x.client.n, x.action]), [[1, 'ping'], [2, 'drop']]);
});

test('single flight: one start per key while pending, a new one after it settles (either way)', async () => {
  const f = new SingleFlight<string, number>();
  let starts = 0;
  let release: (v: number) => void = () => {};
  const start = () => (starts++, new Promise<number>((r) => (release = r)));
  const p1 = f.run('x', start);
  const p2 = f.run('x', start);
  assert.equal(p1, p2);
  assert.equal(starts, 1);
  assert.equal(f.size, 1);
  release(5);
  assert.equal(await p1, 5);
  assert.equal(f.size, 0);
  await assert.rejects(f.run('x', async () => (starts++, Promise.reject(new Error('gone')))));
  assert.equal(f.size, 0, 'a failed ask is forgotten too');
  assert.equal(starts, 2);
});

test('resume: the own record with its token; an unknown run is asked of the Assigners once, with a valid token only', async () => {
  const store = new RunStore(10, () => {}, KEY);
  const own = store.create(run('own'));
  const asks: string[] = [];
  let answer: (ok: boolean) => void = () => {};
  const backend = {
    attach(id: string, adopt: (found: AttachedRun) => RunSink): Promise<boolean> {
      asks.push(id);
      adopt({ run: run(id), phase: 'running', worker: 'w1', assigner: 'asg-1', attempt: 1 });
      return new Promise<boolean>((r) => (answer = r));
    },
  };
  const r = new RunResumer(store, backend);
  assert.equal(await r.resume('own', own.token), own);
  assert.equal(await r.resume('own', 'wrong'), null, 'a wrong token finds nothing');
  assert.equal(await r.resume('theirs', 'wrong'), null);
  assert.deepEqual(asks, [], 'a wrong token costs the Assigners nothing');

  const token = resumeToken(KEY, 'theirs');
  const first = r.resume('theirs', token);
  const second = r.resume('theirs', token);
  assert.equal(r.attachesPending, 1);
  answer(true);
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual(asks, ['theirs'], 'two clients, one ask');
  assert.ok(a && a === b && a.run.id === 'theirs');
  assert.equal(a.status, 'running');

  const noBackend = new RunResumer(store, {});
  assert.equal(await noBackend.resume('elsewhere', resumeToken(KEY, 'elsewhere')), null, 'a backend without attach adopts nothing');
});

test('error answers: status and code from the error table; fastify\'s client errors as they are; the rest a logged 500', () => {
  assert.deepEqual(errorReply(new OperatingError('QUOTA', 'too many')), { status: 429, body: { error: 'too many', code: 'QUOTA' }, log: false });
  // Before the table gave JudgeError its status, a 503 of the judge was answered as a 500.
  assert.deepEqual(errorReply(new JudgeError('JUDGE_QUEUE_FULL', 'busy')), { status: 503, body: { error: 'busy', code: 'JUDGE_QUEUE_FULL' }, log: false });
  assert.equal(errorReply(new JudgeError('TOO_MANY_PROBLEMS', 'full')).status, 507);
  const fastifyErr = Object.assign(new Error('Unsupported Media Type'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' });
  assert.deepEqual(errorReply(fastifyErr), { status: 415, body: { error: 'Unsupported Media Type', code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }, log: false });
  assert.deepEqual(errorReply(new Error('boom')), { status: 500, body: { error: 'internal error', code: 'INTERNAL' }, log: true });
});

test('the installed handler answers a judge error thrown in a route with its table status', async () => {
  const app = Fastify();
  installErrorHandler(app);
  app.get('/closed', async () => {
    throw new JudgeError('CLOSED', 'this Gateway is stopping');
  });
  app.get('/bug', async () => {
    throw new Error('secret detail');
  });
  try {
    const closed = await app.inject({ method: 'GET', url: '/closed' });
    assert.equal(closed.statusCode, 503);
    assert.deepEqual(closed.json(), { error: 'this Gateway is stopping', code: 'CLOSED' });
    const bug = await app.inject({ method: 'GET', url: '/bug' });
    assert.equal(bug.statusCode, 500);
    assert.deepEqual(bug.json(), { error: 'internal error', code: 'INTERNAL' });
  } finally {
    await app.close();
  }
});
