// The continent server (L1) as a pure state machine. It is the only place changes are committed:
// it stamps them with its HLC, stores them, acknowledges to the L2 that forwarded the write, pushes
// them to its own continent's L2s, batches them to the other L1s, and pulls every other L1's log
// in bounded pages on each sync round. See src/core/README.md for the driver contract.
import assert from 'node:assert/strict';
import { compareHlc, HLC_ZERO, HlcClock, maxHlc } from './hlc.js';
import {
  assertNever,
  BlogError,
  changeCountry,
  entityKey,
  idBase,
  type Action,
  type Blog,
  type Change,
  type Hlc,
  type L1ToL2,
  type ErrorInfo,
  type L1Event,
  type L1Timer,
  type L1ToL1,
  type L2ToL1,
  type LoggedChange,
  type ServerId,
  type StaleNotice,
  type SyncKnown,
  type WriteOp,
  type WriteRequest,
} from './types.js';
import { DEFAULT_CONTENT_LIMITS, validateWrite, type ContentLimits } from './validate.js';
import type { BlogStore } from '../store/store.js';

export interface L1Config {
  readonly id: ServerId;
  readonly continent: string;
  /** The other continents' L1s (full mesh: batches go straight to each, so lag is one hop). */
  readonly peers: readonly ServerId[];
  /** This continent's L2s: the only servers this L1 pushes to and takes writes from. */
  readonly l2s: readonly ServerId[];
  /** A batch leaves when it holds this many changes: bounds one message (x bodyBytesMax). */
  readonly batchChangesMax: number;
  /** ...or when its oldest change has waited this long (the design's 2 hours). */
  readonly propagationTimeoutMs: number;
  /** Unacknowledged batches per peer; a due batch waits only when this many are in flight. */
  readonly batchesInFlightMax: number;
  /** An unacknowledged batch is resent after this long... */
  readonly batchRetryMs: number;
  /** ...this many times, then dropped: the next sync round repairs what it carried. */
  readonly batchRetriesMax: number;
  /** Changes waiting for one peer; past it the oldest are dropped (sync repairs), memory stays bounded. */
  readonly outboxChangesMax: number;
  /** The design's 24-hour L1 sync from the last agreed checkpoint. */
  readonly syncIntervalMs: number;
  /** One sync page: bounds the message and the work per event. */
  readonly syncPageChangesMax: number;
  /**
   * Log entries one sync page may examine: entries the requester already holds are skipped, so
   * after healthy batches most of a day's log is skipped; this bounds the work per page.
   */
  readonly syncPageScanMax: number;
  /** Out-of-order batch ranges remembered per origin until the gap before them is filled. */
  readonly knownRangesMax: number;
  readonly syncPageTimeoutMs: number;
  readonly syncPageRetriesMax: number;
  /** A remote HLC more than this ahead of local wall time is refused (CLOCK_SKEW). */
  readonly skewMaxMs: number;
  /** One catch-up page to an L2 (log entries examined). */
  readonly catchUpPageChangesMax: number;
  /** Most-read blogs sent after a restarted L2's log catch-up. */
  readonly catchUpMostReadMax: number;
  /** Keys an L2 may ask for in one catch-up request. */
  readonly wantKeysMax: number;
  /** Read-count entries taken from one heartbeat. */
  readonly readReportMax: number;
  readonly limits: ContentLimits;
}

export function defaultL1Config(ids: { id: ServerId; continent: string; peers: readonly ServerId[]; l2s: readonly ServerId[] }): L1Config {
  return {
    ...ids,
    batchChangesMax: 100, // 100 x 64 KiB worst case = 6.4 MiB per message; typical posts are a few KiB
    propagationTimeoutMs: 2 * 60 * 60 * 1000, // the design's 2 hours
    batchesInFlightMax: 4, // enough to ride out one slow ack without holding the next batch back
    batchRetryMs: 30_000, // a continent link that fails for 30 s is worth retrying
    batchRetriesMax: 20, // ~10 minutes of retries, then the daily sync repairs
    outboxChangesMax: 100_000, // a day of the world's writes (10,000 writers/day) with room to spare
    syncIntervalMs: 24 * 60 * 60 * 1000, // the design's 24 hours
    syncPageChangesMax: 200,
    syncPageScanMax: 1_000, // 5 pages' worth of entries read per page (the store's page bound, STORE_PAGE_MAX)
    knownRangesMax: 64, // more than batchesInFlightMax x the peers' reorderings; past it, the sync resends
    syncPageTimeoutMs: 30_000,
    syncPageRetriesMax: 5,
    skewMaxMs: 60_000, // NTP keeps servers within milliseconds; a minute means a broken clock
    catchUpPageChangesMax: 200,
    catchUpMostReadMax: 200,
    wantKeysMax: 200,
    readReportMax: 500,
    limits: DEFAULT_CONTENT_LIMITS,
  };
}

