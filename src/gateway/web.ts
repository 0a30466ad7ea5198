import { everyBeat } from '../common/beat.js';
import type { ServerResponse } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LabConfig } from '../config/schema.js';
import type { ClusterView } from './api-types.js';
import type { RunBackend } from './backend.js';
import type { GatewayMetrics } from './metrics.js';
import { httpStatusOf } from '../protocol/errors.js';

/**
 * The web client's server side (README "Web client"): the pages and their assets bundled by
 * scripts/build-web.mjs into dist/web, the Gateway addresses a page fails over to, CORS for the
 * other Gateway's origin, and the lab dashboard's live feed (cluster view + a 10-minute ring of
 * the Gateway's own metrics) as server-sent events.
 */

/** One metrics sample a second, for the dashboard's 10-minute charts. */
export const SAMPLE_INTERVAL_MS = 1_000;
export const SAMPLES_MAX = 600;
/** How often the live feed looks for a change in the cluster view (the bound on its delay). */
export const FEED_CHECK_MS = 200;
/** Dashboards one Gateway feeds at once; more are refused with 503 (each costs a timer's work). */
export const FEED_CLIENTS_MAX = 64;
/** Files in dist/web the Gateway keeps in memory (a bundle has a handful). */
const ASSET_FILES_MAX = 256;
const ASSET_BYTES_MAX = 16 * 1024 * 1024;

/** The pages scripts/build-web.mjs writes (its PAGES), by route. */
const PAGE_ROUTES: Record<string, string> = { '/': 'student.html', '/lab': 'lab.html', '/grade': 'grade.html' };

export interface MetricsSample {
  /** Seconds since the epoch, at the end of the second it covers. */
  t: number;
  /** Runs the Gateway accepted during that second. */
  started: number;
  queue: number;
  /** Mean acceptance-to-end time of the runs that finished during that second; null if none did. */
  latency_ms: number | null;
}

/** A fixed-size ring of samples: the oldest is overwritten once it holds SAMPLES_MAX. */
export class SampleRing {
  private readonly buf: MetricsSample[] = [];
  private next = 0;

  constructor(private readonly capacity = SAMPLES_MAX) {}

  push(s: MetricsSample): void {
    if (this.buf.length < this.capacity) this.buf.push(s);
    else this.buf[this.next] = s;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  all(): MetricsSample[] {
    return this.buf.length < this.capacity ? [...this.buf] : [...this.buf.slice(this.next), ...this.buf.slice(0, this.next)];
  }
}

/** What the Gateway knows of its own failover state (a cluster Gateway; null for a local one). */
export interface GatewayRole {
  epoch: number;
  standby: string | null;
}

export interface WebOptions {
  backend: RunBackend;
  metrics: GatewayMetrics;
  /** Gateway URLs a client may use, in order (GET /api/v1/gateways). */
  gateways: string[];
  gatewayRole?: () => GatewayRole | null;
  /** Throws the API's 401 when the request has no valid token. */
  authorize: (req: FastifyRequest) => void;
  /** Where the bundle is; default dist/web beside the compiled sources. */
  assetsDir?: string;
}

/** The Gateway URLs of a lab config: the Gateway's own (or the virtual IP's), then every standby candidate's. */
export function gatewayUrls(config: LabConfig): string[] {
  const g = config.gateway;
  const standbyPort = g.standbyPort ?? g.port;
  const urls: string[] = [];
  if (g.virtualIp) {
    urls.push(`http://${g.virtualIp}:${g.port}`, `http://${g.virtualIp}:${standbyPort}`);
  } else {
    const host = config.nodes.find((n) => n.name === g.host);
    if (host) urls.push(`http://${host.address}:${g.port}`);
    for (const n of config.nodes) if (n.role === 'monitor') urls.push(`http://${n.address}:${standbyPort}`);
  }
  return [...new Set(urls)];
}

interface Asset {
  body: Buffer;
  /** Compressed on the first request that takes gzip, then kept: every Monitor builds a warm
   * Gateway API as a possible standby, and compressing ~1 MB at level 9 in each of them at start-up
   * cost CPU that a lab PC's owner pays for a page that node may never serve. */
  gzip: Buffer | null;
  type: string;
  /** Hashed names never change content: cached for a year. Pages are revalidated (ETag). */
  immutable: boolean;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
};

function defaultAssetsDir(): string {
  // dist/src/gateway/web.js → dist/web
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
}

/** Reads the bundle into memory once: a few hundred KB, served from RAM (gzipped on first use). */
export function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  let bytes = 0;
  const walk = (sub: string): void => {
    for (const name of readdirSync(path.join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      const full = path.join(dir, rel);
      if (statSync(full).isDirectory()) {
        walk(rel);
        continue;
      }
      const type = TYPES[path.extname(name)];
      if (!type || name.endsWith('.map')) continue;
      if (out.size >= ASSET_FILES_MAX) throw new Error(`web: more than ${ASSET_FILES_MAX} files in ${dir}`);
      const body = readFileSync(full);
      bytes += body.length;
      if (bytes > ASSET_BYTES_MAX) throw new Error(`web: ${dir} holds more than ${ASSET_BYTES_MAX} bytes`);
      const immutable = rel.startsWith('assets/');
      const etag = `"${body.length.toString(16)}-${statSync(full).mtimeMs.toString(16)}"`;
      out.set(rel, { body, gzip: null, type, immutable, etag });
    }
  };
  walk('');
  return out;
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, a: Asset): FastifyReply {
  reply.header('content-type', a.type);
  reply.header('cache-control', a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  reply.header('etag', a.etag);
  reply.header('vary', 'origin, accept-encoding');
  if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    reply.header('content-encoding', 'gzip');
    a.gzip ??= gzipSync(a.body, { level: 9 });
    return reply.send(a.gzip);
  }
  return reply.send(a.body);
}

/** Origins whose pages may call this Gateway: another Gateway of the lab, or a page on loopback. */
export function originAllowed(origin: string, gateways: readonly string[]): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  if (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]') return true;
  return gateways.some((g) => new URL(g).origin === u.origin);
}

