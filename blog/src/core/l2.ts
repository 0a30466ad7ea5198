// The country server (L2) as a pure state machine. It answers readers from its LRU cache or its
// store, asks its L1 on a miss and keeps the answer; it forwards writes to its L1 and answers the
// writer only when the L1 has committed (then applies the change itself: read-your-writes); it
// follows the L1's push stream, notices gaps, and catches up (scoped to its region) when behind or
// restarted. When its L1 does not answer it refuses writes and keeps serving what it has.
import assert from 'node:assert/strict';
import { compareHlc } from './hlc.js';
import { Lru } from './lru.js';
import {
  assertNever,
  entityKey,
  idBase,
  type Action,
  type Blog,
  type Change,
  type ClientReply,
  type EntityKey,
  type ErrorCode,
  type L1ToL2,
  type L2Event,
  type L2Timer,
  type L2ToL1,
  type ReadRequest,
  type ServerId,
  type WriteRequest,
} from './types.js';
import { SEARCH_TEXT_CHARS_MAX, type BlogStore } from '../store/store.js';

export interface L2Config {
  readonly id: ServerId;
  readonly country: string;
  readonly continent: string;
  readonly l1: ServerId;
  /** This server's own LRU of rendered blogs. */
  readonly cacheEntriesMax: number;
  /** How often the L2 tells its L1 where it is (and learns the L1's log head). */
  readonly heartbeatIntervalMs: number;
  /** No word from the L1 for this long: it is unreachable, writes are refused. */
  readonly l1UnreachableAfterMs: number;
  /** A forwarded write not acknowledged in this time is answered L1_TIMEOUT (it may still commit). */
  readonly writeTimeoutMs: number;
  /** A read miss sent to the L1 not answered in this time is answered CONTINENT_UNREACHABLE. */
  readonly fetchTimeoutMs: number;
  /** Client requests (writes, and readers waiting on a miss) waiting for the L1; past it, OVERLOADED. */
  readonly pendingRequestsMax: number;
  /**
   * Distinct keys fetched from the L1 at once. Concurrent misses for one key share one fetch
   * (singleflight); a miss for a new key past this bound is refused with OVERLOADED at once,
   * rather than queueing behind a link that is already as busy as it may get.
   */
  readonly fetchesInFlightMax: number;
  readonly catchUpPageTimeoutMs: number;
  readonly catchUpRetriesMax: number;
  /** Full changes one catch-up may bring (the region scope's bound); the rest comes on demand. */
  readonly catchUpChangesMax: number;
  /** Keys asked for in full per catch-up request (held in an older version than the L1's). */
  readonly wantKeysMax: number;
  /** Stale keys remembered between catch-up pages; past it the oldest wait for the next catch-up. */
  readonly wantQueueMax: number;
  /** Distinct blogs whose reads are reported per heartbeat (most-read ranking at the L1). */
  readonly readReportMax: number;
  /** The longest list a client may ask for. */
  readonly listLimitMax: number;
}

export function defaultL2Config(ids: { id: ServerId; country: string; continent: string; l1: ServerId }): L2Config {
  return {
    ...ids,
    cacheEntriesMax: 10_000, // ~10k hot posts x a few KiB: tens of MiB
    heartbeatIntervalMs: 5_000,
    l1UnreachableAfterMs: 15_000, // three missed heartbeats
    writeTimeoutMs: 5_000,
    fetchTimeoutMs: 5_000,
    pendingRequestsMax: 10_000,
    fetchesInFlightMax: 256, // ~1 s of misses at the measured rate: past it a reader is better told at once
    catchUpPageTimeoutMs: 10_000,
    catchUpRetriesMax: 5,
    catchUpChangesMax: 10_000,
    wantKeysMax: 200,
    wantQueueMax: 10_000,
    readReportMax: 500,
    listLimitMax: 100,
  };
}

type Pending =
  | { readonly kind: 'write'; readonly clientReqId: number; readonly request: WriteRequest }
  /** One fetch of `key` from the L1, and every reader waiting for it (singleflight). */
  | { readonly kind: 'fetch'; readonly key: EntityKey; readonly waiters: Array<{ readonly clientReqId: number; readonly read: ReadRequest }> };

