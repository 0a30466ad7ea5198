// Server-to-server image and search links: signed like the replication link (link.ts), an HMAC of
// the world's secret over timestamp, sender, path and body. Image bytes need no signed reply: the
// receiver checks them against the SHA-256 it asked for. A search reply is signed by the L1.
import type { FastifyInstance } from 'fastify';
import type { Blog } from '../core/types.js';
import { checkLink, HDR_FROM, HDR_SIG, HDR_TS, signLink } from '../server/link.js';
import { SEARCH_TEXT_CHARS_MAX, type BlogStore } from '../store/store.js';
import type { SearchHit } from '../store/fts.js';
import { HASH_RE, IMAGE_BYTES_MAX, sha256Hex, sniffImage, type ImageStore } from './images.js';

export const LINK_TIMEOUT_MS = 5_000;
const SEARCH_REPLY_BYTES_MAX = 2 * 1024 * 1024;
const SEARCH_PATH = '/link/search';

export interface LinkCtx {
  self: string;
  secret: string;
  ageMaxMs: number;
  knownPeer: (name: string) => boolean;
}

function signed(ctx: LinkCtx, urlPath: string, body: string): Record<string, string> {
  const ts = Date.now();
  return { [HDR_TS]: String(ts), [HDR_FROM]: ctx.self, [HDR_SIG]: signLink(ctx.secret, ts, ctx.self, urlPath, body) };
}

/** Fetches an image by hash from a peer; undefined when it lacks it, is down, or sends other bytes. */
export async function fetchImage(ctx: LinkCtx, baseUrl: string, hash: string): Promise<Buffer | undefined> {
  const urlPath = `/link/img/${hash}`;
  try {
    const r = await fetch(baseUrl + urlPath, { headers: signed(ctx, urlPath, ''), signal: AbortSignal.timeout(LINK_TIMEOUT_MS) });
    if (!r.ok) return undefined;
    const b = Buffer.from(await r.arrayBuffer());
    return b.length <= IMAGE_BYTES_MAX && sha256Hex(b) === hash && sniffImage(b) !== null ? b : undefined;
  } catch {
    return undefined;
  }
}

/** Hands an image to a peer (an L2 to its L1): the path names the hash, the peer checks the bytes. */
export async function pushImage(ctx: LinkCtx, baseUrl: string, hash: string, bytes: Buffer): Promise<boolean> {
  const urlPath = `/link/img/${hash}`;
  try {
    const r = await fetch(baseUrl + urlPath, {
      method: 'POST',
      headers: { ...signed(ctx, urlPath, ''), 'content-type': 'application/octet-stream' },
      body: new Uint8Array(bytes),
      signal: AbortSignal.timeout(LINK_TIMEOUT_MS),
    });
    return r.ok;
  } catch {
    return false;
  }
}

export async function searchAt(ctx: LinkCtx, baseUrl: string, peer: string, q: string, limit: number): Promise<SearchHit[] | undefined> {
  const body = JSON.stringify({ q, limit });
  try {
    const r = await fetch(baseUrl + SEARCH_PATH, {
      method: 'POST',
      headers: { ...signed(ctx, SEARCH_PATH, body), 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(LINK_TIMEOUT_MS),
    });
    const text = await r.text();
    if (!r.ok || text.length > SEARCH_REPLY_BYTES_MAX) return undefined;
    const check = checkLink({ secret: ctx.secret, nowMs: Date.now(), ageMaxMs: ctx.ageMaxMs, headers: Object.fromEntries(r.headers), urlPath: `${SEARCH_PATH}#reply`, body: text, knownPeer: (n) => n === peer });
    if (!check.ok) return undefined;
    return (JSON.parse(text) as { hits: SearchHit[] }).hits;
  } catch {
    return undefined;
  }
}

export interface LinkRoutesOptions {
  ctx: LinkCtx;
  images: ImageStore;
  store: BlogStore;
  /** Where to look for an image this server lacks (an L2: its L1; an L1: the other L1s). */
  upstream: () => Array<{ name: string; url: string }>;
}

/** Finds an image here or upstream (stored on the way back, so the next reader is served locally). */
export async function findImage(o: LinkRoutesOptions, hash: string): Promise<Buffer | undefined> {
  const here = o.images.get(hash);
  if (here !== undefined) return here;
  for (const up of o.upstream()) {
    const b = await fetchImage(o.ctx, up.url, hash);
    if (b !== undefined) {
      o.images.put(b);
      return b;
    }
  }
  return undefined;
}

export function registerLinkRoutes(app: FastifyInstance, o: LinkRoutesOptions, opts: { searchable: boolean; lookUpstream: boolean }): void {
  const check = (headers: Record<string, string | string[] | undefined>, urlPath: string, body: string) =>
    checkLink({ secret: o.ctx.secret, nowMs: Date.now(), ageMaxMs: o.ctx.ageMaxMs, headers, urlPath, body, knownPeer: o.ctx.knownPeer });

  void app.register(async (inst) => {
    inst.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: IMAGE_BYTES_MAX }, (_req, body, done) => done(null, body));
    inst.get('/link/img/:hash', async (req, reply) => {
      const hash = (req.params as { hash: string }).hash;
      const c = check(req.headers, `/link/img/${hash}`, '');
      if (!c.ok) return reply.code(401).send({ error: c.message, code: c.code });
      if (!HASH_RE.test(hash)) return reply.code(400).send({ error: 'not a SHA-256 hash', code: 'BAD_REQUEST' });
      // An L1 asked by another L1 answers from what it holds only: no chains of look-ups.
      const b = opts.lookUpstream && !o.upstream().some((u) => u.name === c.from) ? await findImage(o, hash) : o.images.get(hash);
      if (b === undefined) return reply.code(404).send({ error: 'no such image here', code: 'NOT_FOUND' });
      return reply.header('content-type', 'application/octet-stream').send(b);
    });
    inst.post('/link/img/:hash', async (req, reply) => {
      const hash = (req.params as { hash: string }).hash;
      const c = check(req.headers, `/link/img/${hash}`, '');
      if (!c.ok) return reply.code(401).send({ error: c.message, code: c.code });
      const b = req.body as Buffer;
      if (!Buffer.isBuffer(b) || sha256Hex(b) !== hash || sniffImage(b) === null) return reply.code(400).send({ error: 'the bytes are not an image of that hash', code: 'BAD_REQUEST' });
      o.images.put(b);
      return { stored: hash };
    });
    if (opts.searchable) {
      inst.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, body));
      inst.post(SEARCH_PATH, async (req, reply) => {
        const body = String(req.body ?? '');
        const c = check(req.headers, SEARCH_PATH, body);
        if (!c.ok) return reply.code(401).send({ error: c.message, code: c.code });
        const q = JSON.parse(body) as { q?: unknown; limit?: unknown };
        if (typeof q.q !== 'string' || q.q.length > SEARCH_TEXT_CHARS_MAX || typeof q.limit !== 'number') return reply.code(400).send({ error: 'q and limit', code: 'BAD_REQUEST' });
        const out = JSON.stringify({ hits: o.store.searchRanked(q.q, Math.min(50, Math.max(1, Math.floor(q.limit)))) });
        const ts = Date.now();
        return reply
          .header('content-type', 'application/json')
          .header(HDR_TS, String(ts))
          .header(HDR_FROM, o.ctx.self)
          .header(HDR_SIG, signLink(o.ctx.secret, ts, o.ctx.self, `${SEARCH_PATH}#reply`, out))
          .send(out);
      });
    }
  });
}

export type { Blog };