/** What a write becomes: changes to stamp and commit, an idempotent answer, or a refusal. */
type Prepared = { build: Array<(hlc: Hlc) => Change> } | { existing: Change[] } | { error: ErrorInfo };

function err(code: ErrorInfo['code'], message: string): { error: ErrorInfo } {
  return { error: { code, message } };
}

interface InFlightBatch {
  readonly batchId: number;
  readonly after: Hlc;
  readonly changes: readonly Change[];
  attempts: number;
}

interface Outbox {
  /** Changes not yet sent, with the local time each entered the outbox (its deadline's start). */
  pending: Array<{ readonly change: Change; readonly atMs: number }>;
  readonly inflight: Map<number, InFlightBatch>;
  /**
   * The HLC of the last change that left `pending` (batched or dropped), or at start the store's
   * highest HLC: every change of ours stamped after it is still in `pending`, so the next batch
   * can say "everything of mine after `after` up to my last change is here".
   */
  lastOutHlc: Hlc;
}

/**
 * What this L1 knows it holds from one origin (SyncKnown), and the batch ranges that arrived
 * ahead of a gap (a reordered or lost batch), kept until the gap is filled or the bound is hit.
 */
interface Coverage {
  known: Hlc;
  ranges: Array<{ readonly after: Hlc; readonly last: Hlc }>;
}

interface SyncPull {
  readonly round: number;
  afterSeq: number;
  attempts: number;
}

export class L1Core {
  private readonly clock: HlcClock;
  private readonly outboxes = new Map<ServerId, Outbox>();
  private readonly pulls = new Map<ServerId, SyncPull>();
  /** Per origin L1. In memory only: after a restart the first pull resends what batches delivered. */
  private readonly coverage = new Map<ServerId, Coverage>();
  private readonly l2Set: ReadonlySet<ServerId>;
  private readonly peerSet: ReadonlySet<ServerId>;
  private nextBatchId = 1;
  private round = 0;
  private out: Action[] = [];

  constructor(
    readonly config: L1Config,
    private readonly store: BlogStore,
  ) {
    assert.ok(config.batchChangesMax > 0 && config.syncPageChangesMax > 0, 'batch and page sizes must be positive');
    assert.ok(!config.peers.includes(config.id), 'an L1 is not its own peer');
    const restored = store.maxHlc();
    this.clock = new HlcClock(config.id, config.skewMaxMs, restored);
    this.l2Set = new Set(config.l2s);
    this.peerSet = new Set(config.peers);
    // Every change a previous process of ours stamped was stored, so its HLC is <= the highest HLC the
    // store ever held (maxHlc); this process's stamps all come after it. So our first batch to each
    // peer can say "everything of mine in (restored, its last change] is here".
    for (const p of config.peers) this.outboxes.set(p, { pending: [], inflight: new Map(), lastOutHlc: restored ?? HLC_ZERO });
  }

  handle(event: L1Event, nowMs: number): Action[] {
    this.out = [];
    switch (event.type) {
      case 'start':
        // Batch ids must not repeat across restarts: a late ack for a batch sent before a crash
        // would otherwise acknowledge a new batch with the same id that the peer never got.
        this.nextBatchId = Math.max(this.nextBatchId, idBase(nowMs));
        // A (re)started L1 pulls from every peer at once instead of waiting a whole sync interval:
        // that is how an L1 that was down catches up (design gap: "L1 down").
        this.startSyncRound(nowMs);
        break;
      case 'message':
        this.onMessage(event.from, event.msg, nowMs);
        break;
      case 'timer':
        this.onTimer(event.timer, nowMs);
        break;
      default:
        assertNever(event);
    }
    return this.out;
  }