interface CatchUp {
  corrId: number;
  phase: 'log' | 'most-read';
  afterSeq: number;
  fullChangesLeft: number;
  wantKeys: EntityKey[];
  attempts: number;
  /** After a (re)start the most-read blogs follow the log; a gap repair needs only the log. */
  readonly withMostRead: boolean;
}

export class L2Core {
  private readonly cache: Lru<EntityKey, Blog>;
  private readonly pending = new Map<number, Pending>();
  /** Client requests waiting in `pending` (writes + fetch waiters), bounded by pendingRequestsMax. */
  private waitingClients = 0;
  /** Keys with a read miss in flight, and its corrId (see the notice rule in onCatchUpPage). */
  private readonly fetchingKeys = new Map<EntityKey, number>();
  private nextCorrId = 1;
  private syncedSeq: number;
  private lastHeardMs = -Infinity;
  private catchUp: CatchUp | null = null;
  private wantQueue: EntityKey[] = [];
  /** syncedSeq at the previous heartbeat-ack: no progress across two acks while behind = a gap. */
  private syncedAtLastAck: number | null = null;
  private readonly readsToReport = new Map<string, number>();
  private out: Action[] = [];

  constructor(
    readonly config: L2Config,
    private readonly store: BlogStore,
  ) {
    assert.ok(config.heartbeatIntervalMs > 0 && config.l1UnreachableAfterMs >= config.heartbeatIntervalMs, 'l1UnreachableAfterMs must cover a heartbeat');
    this.cache = new Lru(config.cacheEntriesMax);
    this.syncedSeq = store.getCheckpoint(config.l1);
  }

  handle(event: L2Event, nowMs: number): Action[] {
    this.out = [];
    switch (event.type) {
      case 'start':
        // Correlation ids must not repeat across restarts: a late write-ack for a request sent
        // before a crash would otherwise answer a new writer with someone else's write.
        this.nextCorrId = Math.max(this.nextCorrId, idBase(nowMs));
        // Optimistic at start: forward writes until the L1 proves silent (they time out, unacknowledged).
        this.lastHeardMs = nowMs;
        this.sendHeartbeat(nowMs);
        this.startCatchUp(nowMs, true); // a restarted L2 asks for everything after its last synced position
        break;
      case 'client':
        if (event.request.kind === 'write') this.onWrite(event.clientReqId, event.request.request, nowMs);
        else this.onRead(event.clientReqId, event.request.request, nowMs);
        break;
      case 'message':
        this.lastHeardMs = nowMs;
        this.onMessage(event.msg, nowMs);
        break;
      case 'timer':
        this.onTimer(event.timer, nowMs);
        break;
      default:
        assertNever(event);
    }
    return this.out;
  }

  /** True while the L1 has been heard from recently enough to take writes. */
  l1Reachable(nowMs: number): boolean {
    return nowMs - this.lastHeardMs <= this.config.l1UnreachableAfterMs;
  }

  /** When the last message from the L1 arrived (-Infinity: never); the pages' freshness line. */
  get lastHeardFromL1Ms(): number {
    return this.lastHeardMs;
  }

  get synced(): number {
    return this.syncedSeq;
  }

  get catchingUp(): boolean {
    return this.catchUp !== null;
  }

  private emit(a: Action): void {
    this.out.push(a);
  }

  private send(msg: L2ToL1): void {
    this.emit({ type: 'send', to: this.config.l1, msg });
  }

  private reply(clientReqId: number, reply: ClientReply): void {
    this.emit({ type: 'reply', clientReqId, reply });
  }

  private fail(clientReqId: number, code: ErrorCode, message: string): void {
    this.emit({ type: 'metric', metric: { name: 'refused', code } });
    this.reply(clientReqId, { ok: false, error: { code, message } });
  }

  // ---- writes -------------------------------------------------------------------------------------

