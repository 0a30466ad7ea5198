// One server process (an L1 or an L2): the thin driver around a pure core. It owns everything the
// core does not: the real clock, real timers, the SQLite file, the signed HTTP links to its peers,
// the client API (L2), /healthz, /metrics and the logs. Every event goes through `step`, one at a
// time (the core's handle is synchronous, so JavaScript's single thread serialises them).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { L1Core, defaultL1Config } from '../core/l1.js';
import { L2Core, defaultL2Config } from '../core/l2.js';
import { assertNever, timerKey, type Action, type ClientReply, type ClientRequest, type CoreTimer, type L1Event, type L1Timer, type L2Event, type L2Timer, type L1ToL2, type Message, type ServerId } from '../core/types.js';
import { DEFAULT_CONTENT_LIMITS } from '../core/validate.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { l2sOf, urlOf, type ServerEntry, type World } from '../world/world.js';
import { ApiError, registerApi } from './api.js';
import { checkLink, HDR_FROM, HDR_SIG, HDR_TS, REPLY_PATH_SUFFIX, signLink } from './link.js';
import { BlogMetrics } from './metrics.js';
import { L2_LINK_POSTS_IN_FLIGHT_MAX, LINK_BODY_BYTES_MAX, LINK_PATH, PeerLink } from './peers.js';
import { parseEnvelope } from './wire.js';
import { Accounts } from '../web/accounts.js';
import { ImageStore } from '../web/images.js';
import { registerLinkRoutes, type LinkRoutesOptions } from '../web/links.js';
import { registerSite } from '../web/site.js';

/** Image folder bounds: an L2 caches what its readers see; an L1 keeps its continent's uploads. */
const L2_IMAGE_BYTES_MAX = 512 * 1024 * 1024;
const L1_IMAGE_BYTES_MAX = 4 * 1024 * 1024 * 1024;

/** setTimeout's longest delay; a longer core timer (a 30-day sync) is re-armed when this fires. */
const TIMER_DELAY_MAX_MS = 2 ** 31 - 1;
const L1_TO_L2_TYPES: ReadonlySet<string> = new Set<L1ToL2['type']>(['write-ack', 'write-refuse', 'fetch-reply', 'heartbeat-ack', 'push', 'catchup-page']);

export interface BlogServerOptions {
  world: World;
  name: string;
  /** Folder of the server's SQLite file (<name>.db). */
  dataDir: string;
  logger?: Logger;
  /** A broken invariant in a core: by default the process exits (70) and its supervisor restarts it. */
  onFatal?: (err: unknown) => void;
}

type Core = { kind: 'l1'; core: L1Core } | { kind: 'l2'; core: L2Core };

export class BlogServer {
  readonly app: FastifyInstance;
  readonly entry: ServerEntry;
  readonly store: SqliteStore;
  readonly metrics: BlogMetrics;
  private readonly log: Logger;
  private readonly c: Core;
  private readonly peers = new Map<ServerId, PeerLink>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiting = new Map<number, (r: ClientReply) => void>();
  private nextClientReqId = 1;
  /** While a link POST is being handled: its sender, and the messages to it that go in the reply. */
  private replyTo: { peer: ServerId; messages: Message[] } | null = null;
  private closed = false;
  private accounts: Accounts | null = null;

  constructor(private readonly o: BlogServerOptions) {
    const entry = o.world.servers.find((s) => s.name === o.name);
    if (entry === undefined) throw new Error(`no server named "${o.name}" in the world file (known: ${o.world.servers.map((s) => s.name).join(', ')})`);
    this.entry = entry;
    this.log = o.logger ?? pino({ base: { server: o.name } });
    this.metrics = new BlogMetrics(o.name, entry.kind);
    mkdirSync(o.dataDir, { recursive: true });
    // An L1's commit is what a writer's acknowledgement promises: fsync it. An L2 holds copies.
    this.store = new SqliteStore(path.join(o.dataDir, `${o.name}.db`), { durability: entry.kind === 'l1' ? 'full' : 'normal' });
    this.c = this.makeCore(entry);
    for (const peer of this.peerNames()) this.peers.set(peer, this.makePeer(peer));
    this.app = Fastify({ logger: false, bodyLimit: o.world.bodyBytesMax });
    this.routes();
  }