  /** For tests and metrics: changes waiting (pending + in flight) for one peer. */
  outboxSize(peer: ServerId): number {
    const box = this.outboxes.get(peer);
    if (!box) return 0;
    let n = box.pending.length;
    for (const b of box.inflight.values()) n += b.changes.length;
    return n;
  }

  private emit(a: Action): void {
    this.out.push(a);
  }

  private send(to: ServerId, msg: L1ToL1 | L1ToL2): void {
    this.emit({ type: 'send', to, msg });
  }

  private onMessage(from: ServerId, msg: L2ToL1 | L1ToL1, nowMs: number): void {
    const fromL2 = this.l2Set.has(from);
    const fromPeer = this.peerSet.has(from);
    switch (msg.type) {
      case 'write':
      case 'fetch':
      case 'heartbeat':
      case 'catchup-request':
        if (!fromL2) return this.notPermitted(from, msg.type);
        return this.onL2Message(from, msg, nowMs);
      case 'batch':
      case 'batch-ack':
      case 'batch-refuse':
      case 'sync-request':
      case 'sync-page':
        if (!fromPeer) return this.notPermitted(from, msg.type);
        return this.onPeerMessage(from, msg, nowMs);
      default:
        assertNever(msg);
    }
  }

  private notPermitted(from: ServerId, type: string): void {
    this.emit({ type: 'metric', metric: { name: 'refused', code: 'NOT_PERMITTED' } });
    this.emit({ type: 'log', level: 'warn', code: 'NOT_PERMITTED', message: `${from} may not send ${type} to ${this.config.id}; ignored` });
  }

  private onL2Message(from: ServerId, msg: L2ToL1, nowMs: number): void {
    switch (msg.type) {
      case 'write': {
        const result = this.commitWrite(msg.request, nowMs);
        if ('error' in result) {
          this.emit({ type: 'metric', metric: { name: 'refused', code: result.error.code } });
          this.send(from, { type: 'write-refuse', corrId: msg.corrId, error: result.error });
        } else {
          this.send(from, { type: 'write-ack', corrId: msg.corrId, changes: result.changes });
        }
        return;
      }
      case 'fetch': {
        const entry = this.store.get(msg.key);
        if (entry?.change.kind === 'blog') this.store.addReads(entry.change.blog.id, 1);
        this.send(from, { type: 'fetch-reply', corrId: msg.corrId, key: msg.key, change: entry?.change ?? null });
        return;
      }
      case 'heartbeat': {
        this.store.atomically(() => {
          for (const r of msg.reads.slice(0, this.config.readReportMax)) {
            if (Number.isInteger(r.count) && r.count > 0) this.store.addReads(r.blogId, r.count);
          }
        });
        this.send(from, { type: 'heartbeat-ack', headSeq: this.store.headSeq() });
        return;
      }
      case 'catchup-request':
        return this.serveCatchUp(from, msg);
      default:
        assertNever(msg);
    }
  }

  // ---- writes ---------------------------------------------------------------------------------

  private commitWrite(req: WriteRequest, nowMs: number): { changes: Change[] } | { error: ErrorInfo } {
    const invalid = validateWrite(req, this.config.limits);
    if (invalid) return { error: invalid };
    const prepared = this.prepare(req, nowMs);
    if ('error' in prepared || 'existing' in prepared) return 'error' in prepared ? prepared : { changes: prepared.existing };
    const logged = this.store.atomically(() =>
      prepared.build.map((make) => {
        const change = make(this.clock.now(nowMs));
        const r = this.store.apply(change);
        // The clock has seen every stored HLC, so a fresh stamp always wins; tombstones were checked.
        assert.ok(r.won && r.seq !== null, `a freshly stamped change lost LWW at ${this.config.id}`);
        return { seq: r.seq, change };
      }),
    );
    this.emit({ type: 'metric', metric: { name: 'changes_committed', count: logged.length } });
    this.pushToL2s(logged);
    for (const { change } of logged) this.enqueueForPeers(change, nowMs);
    return { changes: logged.map((l) => l.change) };
  }