  private onWrite(clientReqId: number, request: WriteRequest, nowMs: number): void {
    if (!this.l1Reachable(nowMs)) {
      // Consistency inside a continent: nothing is acknowledged that the L1 does not hold.
      return this.fail(clientReqId, 'L1_UNREACHABLE', `the continent server ${this.config.l1} cannot be reached; writes are refused until it is back (reads still work)`);
    }
    if (!this.roomFor(clientReqId)) return;
    const corrId = this.track({ kind: 'write', clientReqId, request });
    this.send({ type: 'write', corrId, request });
    this.emit({ type: 'set-timer', timer: { kind: 'request-timeout', corrId }, atMs: nowMs + this.config.writeTimeoutMs });
  }

  /** False (and the client answered OVERLOADED) when pendingRequestsMax clients already wait. */
  private roomFor(clientReqId: number): boolean {
    if (this.waitingClients < this.config.pendingRequestsMax) return true;
    this.fail(clientReqId, 'OVERLOADED', `${this.waitingClients} requests already wait for the continent server; try again`);
    return false;
  }

  private track(p: Pending): number {
    const corrId = this.nextCorrId++;
    this.pending.set(corrId, p);
    this.waitingClients += p.kind === 'fetch' ? p.waiters.length : 1;
    if (p.kind === 'fetch') this.fetchingKeys.set(p.key, corrId);
    return corrId;
  }

  /** Applies changes committed at the L1, dropping cached copies they replace. */
  private applyAll(changes: readonly Change[]): void {
    this.store.atomically(() => {
      for (const c of changes) {
        if (this.store.apply(c).won) this.cache.delete(entityKey(c));
      }
    });
  }

  // ---- reads --------------------------------------------------------------------------------------

  private onRead(clientReqId: number, read: ReadRequest, nowMs: number): void {
    switch (read.op) {
      case 'get-blog': {
        const key = `blog:${read.blogId}`;
        const cached = this.cache.get(key);
        if (cached) {
          this.emit({ type: 'metric', metric: { name: 'cache_hit' } });
          this.countRead(cached.id);
          return this.reply(clientReqId, { ok: true, kind: 'blog', blog: cached, source: 'cache' });
        }
        this.emit({ type: 'metric', metric: { name: 'cache_miss' } });
        if (this.store.get(key)) return this.answerFromStore(clientReqId, read, 'store');
        return this.fetch(clientReqId, key, read, nowMs);
      }
      case 'get-profile': {
        const key = `user:${read.userId}`;
        if (this.store.get(key)) return this.answerFromStore(clientReqId, read, 'store');
        return this.fetch(clientReqId, key, read, nowMs);
      }
      case 'get-publication': {
        const pub = this.store.publicationBySlug(read.slug);
        if (!pub) return this.fail(clientReqId, 'NOT_FOUND', `no publication "${read.slug}" known here`);
        return this.reply(clientReqId, { ok: true, kind: 'publication', publication: pub, effectiveSlug: this.store.effectiveSlug(pub.id)! });
      }
      case 'list-recent':
      case 'list-by-author':
      case 'list-by-publication':
      case 'search':
        return this.answerList(clientReqId, read);
      default:
        assertNever(read);
    }
  }

  private answerList(clientReqId: number, read: Extract<ReadRequest, { op: 'list-recent' | 'list-by-author' | 'list-by-publication' | 'search' }>): void {
    if (!Number.isInteger(read.limit) || read.limit < 1 || read.limit > this.config.listLimitMax) {
      return this.fail(clientReqId, 'BAD_REQUEST', `limit must be an integer from 1 to ${this.config.listLimitMax}`);
    }
    let blogs: Blog[];
    switch (read.op) {
      case 'list-recent':
        blogs = this.store.listRecent(read.limit);
        break;
      case 'list-by-author':
        blogs = this.store.listByAuthor(read.userId, read.limit);
        break;
      case 'list-by-publication':
        blogs = this.store.listByPublication(read.publicationId, read.limit);
        break;
      case 'search':
        if (read.text.length < 1 || read.text.length > SEARCH_TEXT_CHARS_MAX) {
          return this.fail(clientReqId, 'BAD_REQUEST', `search text must be 1 to ${SEARCH_TEXT_CHARS_MAX} characters`);
        }
        blogs = this.store.search(read.text, read.limit);
        break;
      default:
        return assertNever(read);
    }
    this.reply(clientReqId, { ok: true, kind: 'blogs', blogs });
  }