  private makeCore(e: ServerEntry): Core {
    const w = this.o.world;
    const iv = w.intervals;
    if (e.kind === 'l1') {
      const peers = w.servers.filter((s) => s.kind === 'l1' && s.name !== e.name).map((s) => s.name);
      const l2s = l2sOf(w, e.continent).map((s) => s.name);
      const config = {
        ...defaultL1Config({ id: e.name, continent: e.continent, peers, l2s }),
        propagationTimeoutMs: iv.propagationTimeoutMs,
        syncIntervalMs: iv.syncIntervalMs,
        batchChangesMax: iv.batchChangesMax,
        batchRetryMs: iv.batchRetryMs,
        batchRetriesMax: iv.batchRetriesMax,
        syncPageChangesMax: iv.syncPageChangesMax,
        syncPageTimeoutMs: iv.syncPageTimeoutMs,
        skewMaxMs: iv.clockSkewMaxMs,
        limits: DEFAULT_CONTENT_LIMITS,
      };
      return { kind: 'l1', core: new L1Core(config, this.store) };
    }
    const l1 = w.l1.get(e.continent);
    if (l1 === undefined) throw new Error(`no L1 for continent ${e.continent}`);
    const config = {
      ...defaultL2Config({ id: e.name, country: e.country, continent: e.continent, l1: l1.name }),
      cacheEntriesMax: iv.cacheEntriesMax,
      heartbeatIntervalMs: iv.heartbeatIntervalMs,
      l1UnreachableAfterMs: Math.max(iv.l1UnreachableAfterMs, iv.heartbeatIntervalMs),
      writeTimeoutMs: iv.writeTimeoutMs,
      fetchTimeoutMs: iv.fetchTimeoutMs,
      catchUpPageTimeoutMs: iv.catchUpPageTimeoutMs,
    };
    return { kind: 'l2', core: new L2Core(config, this.store) };
  }

  /** Who this server talks to: an L1 its peers and its L2s, an L2 its L1 only. */
  private peerNames(): ServerId[] {
    const e = this.entry;
    const w = this.o.world;
    if (e.kind === 'l2') return [w.l1.get(e.continent)!.name];
    return [...w.servers.filter((s) => s.kind === 'l1' && s.name !== e.name).map((s) => s.name), ...l2sOf(w, e.continent).map((s) => s.name)];
  }

  private makePeer(peer: ServerId): PeerLink {
    const s = this.o.world.servers.find((x) => x.name === peer)!;
    return new PeerLink({
      self: this.entry.name,
      peer,
      baseUrl: urlOf(s),
      secret: this.o.world.secret,
      timeoutMs: this.o.world.intervals.linkTimeoutMs,
      ageMaxMs: this.o.world.intervals.linkMessageAgeMaxMs,
      metrics: this.metrics,
      deliver: (from, msg) => this.onPeerMessage(from, msg),
      warn: (code, message) => this.log.warn({ code }, message),
      // An L2's messages to its L1 are independent requests: let read misses overlap.
      postsInFlightMax: this.entry.kind === 'l2' ? L2_LINK_POSTS_IN_FLIGHT_MAX : 1,
    });
  }

  // ---- the event loop around the core ---------------------------------------------------------------

  private step(event: L1Event | L2Event): void {
    if (this.closed) return;
    let actions: Action[];
    try {
      actions = this.c.kind === 'l1' ? this.c.core.handle(event as L1Event, Date.now()) : this.c.core.handle(event as L2Event, Date.now());
    } catch (err) {
      // A broken invariant: the store is the truth, so crash and let the supervisor restart us.
      this.log.fatal({ err, code: 'INVARIANT' }, 'a core invariant broke; stopping');
      (this.o.onFatal ?? (() => process.exit(70)))(err);
      return;
    }
    for (const a of actions) this.execute(a);
  }

  private execute(a: Action): void {
    switch (a.type) {
      case 'send': {
        const link = this.peers.get(a.to);
        if (link === undefined) {
          this.log.error({ code: 'UNKNOWN_PEER' }, `the core sent to ${a.to}, which is not a peer of ${this.entry.name}`);
          return;
        }
        // An answer to the peer whose request is being handled rides in the reply, unless older
        // messages to it are still queued or in flight: overtaking them would reorder a push stream.
        if (this.replyTo !== null && this.replyTo.peer === a.to && (this.replyTo.messages.length > 0 || link.idle)) {
          this.replyTo.messages.push(a.msg);
          return;
        }
        link.send(a.msg);
        return;
      }
      case 'reply': {
        const resolve = this.waiting.get(a.clientReqId);
        this.waiting.delete(a.clientReqId);
        resolve?.(a.reply);
        return;
      }
      case 'set-timer':
        return this.setTimer(a.timer, a.atMs);
      case 'cancel-timer': {
        const key = timerKey(a.timer);
        clearTimeout(this.timers.get(key));
        this.timers.delete(key);
        return;
      }
      case 'metric':
        return this.metrics.record(a.metric);
      case 'log':
        this.log[a.level]({ code: a.code }, a.message);
        return;
      default:
        assertNever(a);
    }
  }