  /** Checks a write against the store; returns change builders (each gets its own HLC), or an idempotent answer. */
  private prepare(req: WriteRequest, nowMs: number): Prepared {
    const w = req.write;
    if (w.op === 'register') return this.prepareRegister(req.requestId, w, nowMs);
    const userId = req.userId!;
    const user = this.store.getUser(userId);
    if (!user) return err('UNKNOWN_USER', `user ${userId} is not known to ${this.config.id}`);
    const blogId = w.op === 'create-blog' ? `b.${req.requestId}` : w.blogId;
    const held = this.store.get(`blog:${blogId}`)?.change;
    switch (w.op) {
      case 'create-blog': {
        if (held?.kind === 'tombstone') return err('DELETED', `blog ${blogId} was created and deleted already`);
        if (held?.kind === 'blog') {
          if (held.blog.authorId !== userId) return err('REQUEST_ID_CONFLICT', `requestId ${req.requestId} names another author's blog`);
          return { existing: [held] }; // a retried create: acknowledge once more, commit nothing new
        }
        const blog = (hlc: Hlc): Change => ({
          kind: 'blog',
          hlc,
          blog: {
            id: blogId,
            authorId: userId,
            authorCountry: user.country,
            publicationId: user.publicationId,
            title: w.title,
            body: w.body,
            imageRefs: [...w.imageRefs],
            createdMs: nowMs,
            updatedMs: nowMs,
          },
        });
        return { build: [blog] };
      }
      case 'update-blog': {
        if (held === undefined) return err('NOT_FOUND', `no blog ${blogId} at ${this.config.id}`);
        if (held.kind === 'tombstone') return err('DELETED', `blog ${blogId} has been deleted`);
        assert.ok(held.kind === 'blog');
        if (held.blog.authorId !== userId) return err('NOT_AUTHOR', `only the author may update blog ${blogId}`);
        const prev: Blog = held.blog;
        return { build: [(hlc) => ({ kind: 'blog', hlc, blog: { ...prev, title: w.title, body: w.body, imageRefs: [...w.imageRefs], updatedMs: nowMs } })] };
      }
      case 'delete-blog': {
        if (held === undefined) return err('NOT_FOUND', `no blog ${blogId} at ${this.config.id}`);
        const authorId = held.kind === 'blog' ? held.blog.authorId : held.kind === 'tombstone' ? held.tombstone.authorId : '';
        if (authorId !== userId) return err('NOT_AUTHOR', `only the author may delete blog ${blogId}`);
        if (held.kind === 'tombstone') return { existing: [held] }; // already deleted: idempotent
        assert.ok(held.kind === 'blog');
        const b = held.blog;
        return {
          build: [
            (hlc) => ({
              kind: 'tombstone',
              hlc,
              tombstone: { blogId, authorId: b.authorId, authorCountry: b.authorCountry, publicationId: b.publicationId, deletedMs: nowMs },
            }),
          ],
        };
      }
      default:
        return assertNever(w);
    }
  }

  /** A user and their personal publication, committed together; the slug is claimed here. */
  private prepareRegister(requestId: string, w: Extract<WriteOp, { op: 'register' }>, nowMs: number): Prepared {
    const userId = `u.${requestId}`;
    const pubId = `p.${requestId}`;
    const user = this.store.get(`user:${userId}`);
    const pub = this.store.get(`pub:${pubId}`);
    if (user && pub) return { existing: [user.change, pub.change] }; // a retried registration
    if (this.store.slugClaimed(w.slug)) return err('SLUG_TAKEN', `the publication name "${w.slug}" is already taken`);
    return {
      build: [
        (hlc) => ({ kind: 'user', hlc, user: { id: userId, name: w.name, country: w.country, publicationId: pubId, createdMs: nowMs } }),
        (hlc) => ({
          kind: 'publication',
          hlc,
          publication: { id: pubId, ownerId: userId, ownerCountry: w.country, slug: w.slug, title: w.publicationTitle, claimHlc: hlc },
        }),
      ],
    };
  }

  /** Pushes freshly applied changes to this continent's L2s, as contiguous log ranges. */
  private pushToL2s(logged: readonly LoggedChange[]): void {
    if (logged.length === 0) return;
    let start = 0;
    for (let i = 1; i <= logged.length; i++) {
      if (i === logged.length || logged[i]!.seq !== logged[i - 1]!.seq + 1) {
        const run = logged.slice(start, i);
        const msg = { type: 'push', afterSeq: run[0]!.seq - 1, toSeq: run[run.length - 1]!.seq, changes: run.map((l) => l.change) } as const;
        for (const l2 of this.config.l2s) this.send(l2, msg);
        start = i;
      }
    }
  }