  private fetch(clientReqId: number, key: EntityKey, read: ReadRequest, nowMs: number): void {
    if (!this.l1Reachable(nowMs)) {
      return this.fail(clientReqId, 'CONTINENT_UNREACHABLE', `not held here and the continent server ${this.config.l1} cannot be reached`);
    }
    if (!this.roomFor(clientReqId)) return;
    const joined = this.fetchingKeys.get(key);
    const inFlight = joined === undefined ? undefined : this.pending.get(joined);
    if (inFlight?.kind === 'fetch') {
      // The same key is on its way already: wait for that answer (it is stored, then each waiter
      // reads the store, so nobody gets an older version than the store holds by then).
      inFlight.waiters.push({ clientReqId, read });
      this.waitingClients++;
      return;
    }
    if (this.fetchingKeys.size >= this.config.fetchesInFlightMax) {
      return this.fail(clientReqId, 'OVERLOADED', `${this.fetchingKeys.size} reads already wait for the continent server ${this.config.l1}; try again`);
    }
    const corrId = this.track({ kind: 'fetch', key, waiters: [{ clientReqId, read }] });
    this.send({ type: 'fetch', corrId, key });
    this.emit({ type: 'set-timer', timer: { kind: 'request-timeout', corrId }, atMs: nowMs + this.config.fetchTimeoutMs });
  }

  /** Answers a get-blog/get-profile from the store (which the caller knows holds the key). */
  private answerFromStore(clientReqId: number, read: ReadRequest, source: 'store' | 'l1'): void {
    if (read.op === 'get-blog') {
      const blog = this.store.getBlog(read.blogId);
      if (!blog) {
        const gone = this.store.getTombstone(read.blogId);
        return this.fail(clientReqId, gone ? 'DELETED' : 'NOT_FOUND', gone ? `blog ${read.blogId} was deleted by its author` : `no blog ${read.blogId}`);
      }
      this.cache.set(`blog:${blog.id}`, blog);
      this.countRead(blog.id);
      return this.reply(clientReqId, { ok: true, kind: 'blog', blog, source });
    }
    if (read.op === 'get-profile') {
      const user = this.store.getUser(read.userId);
      if (!user) return this.fail(clientReqId, 'NOT_FOUND', `no user ${read.userId}`);
      // The count is this server's view: the author's live blogs this L2 holds.
      return this.reply(clientReqId, { ok: true, kind: 'profile', user, blogCount: this.store.blogCount(user.id), source });
    }
    throw new Error(`answerFromStore cannot answer ${read.op}`);
  }

  private countRead(blogId: string): void {
    this.store.addReads(blogId, 1);
    const n = this.readsToReport.get(blogId);
    if (n !== undefined) this.readsToReport.set(blogId, n + 1);
    else if (this.readsToReport.size < this.config.readReportMax) this.readsToReport.set(blogId, 1);
  }

  // ---- messages from the L1 -----------------------------------------------------------------------