  private setTimer(timer: CoreTimer, atMs: number): void {
    const key = timerKey(timer);
    clearTimeout(this.timers.get(key));
    const delayMs = Math.min(Math.max(0, atMs - Date.now()), TIMER_DELAY_MAX_MS);
    const t = setTimeout(() => {
      this.timers.delete(key);
      if (Date.now() < atMs) return this.setTimer(timer, atMs); // a timer longer than setTimeout allows
      if (this.c.kind === 'l1') this.step({ type: 'timer', timer: timer as L1Timer });
      else this.step({ type: 'timer', timer: timer as L2Timer });
    }, delayMs);
    this.timers.set(key, t);
  }

  private onPeerMessage(from: ServerId, msg: Message): void {
    if (this.c.kind === 'l1') {
      // The L1 core checks who may send what (an L2 of another continent, a batch from an L2...).
      this.step({ type: 'message', from, msg: msg as Extract<L1Event, { type: 'message' }>['msg'] });
      return;
    }
    if (from !== this.c.core.config.l1 || !L1_TO_L2_TYPES.has(msg.type)) {
      this.metrics.linkRejected.inc({ code: 'NOT_PERMITTED' });
      this.log.warn({ code: 'NOT_PERMITTED' }, `${from} may not send ${msg.type} to ${this.entry.name}; ignored`);
      return;
    }
    this.step({ type: 'message', from, msg: msg as L1ToL2 });
  }