  // ---- cross-continent batches ----------------------------------------------------------------

  private enqueueForPeers(change: Change, nowMs: number): void {
    for (const [peer, box] of this.outboxes) {
      box.pending.push({ change, atMs: nowMs });
      if (box.pending.length > this.config.outboxChangesMax) {
        // The next batch's `after` moves past the dropped change, so the peer sees the gap.
        box.lastOutHlc = box.pending.shift()!.change.hlc;
        this.emit({ type: 'metric', metric: { name: 'batch_dropped', peer, changes: 1 } });
        this.emit({ type: 'log', level: 'warn', code: 'OUTBOX_FULL', message: `outbox to ${peer} full; oldest change dropped, the next sync repairs it` });
      }
      this.maybeSendBatch(peer, box, nowMs);
    }
  }

  private maybeSendBatch(peer: ServerId, box: Outbox, nowMs: number): void {
    while (box.pending.length > 0 && box.inflight.size < this.config.batchesInFlightMax) {
      const full = box.pending.length >= this.config.batchChangesMax;
      const due = nowMs - box.pending[0]!.atMs >= this.config.propagationTimeoutMs;
      if (!full && !due) break;
      const changes = box.pending.splice(0, this.config.batchChangesMax).map((p) => p.change);
      const batch: InFlightBatch = { batchId: this.nextBatchId++, after: box.lastOutHlc, changes, attempts: 1 };
      box.lastOutHlc = changes[changes.length - 1]!.hlc;
      box.inflight.set(batch.batchId, batch);
      this.send(peer, { type: 'batch', batchId: batch.batchId, after: batch.after, changes });
      this.emit({ type: 'metric', metric: { name: 'batch_sent', peer, changes: changes.length } });
      this.emit({ type: 'set-timer', timer: { kind: 'batch-retry', peer, batchId: batch.batchId }, atMs: nowMs + this.config.batchRetryMs });
    }
    // What is left keeps its own deadline: the oldest remaining change's. With the window full,
    // no timer: the next ack (or a dropped batch) calls this again; a timer would fire in a loop.
    const next = box.pending[0];
    if (next && box.inflight.size < this.config.batchesInFlightMax) {
      this.emit({ type: 'set-timer', timer: { kind: 'batch-flush', peer }, atMs: next.atMs + this.config.propagationTimeoutMs });
    } else this.emit({ type: 'cancel-timer', timer: { kind: 'batch-flush', peer } });
  }

  private onBatchRetry(peer: ServerId, batchId: number, nowMs: number): void {
    const box = this.outboxes.get(peer);
    const batch = box?.inflight.get(batchId);
    if (!box || !batch) return;
    if (batch.attempts >= this.config.batchRetriesMax) {
      box.inflight.delete(batchId);
      this.emit({ type: 'metric', metric: { name: 'batch_dropped', peer, changes: batch.changes.length } });
      this.emit({
        type: 'log',
        level: 'warn',
        code: 'BATCH_DROPPED',
        message: `batch ${batchId} to ${peer} unacknowledged after ${batch.attempts} attempts; the next sync round repairs it`,
      });
      this.maybeSendBatch(peer, box, nowMs);
      return;
    }
    batch.attempts++;
    this.send(peer, { type: 'batch', batchId, after: batch.after, changes: batch.changes });
    this.emit({ type: 'set-timer', timer: { kind: 'batch-retry', peer, batchId }, atMs: nowMs + this.config.batchRetryMs });
  }