  private onMessage(msg: L1ToL2, nowMs: number): void {
    switch (msg.type) {
      case 'write-ack': {
        // Apply even when the writer is gone (timed out): the L1 holds it, so this L2 should too.
        this.applyAll(msg.changes);
        const p = this.pending.get(msg.corrId);
        if (p?.kind !== 'write') return;
        if (!ackMatches(p.request, msg.changes)) {
          // Defence in depth: never tell a writer "written" with changes that are not its write.
          this.emit({ type: 'log', level: 'error', code: 'ACK_MISMATCH', message: `write-ack ${msg.corrId} does not match request ${p.request.requestId}; ignored` });
          return;
        }
        this.takePending(msg.corrId);
        this.reply(p.clientReqId, { ok: true, kind: 'written', changes: msg.changes });
        return;
      }
      case 'write-refuse': {
        const p = this.takePending(msg.corrId);
        if (p?.kind === 'write') this.fail(p.clientReqId, msg.error.code, msg.error.message);
        return;
      }
      case 'fetch-reply': {
        const p = this.takePending(msg.corrId);
        // A late answer (timed out) is not stored: it may predate a catch-up notice for its key.
        if (p?.kind !== 'fetch') return;
        if (msg.change) this.applyAll([msg.change]);
        const held = this.store.get(p.key) !== undefined;
        for (const w of p.waiters) {
          if (held) this.answerFromStore(w.clientReqId, w.read, 'l1');
          else this.fail(w.clientReqId, 'NOT_FOUND', `not found here nor at ${this.config.l1} (another continent's change may not have arrived yet)`);
        }
        return;
      }
      case 'heartbeat-ack':
        return this.onHeartbeatAck(msg.headSeq, nowMs);
      case 'push': {
        const contiguous = msg.afterSeq <= this.syncedSeq;
        this.store.atomically(() => {
          this.applyAll(msg.changes);
          if (contiguous) this.advanceSynced(msg.toSeq);
        });
        if (!contiguous) this.startCatchUp(nowMs, false); // a push was lost: fetch the gap
        return;
      }
      case 'catchup-page':
        return this.onCatchUpPage(msg, nowMs);
      default:
        assertNever(msg);
    }
  }

  private takePending(corrId: number): Pending | undefined {
    const p = this.untrack(corrId);
    if (p) this.emit({ type: 'cancel-timer', timer: { kind: 'request-timeout', corrId } });
    return p;
  }

  private untrack(corrId: number): Pending | undefined {
    const p = this.pending.get(corrId);
    if (!p) return undefined;
    this.pending.delete(corrId);
    this.waitingClients -= p.kind === 'fetch' ? p.waiters.length : 1;
    if (p.kind === 'fetch' && this.fetchingKeys.get(p.key) === corrId) this.fetchingKeys.delete(p.key);
    return p;
  }

  private advanceSynced(seq: number): void {
    if (seq <= this.syncedSeq) return;
    this.syncedSeq = seq;
    this.store.setCheckpoint(this.config.l1, seq);
  }

  private onHeartbeatAck(headSeq: number, nowMs: number): void {
    const behind = headSeq > this.syncedSeq;
    // Behind twice in a row without progress: the pushes that would close the gap are lost.
    if (behind && this.catchUp === null && this.syncedAtLastAck === this.syncedSeq) this.startCatchUp(nowMs, false);
    this.syncedAtLastAck = behind ? this.syncedSeq : null;
  }

  // ---- catch-up -------------------------------------------------------------------------------------

  private startCatchUp(nowMs: number, withMostRead: boolean): void {
    if (this.catchUp !== null) return;
    this.catchUp = {
      withMostRead,
      corrId: this.nextCorrId++,
      phase: 'log',
      afterSeq: this.syncedSeq,
      fullChangesLeft: this.config.catchUpChangesMax,
      wantKeys: [],
      attempts: 0,
    };
    this.requestCatchUp(nowMs);
  }

  private requestCatchUp(nowMs: number): void {
    const c = this.catchUp!;
    c.attempts++;
    this.send({
      type: 'catchup-request',
      corrId: c.corrId,
      phase: c.phase,
      afterSeq: c.afterSeq,
      country: this.config.country,
      fullChangesLeft: c.fullChangesLeft,
      wantKeys: c.wantKeys,
    });
    this.emit({ type: 'set-timer', timer: { kind: 'catchup-timeout', corrId: c.corrId }, atMs: nowMs + this.config.catchUpPageTimeoutMs });
  }

