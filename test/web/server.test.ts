import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ClusterView } from '../../src/gateway/api-types.js';
import type { RunBackend } from '../../src/gateway/backend.js';
import { createMetrics } from '../../src/gateway/metrics.js';
import { gatewayUrls, originAllowed, registerWeb, SampleRing, type LabFeedMessage } from '../../src/gateway/web.js';
import { parseLabConfig } from '../../src/config/load.js';

// The web client's server side without a browser: pages and hashed assets with their caching
// headers, the Gateway list, CORS for the lab's other Gateway, and the dashboard's live feed.

const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-web-'));
mkdirSync(path.join(dir, 'assets'));
writeFileSync(path.join(dir, 'student.html'), '<!doctype html><title>student</title>');
writeFileSync(path.join(dir, 'lab.html'), '<!doctype html><title>lab</title>');
writeFileSync(path.join(dir, 'assets', 'student-ABC.js'), 'console.log("student");'.repeat(100));

let view: ClusterView = { nodes: [], queue_length: 0, leader: 'mon-1', term: 3 };
const backend = { cluster: () => view, queueLength: () => 0 } as unknown as RunBackend;
const metrics = createMetrics();
let app: FastifyInstance;
let base = '';

before(async () => {
  app = Fastify();
  registerWeb(app, {
    backend,
    metrics,
    gateways: ['http://10.0.0.1:8080', 'http://10.0.0.2:8081'],
    gatewayRole: () => ({ epoch: 2, standby: 'mon-2' }),
    authorize: () => {},
    assetsDir: dir,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
after(() => app.close());

describe('web client server side', () => {
  test('pages are revalidated (ETag, 304); hashed assets are cached for a year; gzip when asked', async () => {
    const r = await fetch(`${base}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await r.text(), /student/);
    const etag = r.headers.get('etag') as string;
    assert.equal((await fetch(`${base}/`, { headers: { 'if-none-match': etag } })).status, 304);
    assert.match(await (await fetch(`${base}/lab`)).text(), /lab/);

    const a = await fetch(`${base}/assets/student-ABC.js`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(a.headers.get('content-encoding'), null);
    const raw = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
      import('node:http').then(({ get }) => {
        get(`${base}/assets/student-ABC.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(parts) }));
        }).on('error', reject);
      }, reject);
    });
    assert.equal(raw.enc, 'gzip');
    assert.equal(gunzipSync(raw.body).toString(), 'console.log("student");'.repeat(100));
    assert.ok(raw.body.length < 200, 'stored gzipped');
    const missing = await fetch(`${base}/assets/nope.js`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'no asset assets/nope.js', code: 'NOT_FOUND' });
  });

  test('the Gateway list; CORS answers a page of the lab (loopback or another Gateway) and no other origin', async () => {
    assert.deepEqual(await (await fetch(`${base}/api/v1/gateways`)).json(), { gateways: ['http://10.0.0.1:8080', 'http://10.0.0.2:8081'] });
    const pre = await fetch(`${base}/api/v1/gateways`, { method: 'OPTIONS', headers: { origin: 'http://10.0.0.1:8080', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://10.0.0.1:8080');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const other = await fetch(`${base}/api/v1/gateways`, { headers: { origin: 'http://evil.example:80' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    assert.equal(originAllowed('http://127.0.0.1:9999', []), true);
    assert.equal(originAllowed('http://localhost:3000', []), true);
    assert.equal(originAllowed('http://10.0.0.2:8081', ['http://10.0.0.2:8081']), true);
    assert.equal(originAllowed('http://10.0.0.2:8082', ['http://10.0.0.2:8081']), false);
    assert.equal(originAllowed('null', []), false);
    assert.equal(originAllowed('file://x', []), false);
  });

  test('gatewayUrls: the Gateway first, then every Monitor at the standby port; or the virtual IP', () => {
    const config = parseLabConfig({
      cluster: { name: 'lab', secret: 'a'.repeat(32) },
      gateway: { host: 'gw', port: 8080, standbyPort: 8081 },
      auth: { enabled: false },
      nodes: [
        { name: 'gw', address: '10.0.0.1', port: 7000 },
        { name: 'mon-1', address: '10.0.0.2', port: 7000, role: 'monitor' },
        { name: 'mon-2', address: '10.0.0.3', port: 7000, role: 'monitor' },
        { name: 'asg-1', address: '10.0.0.4', port: 7000, role: 'assigner' },
        { name: 'asg-2', address: '10.0.0.5', port: 7000, role: 'assigner' },
        { name: 'wrk-1', address: '10.0.0.6', port: 7000, role: 'worker' },
      ],
    }, { source: 'test', baseDir: '.' });
    assert.deepEqual(gatewayUrls(config), ['http://10.0.0.1:8080', 'http://10.0.0.2:8081', 'http://10.0.0.3:8081']);
    assert.deepEqual(gatewayUrls({ ...config, gateway: { ...config.gateway, virtualIp: '10.0.0.250', standbyPort: undefined } }), ['http://10.0.0.250:8080']);
  });

  test('the ring keeps the last 600 samples, oldest first', () => {
    const ring = new SampleRing(600);
    for (let i = 0; i < 1000; i++) ring.push({ t: i, started: i, queue: 0, latency_ms: null });
    const all = ring.all();
    assert.equal(all.length, 600);
    assert.equal(all[0]?.t, 400);
    assert.equal(all[599]?.t, 999);
  });

  test('the live feed: the view at once, a change within a second, and a sample a second', async () => {
    const ac = new AbortController();
    const r = await fetch(`${base}/api/v1/lab/stream`, { signal: ac.signal });
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    let buf = '';
    const next = async (): Promise<LabFeedMessage> => {
      for (;;) {
        const end = buf.indexOf('\n\n');
        if (end >= 0) {
          const ev = buf.slice(0, end);
          buf = buf.slice(end + 2);
          return JSON.parse(ev.replace(/^data: /, '')) as LabFeedMessage;
        }
        const { value, done } = await reader.read();
        assert.ok(!done, 'feed ended');
        buf += Buffer.from(value).toString();
      }
    };
    const first = await next();
    assert.equal(first.cluster.leader, 'mon-1');
    assert.deepEqual(first.gateway, { epoch: 2, standby: 'mon-2' });
    const changedAt = Date.now();
    view = { ...view, leader: 'mon-2', term: 4 };
    let m = await next();
    while (m.cluster.leader !== 'mon-2') m = await next();
    assert.ok(Date.now() - changedAt < 1_000, `a change reached the feed after ${Date.now() - changedAt} ms`);
    metrics.accepted.inc(3);
    let started = 0;
    const deadline = Date.now() + 5_000;
    while (started < 3 && Date.now() < deadline) started += (await next()).samples.reduce((s, x) => s + x.started, 0);
    assert.equal(started, 3, 'the 3 runs accepted appear in the samples');
    ac.abort();
  });
});