  private onPeerMessage(from: ServerId, msg: L1ToL1, nowMs: number): void {
    switch (msg.type) {
      case 'batch': {
        const refused = this.applyRemote(from, msg.changes, nowMs);
        if (refused) this.send(from, { type: 'batch-refuse', batchId: msg.batchId, error: refused });
        else {
          this.send(from, { type: 'batch-ack', batchId: msg.batchId });
          this.noteBatch(from, msg);
        }
        return;
      }
      case 'batch-ack':
      case 'batch-refuse': {
        const box = this.outboxes.get(from);
        const batch = box?.inflight.get(msg.batchId);
        if (!box || !batch) return; // a duplicate or stale answer
        if (msg.type === 'batch-refuse') {
          // Refused (a clock ahead of theirs): keep it in flight; the retry timer sends it again.
          this.emit({ type: 'log', level: 'warn', code: msg.error.code, message: `${from} refused batch ${msg.batchId}: ${msg.error.message}` });
          return;
        }
        this.emit({ type: 'metric', metric: { name: 'changes_propagated', peer: from, count: batch.changes.length } });
        box.inflight.delete(msg.batchId);
        this.emit({ type: 'cancel-timer', timer: { kind: 'batch-retry', peer: from, batchId: msg.batchId } });
        this.maybeSendBatch(from, box, nowMs);
        return;
      }
      case 'sync-request':
        return this.serveSync(from, msg, nowMs);
      case 'sync-page':
        return this.onSyncPage(from, msg, nowMs);
      default:
        assertNever(msg);
    }
  }

  /**
   * Applies changes from another L1 (batch or sync page) in one transaction. All-or-nothing on
   * clock skew: one timestamp too far ahead refuses the whole message, nothing is adopted, and the
   * sender retries later (when our clock has caught up, or theirs is fixed).
   */
  private applyRemote(from: ServerId, changes: readonly Change[], nowMs: number): ErrorInfo | null {
    try {
      for (const c of changes) this.clock.check(c.hlc, nowMs);
    } catch (e) {
      if (!(e instanceof BlogError)) throw e;
      this.emit({ type: 'metric', metric: { name: 'refused', code: e.code } });
      this.emit({ type: 'log', level: 'warn', code: e.code, message: e.message });
      return { code: e.code, message: e.message };
    }
    const won = this.store.atomically(() => {
      const logged: LoggedChange[] = [];
      for (const c of changes) {
        this.clock.receive(c.hlc, nowMs);
        const r = this.store.apply(c);
        if (r.won && r.seq !== null) logged.push({ seq: r.seq, change: c });
      }
      return logged;
    });
    if (changes.length > 0) {
      // Lag = how long the oldest change in the message travelled since its origin stamped it.
      const oldestMs = Math.min(...changes.map((c) => c.hlc.wallMs));
      this.emit({ type: 'metric', metric: { name: 'replication_lag_ms', peer: from, lagMs: Math.max(0, nowMs - oldestMs) } });
    }
    this.pushToL2s(won);
    return null;
  }

  // ---- L1 <-> L1 sync ---------------------------------------------------------------------------

  private startSyncRound(nowMs: number): void {
    this.round++; // 1 for the first round after a start: see serveSync
    this.emit({ type: 'set-timer', timer: { kind: 'sync-round' }, atMs: nowMs + this.config.syncIntervalMs });
    for (const peer of this.config.peers) {
      if (this.pulls.has(peer)) continue; // the previous round with this peer is still streaming
      const pull: SyncPull = { round: this.round, afterSeq: this.store.getCheckpoint(peer), attempts: 0 };
      this.pulls.set(peer, pull);
      this.requestPage(peer, pull, nowMs);
    }
  }

  private requestPage(peer: ServerId, pull: SyncPull, nowMs: number): void {
    pull.attempts++;
    const known: SyncKnown[] = [];
    for (const [origin, c] of this.coverage) if (compareHlc(c.known, HLC_ZERO) > 0) known.push({ origin, hlc: c.known });
    this.send(peer, { type: 'sync-request', round: pull.round, afterSeq: pull.afterSeq, pageChangesMax: this.config.syncPageChangesMax, known });
    this.emit({ type: 'set-timer', timer: { kind: 'sync-page-timeout', peer }, atMs: nowMs + this.config.syncPageTimeoutMs });
  }