  private onCatchUpPage(msg: Extract<L1ToL2, { type: 'catchup-page' }>, nowMs: number): void {
    const c = this.catchUp;
    if (!c || c.corrId !== msg.corrId || c.phase !== msg.phase || c.afterSeq !== msg.afterSeq) return; // stale or duplicate
    this.applyAll(msg.changes);
    this.emit({ type: 'metric', metric: { name: 'catchup_page', changes: msg.changes.length, notices: msg.notices.length } });
    c.fullChangesLeft = Math.max(0, c.fullChangesLeft - msg.changes.length);
    for (const n of msg.notices) {
      const held = this.store.get(n.key)?.change;
      // Held in an older version: ask for it in full. (A held tombstone is final; unheld keys come on
      // demand.) A key with a read miss in flight counts as held: its answer may predate this notice
      // and, arriving after it, would otherwise leave an old version here that nothing corrects.
      const stale = held ? held.kind !== 'tombstone' && compareHlc(held.hlc, n.hlc) < 0 : this.fetchingKeys.has(n.key);
      if (stale && this.wantQueue.length < this.config.wantQueueMax) this.wantQueue.push(n.key);
    }
    const corrId = this.nextCorrId++;
    this.emit({ type: 'cancel-timer', timer: { kind: 'catchup-timeout', corrId: c.corrId } });
    if (msg.phase === 'most-read') {
      this.catchUp = null;
      return;
    }
    const wantKeys = this.wantQueue.splice(0, this.config.wantKeysMax);
    if (msg.done && wantKeys.length === 0) {
      this.advanceSynced(msg.toSeq);
      if (!c.withMostRead) {
        this.catchUp = null;
        return;
      }
      this.catchUp = { ...c, corrId, phase: 'most-read', afterSeq: msg.toSeq, wantKeys: [], attempts: 0 };
    } else {
      this.catchUp = { ...c, corrId, afterSeq: msg.toSeq, wantKeys, attempts: 0 };
    }
    this.requestCatchUp(nowMs);
  }

  // ---- timers ---------------------------------------------------------------------------------------

  private sendHeartbeat(nowMs: number): void {
    const reads = [...this.readsToReport].map(([blogId, count]) => ({ blogId, count }));
    this.readsToReport.clear();
    this.send({ type: 'heartbeat', syncedSeq: this.syncedSeq, reads });
    this.emit({ type: 'set-timer', timer: { kind: 'heartbeat' }, atMs: nowMs + this.config.heartbeatIntervalMs });
  }

  private onTimer(timer: L2Timer, nowMs: number): void {
    switch (timer.kind) {
      case 'heartbeat':
        return this.sendHeartbeat(nowMs);
      case 'request-timeout': {
        const p = this.untrack(timer.corrId);
        if (!p) return;
        if (p.kind === 'write') {
          return this.fail(p.clientReqId, 'L1_TIMEOUT', `the continent server ${this.config.l1} did not answer in ${this.config.writeTimeoutMs} ms; the write may or may not be committed: retry with the same requestId`);
        }
        for (const w of p.waiters) {
          this.fail(w.clientReqId, 'CONTINENT_UNREACHABLE', `not held here and the continent server ${this.config.l1} did not answer in ${this.config.fetchTimeoutMs} ms`);
        }
        return;
      }
      case 'catchup-timeout': {
        const c = this.catchUp;
        if (!c || c.corrId !== timer.corrId) return;
        if (c.attempts >= this.config.catchUpRetriesMax) {
          this.catchUp = null; // the next heartbeat-ack that finds us behind starts again
          this.emit({ type: 'log', level: 'warn', code: 'CATCHUP_ABANDONED', message: `catch-up from ${this.config.l1} got no page after ${c.attempts} tries` });
          return;
        }
        return this.requestCatchUp(nowMs);
      }
      default:
        assertNever(timer);
    }
  }
}

/** Does an acknowledgement carry the entity the request wrote? */
function ackMatches(request: WriteRequest, changes: readonly Change[]): boolean {
  const w = request.write;
  const want =
    w.op === 'register'
      ? `user:u.${request.requestId}`
      : w.op === 'create-blog'
        ? `blog:b.${request.requestId}`
        : `blog:${w.blogId}`;
  return changes.some((c) => entityKey(c) === want);
}