export interface LabFeedMessage {
  cluster: ClusterView;
  gateway: GatewayRole | null;
  /** Every sample on the first message, then only the new ones. */
  samples: MetricsSample[];
}

/** Registers the pages, the assets, /api/v1/gateways, CORS and /api/v1/lab/stream on the Gateway. */
export function registerWeb(app: FastifyInstance, opts: WebOptions): void {
  const assets = loadAssets(opts.assetsDir ?? defaultAssetsDir());
  const page = (file: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const a = assets.get(file);
    if (!a) return reply.code(httpStatusOf('NOT_BUILT')).send({ error: `the web client is not built (no ${file}): run npm run build`, code: 'NOT_BUILT' });
    return sendAsset(req, reply, a);
  };
  for (const [route, file] of Object.entries(PAGE_ROUTES)) app.get(route, page(file));
  app.get('/assets/*', async (req, reply) => {
    const rel = `assets/${(req.params as { '*': string })['*']}`;
    const a = assets.get(rel);
    if (!a) return reply.code(httpStatusOf('NOT_FOUND')).send({ error: `no asset ${rel}`, code: 'NOT_FOUND' });
    return sendAsset(req, reply, a);
  });

  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (!origin || !originAllowed(origin, opts.gateways)) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('vary', 'origin');
    if (req.method === 'OPTIONS') {
      reply.header('access-control-allow-methods', 'GET, POST, DELETE, OPTIONS');
      reply.header('access-control-allow-headers', 'authorization, content-type');
      reply.header('access-control-max-age', '600');
      return reply.code(204).send();
    }
  });

  app.get('/api/v1/gateways', async () => ({ gateways: opts.gateways }));

  const ring = new SampleRing();
  let last = { accepted: 0, latencySum: 0, latencyCount: 0 };
  const sampleNow = async (): Promise<MetricsSample> => {
    const accepted = (await opts.metrics.accepted.get()).values[0]?.value ?? 0;
    const hist = (await opts.metrics.endToEnd.get()).values;
    const sum = hist.find((v) => v.metricName === 'codearena_run_seconds_sum')?.value ?? 0;
    const count = hist.find((v) => v.metricName === 'codearena_run_seconds_count')?.value ?? 0;
    const done = count - last.latencyCount;
    const s: MetricsSample = {
      t: Math.round(Date.now() / 1000),
      started: accepted - last.accepted,
      queue: opts.backend.queueLength(),
      latency_ms: done > 0 ? Math.round(((sum - last.latencySum) / done) * 1000) : null,
    };
    last = { accepted, latencySum: sum, latencyCount: count };
    return s;
  };
  const listeners = new Set<(s: MetricsSample) => void>();
  // On the wall-clock beat (src/common/beat.ts): the serving Gateway and its warm standby sample
  // in the wake-up of their other beats, not on a phase of their own.
  const sampler = everyBeat(SAMPLE_INTERVAL_MS, () => {
    void sampleNow().then((s) => {
      ring.push(s);
      for (const l of listeners) l(s);
    });
  }, { unref: true });
  app.addHook('onClose', async () => sampler.cancel());
  // Open feeds never go idle: closed before the server closes, or closing would wait for them.
  const feeds = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of feeds) res.destroy();
  });

  // Server-sent events: the dashboard needs one direction only, and EventSource reconnects by itself.
  app.get('/api/v1/lab/stream', async (req, reply) => {
    opts.authorize(req);
    if (listeners.size >= FEED_CLIENTS_MAX) return reply.code(httpStatusOf('TOO_MANY_FEEDS')).send({ error: `${FEED_CLIENTS_MAX} dashboards are open on this Gateway already`, code: 'TOO_MANY_FEEDS' });
    reply.hijack();
    const res = reply.raw;
    const headers: Record<string, string> = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };
    const cors = reply.getHeader('access-control-allow-origin');
    if (typeof cors === 'string') headers['access-control-allow-origin'] = cors;
    res.writeHead(200, headers);
    let lastView = '';
    let pending: MetricsSample[] = ring.all();
    const push = (force: boolean): void => {
      const msg: LabFeedMessage = { cluster: opts.backend.cluster(), gateway: opts.gatewayRole?.() ?? null, samples: pending };
      const view = JSON.stringify([msg.cluster, msg.gateway]);
      if (!force && view === lastView && pending.length === 0) return;
      lastView = view;
      pending = [];
      // A dashboard that stopped reading is dropped rather than buffered without bound.
      if (res.writableLength > 1024 * 1024) return void res.destroy();
      res.write(`data: ${JSON.stringify(msg)}\n\n`);
    };
    const onSample = (s: MetricsSample) => pending.push(s);
    listeners.add(onSample);
    // Its own phase: it runs only while a dashboard is open, not on an idle node.
    const timer = setInterval(() => push(false), FEED_CHECK_MS);
    push(true);
    feeds.add(res);
    res.on('close', () => {
      clearInterval(timer);
      listeners.delete(onSample);
      feeds.delete(res);
    });
  });
}