  private serveSync(from: ServerId, msg: Extract<L1ToL1, { type: 'sync-request' }>, nowMs: number): void {
    const limit = Math.max(1, Math.min(msg.pageChangesMax, this.config.syncPageChangesMax));
    // Skip what the requester holds: its own changes (its store keeps each, or a winner, for good)
    // and, per origin, everything up to what it says it knows. Only the rest travels, so a sync
    // after healthy batches sends (nearly) nothing, while a lost batch, a dropped outbox change or
    // a change that only a third L1 still holds (its origin down) is sent as before.
    const known = new Map<ServerId, Hlc>();
    for (const k of (msg.known ?? []).slice(0, this.config.peers.length + 1)) known.set(k.origin, k.hlc);
    const entries = this.store.changesSince(msg.afterSeq, Math.max(limit, this.config.syncPageScanMax));
    const changes: Change[] = [];
    let examined = 0;
    for (const { change } of entries) {
      if (changes.length >= limit) break;
      examined++;
      const origin = change.hlc.origin;
      if (origin === from) continue;
      const k = known.get(origin);
      if (k !== undefined && compareHlc(change.hlc, k) <= 0) continue;
      changes.push(change);
    }
    const head = this.store.headSeq();
    const toSeq = examined > 0 ? entries[examined - 1]!.seq : Math.max(head, msg.afterSeq);
    const done = examined === 0 || toSeq >= head;
    // Our clock is past every stamp we ever issued: with this last page the requester holds them all.
    const covered = done ? this.clock.current() : undefined;
    this.send(from, { type: 'sync-page', round: msg.round, afterSeq: msg.afterSeq, toSeq, changes, done, ...(covered ? { covered } : {}) });
    // Round 1 is a freshly started L1's first round: it may hold commits it had not batched yet when
    // it went down, and waiting for our next round could take a day. Pull from it now. Such pulls
    // use round 0, which triggers nothing in return (no ping-pong).
    if (msg.round === 1 && !this.pulls.has(from)) {
      const pull: SyncPull = { round: 0, afterSeq: this.store.getCheckpoint(from), attempts: 0 };
      this.pulls.set(from, pull);
      this.requestPage(from, pull, nowMs);
    }
  }

  private onSyncPage(from: ServerId, msg: Extract<L1ToL1, { type: 'sync-page' }>, nowMs: number): void {
    const pull = this.pulls.get(from);
    if (!pull || pull.round !== msg.round || pull.afterSeq !== msg.afterSeq) return; // duplicate or stale page
    // The page and the checkpoint move together: a crash between them would only re-apply the page.
    const refused = this.store.atomically(() => {
      const r = this.applyRemote(from, msg.changes, nowMs);
      if (r === null) this.store.setCheckpoint(from, msg.toSeq);
      return r;
    });
    if (refused) {
      // Give up this round with this peer without moving the checkpoint; the next round retries.
      this.pulls.delete(from);
      this.emit({ type: 'cancel-timer', timer: { kind: 'sync-page-timeout', peer: from } });
      return;
    }
    this.emit({ type: 'metric', metric: { name: 'sync_page', peer: from, changes: msg.changes.length } });
    if (msg.done) {
      if (msg.covered) this.noteKnown(from, HLC_ZERO, msg.covered);
      this.pulls.delete(from);
      this.emit({ type: 'cancel-timer', timer: { kind: 'sync-page-timeout', peer: from } });
      this.emit({ type: 'metric', metric: { name: 'sync_round_done', peer: from } });
      return;
    }
    pull.afterSeq = msg.toSeq;
    pull.attempts = 0;
    this.requestPage(from, pull, nowMs);
  }

  /**
   * A batch applied and acknowledged: if it continues what we know we hold from its sender (its
   * `after` is at or below our mark), the mark moves to its last change; a batch that arrived
   * ahead of a gap waits in `ranges` for the gap to fill.
   */
  private noteBatch(from: ServerId, msg: Extract<L1ToL1, { type: 'batch' }>): void {
    if (msg.after === undefined || msg.changes.length === 0) return;
    // Batches carry only the sender's own changes, in stamping order; anything else claims nothing.
    let prev = msg.after;
    for (const c of msg.changes) {
      if (c.hlc.origin !== from || compareHlc(c.hlc, prev) <= 0) return;
      prev = c.hlc;
    }
    this.noteKnown(from, msg.after, prev);
  }