  /** A client request at an L2: the core answers now or when its L1 has (it always answers: timeouts). */
  submit(request: ClientRequest): Promise<ClientReply> {
    if (this.c.kind !== 'l2') throw new ApiError(404, 'NOT_FOUND', 'this is an L1: clients talk to their country server (L2)');
    const id = this.nextClientReqId++;
    return new Promise<ClientReply>((resolve) => {
      this.waiting.set(id, resolve);
      this.step({ type: 'client', clientReqId: id, request });
    });
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------

  private routes(): void {
    const app = this.app;
    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
      if (err instanceof ApiError) {
        this.countRequest(req, err.statusCode);
        return reply.code(err.statusCode).send({ error: err.message, code: err.code });
      }
      this.countRequest(req, err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : (err.statusCode ?? 500));
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return reply.code(413).send({ error: `request body over ${this.o.world.bodyBytesMax} bytes`, code: 'BODY_TOO_LARGE' });
      }
      if (err.statusCode !== undefined && err.statusCode < 500) {
        return reply.code(err.statusCode).send({ error: err.message, code: 'BAD_REQUEST' });
      }
      this.log.error({ err, url: req.url }, 'request failed');
      return reply.code(500).send({ error: 'internal error', code: 'INTERNAL' });
    });
    app.get('/healthz', async () => this.health());
    app.get('/metrics', async (_req, reply) => reply.header('content-type', this.metrics.registry.contentType).send(await this.metrics.registry.metrics()));
    // The link route parses its own body: the HMAC is over the exact bytes received.
    void app.register(async (inst) => {
      inst.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: LINK_BODY_BYTES_MAX }, (_req, body, done) => done(null, body));
      inst.post(LINK_PATH, { bodyLimit: LINK_BODY_BYTES_MAX }, async (req, reply) => this.onLink(req.headers, String(req.body ?? ''), reply));
    });
    const w = this.o.world;
    const images = new ImageStore(path.join(this.o.dataDir, `${this.entry.name}-images`), this.entry.kind === 'l1' ? L1_IMAGE_BYTES_MAX : L2_IMAGE_BYTES_MAX);
    const l1Of = (continent: string) => w.l1.get(continent as never);
    const link: LinkRoutesOptions = {
      ctx: { self: this.entry.name, secret: w.secret, ageMaxMs: w.intervals.linkMessageAgeMaxMs, knownPeer: (n) => w.servers.some((s) => s.name === n) },
      images,
      store: this.store,
      upstream: () =>
        this.entry.kind === 'l2'
          ? [{ name: l1Of(this.entry.continent)!.name, url: urlOf(l1Of(this.entry.continent)!) }]
          : w.servers.filter((s) => s.kind === 'l1' && s.name !== this.entry.name).map((s) => ({ name: s.name, url: urlOf(s) })),
    };
    registerLinkRoutes(app, link, { searchable: this.entry.kind === 'l1', lookUpstream: true });
    if (this.c.kind === 'l2') {
      const core = this.c.core;
      const l1 = l1Of(this.entry.continent)!;
      this.accounts = new Accounts(path.join(this.o.dataDir, `${this.entry.name}-accounts.db`));
      registerSite(app, {
        self: this.entry.name,
        country: this.entry.kind === 'l2' ? this.entry.country : '',
        continent: this.entry.continent,
        l1: { name: l1.name, url: urlOf(l1) },
        accounts: this.accounts,
        images,
        store: this.store,
        link,
        submit: (r) => this.submit(r),
        freshness: () => ({ lastHeardMs: core.lastHeardFromL1Ms, syncedSeq: core.synced, reachable: core.l1Reachable(Date.now()) }),
        continentOf: (country) => w.servers.find((s) => s.kind === 'l2' && s.country === country)?.continent,
      });
      registerApi(app, {
        secret: this.o.world.secret,
        country: this.entry.kind === 'l2' ? this.entry.country : '',
        submit: (r) => this.submit(r),
        count: (req, status) => this.countRequest(req, status),
      });
    }
  }

  private countRequest(req: FastifyRequest, status: number): void {
    const url = req.routeOptions.url;
    if (url?.startsWith('/api/')) this.metrics.httpRequests.inc({ route: `${req.method} ${url}`, status: String(status) });
  }

  private health(): Record<string, unknown> {
    const base = { ok: true, name: this.entry.name, role: this.entry.kind, continent: this.entry.continent, headSeq: this.store.headSeq() };
    if (this.c.kind === 'l1') return base;
    return {
      ...base,
      country: this.entry.kind === 'l2' ? this.entry.country : undefined,
      l1: this.c.core.config.l1,
      l1Reachable: this.c.core.l1Reachable(Date.now()),
      syncedSeq: this.c.core.synced,
      catchingUp: this.c.core.catchingUp,
    };
  }

  private onLink(headers: Record<string, string | string[] | undefined>, body: string, reply: import('fastify').FastifyReply) {
    const w = this.o.world;
    const check = checkLink({
      secret: w.secret,
      nowMs: Date.now(),
      ageMaxMs: w.intervals.linkMessageAgeMaxMs,
      headers,
      urlPath: LINK_PATH,
      body,
      knownPeer: (n) => this.peers.has(n),
    });
    if (!check.ok) {
      this.metrics.linkRejected.inc({ code: check.code });
      this.log.warn({ code: check.code }, `refused a server-to-server message: ${check.message}`);
      return reply.code(401).send({ error: check.message, code: check.code });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      this.metrics.linkRejected.inc({ code: 'LINK_MALFORMED' });
      return reply.code(400).send({ error: 'server-to-server body is not JSON', code: 'LINK_MALFORMED' });
    }
    const parsed = parseEnvelope(raw);
    if (!parsed.ok) {
      this.metrics.linkRejected.inc({ code: 'LINK_MALFORMED' });
      this.log.warn({ code: 'LINK_MALFORMED' }, `from ${check.from}: ${parsed.message}`);
      return reply.code(400).send({ error: parsed.message, code: 'LINK_MALFORMED' });
    }
    this.metrics.linkBytesIn.inc({ peer: check.from }, Buffer.byteLength(body));
    const answers: Message[] = [];
    this.replyTo = { peer: check.from, messages: answers };
    try {
      for (const m of parsed.messages) this.onPeerMessage(check.from, m);
    } finally {
      this.replyTo = null;
    }
    const out = JSON.stringify({ messages: answers });
    const tsMs = Date.now();
    return reply
      .header('content-type', 'application/json')
      .header(HDR_TS, String(tsMs))
      .header(HDR_FROM, this.entry.name)
      .header(HDR_SIG, signLink(w.secret, tsMs, this.entry.name, LINK_PATH + REPLY_PATH_SUFFIX, out))
      .send(out);
  }

  // ---- life cycle -----------------------------------------------------------------------------------------

  async listen(): Promise<void> {
    await this.app.listen({ host: this.entry.host, port: this.entry.port });
    this.log.info({ code: 'LISTENING', url: urlOf(this.entry), role: this.entry.kind }, `${this.entry.name} listening on ${urlOf(this.entry)}`);
    this.step({ type: 'start' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const p of this.peers.values()) p.close();
    for (const resolve of this.waiting.values()) resolve({ ok: false, error: { code: 'OVERLOADED', message: 'the server is shutting down' } });
    this.waiting.clear();
    await this.app.close();
    this.store.close();
    this.accounts?.close();
  }
}
