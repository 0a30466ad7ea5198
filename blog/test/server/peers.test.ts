import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { Message } from '../../src/core/types.js';
import { checkLink, HDR_FROM, HDR_SIG, HDR_TS, REPLY_PATH_SUFFIX, signLink } from '../../src/server/link.js';
import { BlogMetrics } from '../../src/server/metrics.js';
import { LINK_PATH, PeerLink } from '../../src/server/peers.js';

const secret = 'the-shared-secret-of-this-world';

/** A fake peer on loopback: checks each request's signature, records it, answers with `answer`. */
async function fakePeer(answer: (msgs: Message[]) => { body: string; signAs: string | null }) {
  const received: Message[][] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const ok = checkLink({ secret, nowMs: Date.now(), ageMaxMs: 60_000, headers: req.headers, urlPath: LINK_PATH, body, knownPeer: (n) => n === 'l2-fr-1' });
      assert.ok(ok.ok, 'the link signs every request');
      const msgs = (JSON.parse(body) as { messages: Message[] }).messages;
      received.push(msgs);
      const a = answer(msgs);
      const ts = Date.now();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (a.signAs !== null) Object.assign(headers, { [HDR_TS]: String(ts), [HDR_FROM]: a.signAs, [HDR_SIG]: signLink(secret, ts, a.signAs, LINK_PATH + REPLY_PATH_SUFFIX, a.body) });
      res.writeHead(200, headers).end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function link(url: string, deliver: (from: string, m: Message) => void, metrics: BlogMetrics, warnings: string[]) {
  return new PeerLink({ self: 'l2-fr-1', peer: 'l1-europe', baseUrl: url, secret, timeoutMs: 2_000, ageMaxMs: 60_000, metrics, deliver, warn: (code) => warnings.push(code) });
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('messages leave in order, a few per request, and the signed answers are delivered', async () => {
  const peer = await fakePeer((msgs) => ({ body: JSON.stringify({ messages: msgs.map((m) => ({ type: 'heartbeat-ack', headSeq: (m as { syncedSeq: number }).syncedSeq })) }), signAs: 'l1-europe' }));
  const got: number[] = [];
  const l = link(peer.url, (from, m) => {
    assert.equal(from, 'l1-europe');
    if (m.type === 'heartbeat-ack') got.push(m.headSeq);
  }, new BlogMetrics('t', 'l2'), []);
  for (let i = 1; i <= 100; i++) l.send({ type: 'heartbeat', syncedSeq: i, reads: [] });
  await until('every answer', () => got.length === 100);
  assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i + 1));
  assert.deepEqual(peer.received.flat().map((m) => (m as { syncedSeq: number }).syncedSeq), got, 'sent in order');
  assert.ok(peer.received.length >= 2 && peer.received.every((e) => e.length <= 64), 'envelopes of at most 64');
  assert.ok(l.idle);
  peer.server.close();
});

test('an unsigned or mis-signed answer is refused; an unreachable peer costs its messages, counted', async () => {
  const warnings: string[] = [];
  const metrics = new BlogMetrics('t', 'l2');
  const got: Message[] = [];
  const forged = await fakePeer(() => ({ body: JSON.stringify({ messages: [{ type: 'heartbeat-ack', headSeq: 99 }] }), signAs: 'l1-asia' }));
  const l1 = link(forged.url, (_f, m) => got.push(m), metrics, warnings);
  l1.send({ type: 'heartbeat', syncedSeq: 1, reads: [] });
  await until('the refusal', () => warnings.includes('LINK_BAD_REPLY'));
  forged.server.close();
  const unsigned = await fakePeer(() => ({ body: '{"messages":[]}', signAs: null }));
  const l2 = link(unsigned.url, (_f, m) => got.push(m), metrics, warnings);
  l2.send({ type: 'heartbeat', syncedSeq: 1, reads: [] });
  await until('the second refusal', () => warnings.filter((w) => w === 'LINK_BAD_REPLY').length >= 2);
  unsigned.server.close();
  assert.equal(got.length, 0, 'nothing from a reply that is not signed by the peer');
  const l3 = link('http://127.0.0.1:1', (_f, m) => got.push(m), metrics, warnings);
  for (let i = 0; i < 3; i++) l3.send({ type: 'heartbeat', syncedSeq: i, reads: [] });
  await until('the queue to drain', () => l3.idle);
  assert.ok(warnings.includes('LINK_UNREACHABLE'));
  assert.equal(warnings.filter((w) => w === 'LINK_UNREACHABLE').length, 1, 'a dead peer is logged once, not per message');
  const text = await metrics.registry.metrics();
  assert.match(text, /blog_link_errors_total\{peer="l1-europe",code="LINK_UNREACHABLE"/);
  assert.match(text, /blog_link_errors_total\{peer="l1-europe",code="LINK_BAD_REPLY"/);
});

/** A peer that holds every request until told to answer, counting how many it holds at once. */
async function slowPeer() {
  const held: Array<() => void> = [];
  let open = 0;
  let peak = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      open++;
      peak = Math.max(peak, open);
      const msgs = (JSON.parse(body) as { messages: Array<{ syncedSeq: number }> }).messages;
      held.push(() => {
        open--;
        const text = JSON.stringify({ messages: msgs.map((m) => ({ type: 'heartbeat-ack', headSeq: m.syncedSeq })) });
        const ts = Date.now();
        res
          .writeHead(200, { 'content-type': 'application/json', [HDR_TS]: String(ts), [HDR_FROM]: 'l1-europe', [HDR_SIG]: signLink(secret, ts, 'l1-europe', LINK_PATH + REPLY_PATH_SUFFIX, text) })
          .end(text);
      });
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    held,
    peak: () => peak,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    releaseAll: () => held.splice(0).forEach((f) => f()),
  };
}

for (const max of [1, 3]) {
  test(`at most postsInFlightMax (${max}) POSTs in flight; the rest wait in the queue and all are answered`, async () => {
    const peer = await slowPeer();
    const got: number[] = [];
    const l = new PeerLink({
      self: 'l2-fr-1',
      peer: 'l1-europe',
      baseUrl: peer.url,
      secret,
      timeoutMs: 5_000,
      ageMaxMs: 60_000,
      metrics: new BlogMetrics('t', 'l2'),
      deliver: (_f, m) => (m.type === 'heartbeat-ack' ? got.push(m.headSeq) : undefined),
      warn: () => {},
      postsInFlightMax: max,
    });
    for (let i = 1; i <= 10; i++) l.send({ type: 'heartbeat', syncedSeq: i, reads: [] });
    await until(`${max} requests at the peer`, () => peer.held.length === max);
    await new Promise((r) => setTimeout(r, 100)); // time for a request over the bound to show up, if the link sent one
    assert.equal(peer.held.length, max);
    assert.equal(l.postsInFlight, max);
    await until('every answer', () => {
      peer.releaseAll();
      return got.length === 10;
    });
    assert.equal(peer.peak(), max, 'never more than the bound at once');
    assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 1), 'every message answered once');
    await until('idle', () => l.idle);
    peer.server.close();
  });
}

test('postsInFlightMax is bounded', () => {
  for (const bad of [0, 65, 1.5]) {
    assert.throws(
      () => new PeerLink({ self: 'a', peer: 'b', baseUrl: 'http://127.0.0.1:1', secret, timeoutMs: 1, ageMaxMs: 1, metrics: new BlogMetrics('t', 'l2'), deliver: () => {}, warn: () => {}, postsInFlightMax: bad }),
      /postsInFlightMax must be an integer from 1 to 64/,
    );
  }
});