  /** We hold everything `origin` stamped in (after, last]: extend the known mark if it connects. */
  private noteKnown(origin: ServerId, after: Hlc, last: Hlc): void {
    let c = this.coverage.get(origin);
    if (!c) {
      if (!this.peerSet.has(origin)) return;
      c = { known: HLC_ZERO, ranges: [] };
      this.coverage.set(origin, c);
    }
    if (compareHlc(last, c.known) <= 0) return;
    c.ranges.push({ after, last });
    if (c.ranges.length > this.config.knownRangesMax) c.ranges.shift(); // forgetting only costs a resend
    for (let moved = true; moved; ) {
      moved = false;
      for (let i = c.ranges.length - 1; i >= 0; i--) {
        const r = c.ranges[i]!;
        if (compareHlc(r.after, c.known) <= 0) {
          c.known = maxHlc(c.known, r.last);
          c.ranges.splice(i, 1);
          moved = true;
        }
      }
    }
  }

  /** For tests: what this L1 knows it holds from `origin` (HLC_ZERO: nothing yet). */
  knownFrom(origin: ServerId): Hlc {
    return this.coverage.get(origin)?.known ?? HLC_ZERO;
  }

  private onSyncPageTimeout(peer: ServerId, nowMs: number): void {
    const pull = this.pulls.get(peer);
    if (!pull) return;
    if (pull.attempts >= this.config.syncPageRetriesMax) {
      this.pulls.delete(peer);
      this.emit({ type: 'log', level: 'warn', code: 'SYNC_ABANDONED', message: `sync with ${peer} got no page after ${pull.attempts} tries; next round retries` });
      return;
    }
    this.requestPage(peer, pull, nowMs);
  }

  // ---- L2 catch-up ------------------------------------------------------------------------------

  /**
   * A restarted (or lagging) L2's catch-up, scoped to its region: full changes for its own
   * country's writers (and every tombstone, so nothing deleted survives there), a bare
   * {key, hlc} notice for everything else so the L2 can ask for keys it holds in an older version;
   * then the most-read blogs. The rest comes on demand (read misses).
   */
  private serveCatchUp(from: ServerId, msg: Extract<L2ToL1, { type: 'catchup-request' }>): void {
    const wanted: Change[] = [];
    for (const key of msg.wantKeys.slice(0, this.config.wantKeysMax)) {
      const e = this.store.get(key);
      if (e) wanted.push(e.change);
    }
    if (msg.phase === 'most-read') {
      const n = Math.max(0, Math.min(this.config.catchUpMostReadMax, msg.fullChangesLeft));
      const blogs = this.store.mostRead(n, msg.country);
      const changes = [...wanted, ...blogs.map((b) => this.store.get(`blog:${b.id}`)!.change)];
      this.send(from, { type: 'catchup-page', corrId: msg.corrId, phase: 'most-read', afterSeq: msg.afterSeq, toSeq: msg.afterSeq, changes, notices: [], done: true });
      return;
    }
    const entries = this.store.changesSince(msg.afterSeq, this.config.catchUpPageChangesMax);
    const head = this.store.headSeq();
    let budget = msg.fullChangesLeft;
    const changes: Change[] = wanted;
    const notices: StaleNotice[] = [];
    for (const { change } of entries) {
      if (change.kind === 'tombstone') changes.push(change);
      else if (budget > 0 && changeCountry(change) === msg.country) {
        changes.push(change);
        budget--;
      } else notices.push({ key: entityKey(change), hlc: change.hlc });
    }
    const toSeq = entries.length > 0 ? entries[entries.length - 1]!.seq : Math.max(head, msg.afterSeq);
    const done = entries.length === 0 || toSeq >= head;
    this.send(from, { type: 'catchup-page', corrId: msg.corrId, phase: 'log', afterSeq: msg.afterSeq, toSeq, changes, notices, done });
  }

  // ---- timers -----------------------------------------------------------------------------------

  private onTimer(timer: L1Timer, nowMs: number): void {
    switch (timer.kind) {
      case 'batch-flush': {
        const box = this.outboxes.get(timer.peer);
        if (box) this.maybeSendBatch(timer.peer, box, nowMs);
        return;
      }
      case 'batch-retry':
        return this.onBatchRetry(timer.peer, timer.batchId, nowMs);
      case 'sync-round':
        return this.startSyncRound(nowMs);
      case 'sync-page-timeout':
        return this.onSyncPageTimeout(timer.peer, nowMs);
      default:
        assertNever(timer);
    }
  }
}
