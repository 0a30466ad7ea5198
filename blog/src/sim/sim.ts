// The seeded simulator: the real L1/L2 cores over memory stores, a simulated network (delay, loss,
// duplication, reordering, partitions), crashes and restarts (a crashed server keeps only its
// store), drifting virtual clocks, and clients that register, write, update, delete and read.
// Everything random comes from one seeded Rng, so a failing seed replays exactly.
import { compareHlc, hlcToString } from '../core/hlc.js';
import { defaultL1Config, L1Core, type L1Config } from '../core/l1.js';
import { defaultL2Config, L2Core, type L2Config } from '../core/l2.js';
import { changeWins } from '../core/lww.js';
import { entityKey, timerKey, type Action, type Change, type ClientReply, type Hlc, type ClientRequest, type CoreTimer, type L1ToL2, type L2ToL1, type L1ToL1, type Message, type ServerId, type WriteOp } from '../core/types.js';
import { MemoryStore } from '../store/memory-store.js';
import type { BlogStore } from '../store/store.js';
import { ObservedStore } from './observed-store.js';
import { EventHeap } from './heap.js';
import { Rng } from './rng.js';
import { makeScaleWorld, makeWorld, type SimL2, type SimWorld } from './world.js';

export interface SimOptions {
  readonly seed: number;
  /** The store of each server (default: a MemoryStore); a test runs the SQLite store here. */
  readonly makeStore?: (serverId: ServerId) => BlogStore;
  /** Break every memory store's LWW (checker tests: the checkers must catch it). See MemoryStoreOptions. */
  readonly broken?: 'ignore-lww' | 'oldest-wins';
  /** Send every message through JSON.stringify/parse, as real servers do (slower). */
  readonly wireCopy?: boolean;
  /** No faults at all (loss, partitions, crashes): a control run. */
  readonly calm?: boolean;
  /** Stop after this many events (default 300,000; a normal run takes ~12,000): a runaway is a violation. */
  readonly eventsMax?: number;
  /** Called with one line per notable event (the CLI's --trace). */
  readonly trace?: (line: string) => void;
  /** The scale mode (see ScaleOptions): a calm day of writes over many L2s, with traffic figures. */
  readonly scale?: ScaleOptions;
}

/**
 * The scale mode: `l2s` L2s over the seven continents, `writers` writers who each sign up and then
 * make `writesPerWriter` blog writes spread over one day, compressed `DAY_COMPRESSION` times (every
 * replication interval with it: the 2-hour batch timeout and the 24-hour sync keep their ratio to
 * the day). No faults. The L1s are the real cores; in each continent `sampledL2sPerContinent` L2s
 * are real cores with their stores (the writers' home servers, checked like any run), and the
 * others are counted sinks: every message an L1 sends them is counted with its bytes, then
 * dropped, so memory grows with the data, not with data x L2s.
 */
export interface ScaleOptions {
  readonly l2s: number;
  readonly writers: number;
  readonly writesPerWriter: number;
  /** Bytes of every blog body (a shared string: the bytes count, the memory does not). */
  readonly bodyBytes: number;
  readonly sampledL2sPerContinent?: number;
  /** Called now and then with a progress line. */
  readonly progress?: (line: string) => void;
}

/** Per-L1 traffic in the scale mode: messages and JSON bytes, by direction and kind. */
export interface L1Traffic {
  msgsOut: number;
  bytesOut: number;
  msgsIn: number;
  bytesIn: number;
  /** To its own L2s (pushes, acks, fetch replies, catch-up pages). */
  toL2Msgs: number;
  toL2Bytes: number;
  /** To the other L1s, by kind. */
  batchMsgs: number;
  batchBytes: number;
  syncPageMsgs: number;
  syncPageBytes: number;
  syncPageChanges: number;
}

export interface ScaleReport {
  readonly l2s: number;
  readonly sampledL2s: number;
  readonly virtualDayMs: number;
  readonly perL1: Readonly<Record<ServerId, L1Traffic>>;
  /** Largest delay, in virtual ms, from a commit to its arrival at another continent's L1. */
  readonly worstLagMs: number;
  /** The same, in real-time hours of the uncompressed day. */
  readonly worstLagRealHours: number;
  readonly lagBoundMs: number;
  readonly committed: number;
  readonly acked: number;
  readonly syncRounds: number;
  readonly events: number;
}

/** One real day of writes runs in 1/DAY_COMPRESSION of a day of virtual time (24 virtual minutes). */
export const DAY_COMPRESSION = 60;
const REAL_DAY_MS = 86_400_000;

export interface SimResult {
  readonly seed: number;
  readonly violations: readonly string[];
  readonly stats: Readonly<Record<string, number>>;
  /** Only in the scale mode. */
  readonly scale?: ScaleReport;
}

interface Timings {
  readonly chaosMs: number;
  readonly calmMs: number;
  readonly settleMs: number;
  readonly propagationTimeoutMs: number;
  readonly syncIntervalMs: number;
  readonly driftStepMs: number;
  readonly driftMaxMs: number;
  readonly skewMaxMs: number;
  readonly clientTimeoutMs: number;
}

/** Timings in virtual ms, chosen so that a run covers every mechanism in well under a second of CPU. */
const FAULT_TIMINGS: Timings = {
  chaosMs: 14_000,
  calmMs: 7_000,
  settleMs: 5_000,
  propagationTimeoutMs: 2_000,
  syncIntervalMs: 7_000,
  driftStepMs: 1_000,
  driftMaxMs: 800, // bounded drift, well under skewMaxMs: correct clocks are never refused
  skewMaxMs: 5_000,
  clientTimeoutMs: 3_000,
};

/** The scale mode's: one compressed day of writes (no chaos), then one sync interval and a settle. */
function scaleTimings(): Timings {
  const dayMs = REAL_DAY_MS / DAY_COMPRESSION;
  return {
    chaosMs: 0,
    calmMs: dayMs,
    settleMs: 60_000,
    propagationTimeoutMs: 7_200_000 / DAY_COMPRESSION,
    syncIntervalMs: dayMs,
    driftStepMs: 1_000,
    driftMaxMs: 50,
    skewMaxMs: 60_000,
    clientTimeoutMs: 10_000,
  };
}

interface Node {
  readonly id: ServerId;
  readonly kind: 'l1' | 'l2';
  readonly store: ObservedStore;
  core: L1Core | L2Core | null;
  /** Bounded drift of this server's clock from true time. */
  offsetMs: number;
  /** A clock jump fault on top of the drift (far ahead: beyond the skew bound). */
  jumpMs: number;
  readonly timers: Map<string, number>;
  readonly l2?: SimL2;
}

type SimEvent =
  | { readonly type: 'deliver'; readonly from: ServerId; readonly to: ServerId; readonly msg: Message }
  | { readonly type: 'timer'; readonly node: ServerId; readonly key: string; readonly token: number; readonly timer: CoreTimer }
  | { readonly type: 'client-wake'; readonly client: number }
  | { readonly type: 'client-timeout'; readonly clientReqId: number }
  | { readonly type: 'fault-start'; readonly fault: Fault }
  | { readonly type: 'fault-end'; readonly fault: Fault }
  | { readonly type: 'drift' }
  | { readonly type: 'heal' };

type Fault =
  | { readonly kind: 'crash'; readonly node: ServerId }
  | { readonly kind: 'partition'; readonly a: ServerId; readonly b: ServerId }
  | { readonly kind: 'isolate'; readonly node: ServerId }
  | { readonly kind: 'clock-jump'; readonly node: ServerId; readonly aheadMs: number };

interface OwnBlog {
  readonly id: string;
  readonly createRequestId: string;
  state: 'creating' | 'live' | 'deleting' | 'deleted';
  /**
   * The HLC of the newest version the L1 acknowledged. Read-your-writes compares HLCs, not version
   * numbers: an update answered L1_TIMEOUT may still commit after a later acknowledged one, and then
   * it IS the newer write (the writer was told its outcome was unknown).
   */
  ackedHlc: Hlc | null;
  nextVersion: number;
}

interface Client {
  readonly idx: number;
  /** Scale mode: blog writes still to start (each scheduled wake-up starts one). */
  writesLeft: number;
  readonly home: SimL2;
  readonly writer: boolean;
  userId: string | null;
  registerRequestId: string | null;
  slug: string;
  readonly blogs: OwnBlog[];
  busy: number | null; // the clientReqId in flight
  requestSeq: number;
}

interface InFlightClientRequest {
  readonly client: number;
  readonly l2: ServerId;
  readonly request: ClientRequest;
  readonly blog?: OwnBlog;
  readonly version?: number;
  readonly ackedHlc?: Hlc | null;
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation {
  private readonly rng: Rng;
  private readonly world: SimWorld;
  private readonly nodes = new Map<ServerId, Node>();
  private readonly heap = new EventHeap<SimEvent>();
  private now = 0;
  private tokens = 0;
  private readonly cuts = new Map<string, number>();
  private lossRate = 0;
  private dupRate = 0;
  private readonly delayMaxMs: number;
  private readonly clients: Client[] = [];
  private readonly inflight = new Map<number, InFlightClientRequest>();
  private nextClientReqId = 1;
  private writesOpen = true;
  private healed = false;
  private readonly violations: string[] = [];
  private readonly violationKinds = new Map<string, number>();
  private readonly stats: Record<string, number> = {};
  // Observations for the checkers.
  private readonly acked: Change[] = [];
  private readonly committed = new Map<string, Change>(); // key -> LWW winner of everything committed
  private readonly commitTimes: Array<{ key: string; change: Change; origin: ServerId; atMs: number }> = [];
  /** node -> key -> [(trueMs, hlc)] of every win, for the lag check. */
  private readonly wins = new Map<ServerId, Map<string, Array<{ atMs: number; change: Change }>>>();
  private readonly sentTitles = new Set<string>();
  private readonly seenDeleted = new Set<string>(); // "l2|blogId" once a reader there saw DELETED
  private readonly knownBlogs: string[] = [];
  private healAtMs = 0;
  private readonly commitSeen = new Set<string>();
  /** Blog title -> HLC of the commit that wrote it (titles are unique per version). */
  private readonly titleHlc = new Map<string, Hlc>();
  private readonly T: Timings;
  // Scale mode only.
  private readonly scale: ScaleOptions | undefined;
  /** L2s that are not simulated: what is sent to them is counted and dropped. */
  private readonly sinks = new Set<ServerId>();
  private readonly traffic = new Map<ServerId, L1Traffic>();
  /** JSON bytes of each change, computed once (a change object is shared by every message carrying it). */
  private readonly changeBytes = new WeakMap<Change, number>();
  private readonly msgBytes = new WeakMap<Message, number>();
  private readonly scaleBody: string;

  constructor(private readonly options: SimOptions) {
    this.rng = new Rng(options.seed);
    this.scale = options.scale;
    this.T = this.scale ? scaleTimings() : FAULT_TIMINGS;
    this.world = this.scale ? makeScaleWorld(this.scale.l2s) : makeWorld(this.rng.int(3, 9));
    // Scale mode: 20..150 ms, one way between any two servers (a continent apart at worst).
    this.delayMaxMs = this.scale ? 150 : this.rng.pick([20, 100, 300]);
    this.scaleBody = this.scale ? 'x'.repeat(this.scale.bodyBytes) : '';
    if (this.scale) {
      const perContinent = this.scale.sampledL2sPerContinent ?? 3;
      const taken = new Map<string, number>();
      for (const l2 of this.world.l2s) {
        const n = taken.get(l2.continent) ?? 0;
        if (n >= perContinent) this.sinks.add(l2.id);
        else taken.set(l2.continent, n + 1);
      }
      for (const l1 of this.world.l1s) {
        this.traffic.set(l1.id, { msgsOut: 0, bytesOut: 0, msgsIn: 0, bytesIn: 0, toL2Msgs: 0, toL2Bytes: 0, batchMsgs: 0, batchBytes: 0, syncPageMsgs: 0, syncPageBytes: 0, syncPageChanges: 0 });
      }
    }
  }

  run(): SimResult {
    this.build();
    for (const n of this.nodes.values()) this.start(n);
    this.scheduleFaults();
    if (this.scale) this.scaleClients(this.scale);
    else {
      const writers = this.rng.int(3, 8);
      const readers = this.rng.int(1, 3);
      for (let i = 0; i < writers + readers; i++) {
        const home = this.rng.pick(this.world.l2s);
        this.clients.push({ idx: i, home, writer: i < writers, writesLeft: 0, userId: null, registerRequestId: null, slug: this.slugFor(i), blogs: [], busy: null, requestSeq: 0 });
        this.heap.push(this.rng.int(0, 500), { type: 'client-wake', client: i });
      }
    }
    this.heap.push(this.T.driftStepMs, { type: 'drift' });
    this.heap.push(this.T.chaosMs, { type: 'heal' });
    const stopAt = this.T.chaosMs + this.T.calmMs;
    const endAt = stopAt + this.T.syncIntervalMs + this.T.settleMs;
    let steps = 0;
    const stepsMax = this.options.eventsMax ?? 300_000; // a runaway (e.g. a message storm) is a failure, not a hang
    const progressEvery = 250_000;
    while (this.heap.size > 0 && (this.heap.peekTime() ?? Infinity) <= endAt) {
      if (this.scale?.progress && steps % progressEvery === 0 && steps > 0) {
        this.scale.progress(`${(steps / 1e6).toFixed(2)}M events, virtual ${(this.now / 60_000).toFixed(1)} of ${(endAt / 60_000).toFixed(1)} min`);
      }
      if (++steps > stepsMax) {
        const last = this.heap.pop()!.item;
        this.violation(`more than ${stepsMax} events: runaway message or timer loop; next event: ${JSON.stringify(last).slice(0, 300)}`);
        break;
      }
      const ev = this.heap.pop()!;
      this.now = ev.atMs;
      if (this.writesOpen && this.now >= stopAt) this.writesOpen = false;
      this.dispatch(ev.item);
    }
    this.stats.events = steps;
    this.finalChecks();
    const result = { seed: this.options.seed, violations: this.violations, stats: this.stats };
    return this.scale ? { ...result, scale: this.scaleReport(this.scale, steps) } : result;
  }

  // ---- the scale mode ----------------------------------------------------------------------------

  /**
   * Writers spread over the continents like the L2s, each homed at one of its continent's simulated
   * L2s; each signs up at a random moment of the day's first tenth, then starts one blog write at
   * each of `writesPerWriter` random moments of the day.
   */
  private scaleClients(scale: ScaleOptions): void {
    const simulated = this.world.l2s.filter((l) => !this.sinks.has(l.id));
    const dayMs = this.T.calmMs;
    for (let i = 0; i < scale.writers; i++) {
      // The writer's continent follows the L2 count (itself the reader share); its home, a simulated L2 there.
      const continent = this.rng.pick(this.world.l2s).continent;
      const home = this.rng.pick(simulated.filter((l) => l.continent === continent));
      this.clients.push({ idx: i, home, writer: true, writesLeft: scale.writesPerWriter, userId: null, registerRequestId: null, slug: `writer-${i}`, blogs: [], busy: null, requestSeq: 0 });
      this.heap.push(this.rng.int(0, Math.floor(dayMs / 10)), { type: 'client-wake', client: i });
      for (let w = 0; w < scale.writesPerWriter; w++) this.heap.push(this.rng.int(Math.floor(dayMs / 10), dayMs - 1), { type: 'client-wake', client: i });
    }
  }

  private jsonBytes(c: Change): number {
    let n = this.changeBytes.get(c);
    if (n === undefined) this.changeBytes.set(c, (n = Buffer.byteLength(JSON.stringify(c))));
    return n;
  }

  /** A message's JSON size: its envelope plus its changes (each sized once; a push to every L2 is one object). */
  private messageBytes(msg: Message): number {
    let n = this.msgBytes.get(msg);
    if (n === undefined) this.msgBytes.set(msg, (n = this.measureMessage(msg)));
    return n;
  }

  private measureMessage(msg: Message): number {
    if (!('changes' in msg) && !('change' in msg)) return Buffer.byteLength(JSON.stringify(msg));
    let bytes = 0;
    let envelope: Record<string, unknown> = msg as unknown as Record<string, unknown>;
    if ('changes' in msg) {
      for (const c of msg.changes) bytes += this.jsonBytes(c) + 1;
      envelope = { ...envelope, changes: [] };
    }
    if ('change' in msg && msg.change) {
      bytes += this.jsonBytes(msg.change);
      envelope = { ...envelope, change: null };
    }
    return bytes + Buffer.byteLength(JSON.stringify(envelope));
  }

  private countTraffic(from: ServerId, to: ServerId, msg: Message): void {
    const out = this.traffic.get(from);
    const inn = this.traffic.get(to);
    if (!out && !inn) return;
    const bytes = this.messageBytes(msg);
    if (inn) {
      inn.msgsIn++;
      inn.bytesIn += bytes;
    }
    if (!out) return;
    out.msgsOut++;
    out.bytesOut += bytes;
    if (!inn) {
      out.toL2Msgs++;
      out.toL2Bytes += bytes;
    } else if (msg.type === 'batch') {
      out.batchMsgs++;
      out.batchBytes += bytes;
    } else if (msg.type === 'sync-page') {
      out.syncPageMsgs++;
      out.syncPageBytes += bytes;
      out.syncPageChanges += msg.changes.length;
    }
  }

  private scaleReport(scale: ScaleOptions, events: number): ScaleReport {
    let worstLagMs = 0;
    for (const c of this.commitTimes) {
      for (const l1 of this.world.l1s) {
        if (l1.id === c.origin) continue;
        const seen = (this.wins.get(l1.id)!.get(c.key) ?? []).find((w) => sameChange(c.change, w.change) || changeWins(w.change, c.change));
        if (seen) worstLagMs = Math.max(worstLagMs, seen.atMs - c.atMs);
      }
    }
    return {
      l2s: scale.l2s,
      sampledL2s: this.world.l2s.length - this.sinks.size,
      virtualDayMs: this.T.calmMs,
      perL1: Object.fromEntries(this.traffic),
      worstLagMs,
      worstLagRealHours: (worstLagMs * DAY_COMPRESSION) / 3_600_000,
      lagBoundMs: this.T.propagationTimeoutMs + this.delayMaxMs,
      committed: this.commitTimes.length,
      acked: this.acked.length,
      syncRounds: this.stats['metric_sync_round_done'] ?? 0,
      events,
    };
  }

  // ---- construction ----------------------------------------------------------------------------

  private build(): void {
    for (const l1 of this.world.l1s) {
      this.addNode({ id: l1.id, kind: 'l1', store: this.makeStore(l1.id), core: null, offsetMs: this.rng.int(-this.T.driftMaxMs, this.T.driftMaxMs), jumpMs: 0, timers: new Map() });
    }
    for (const l2 of this.world.l2s) {
      if (this.sinks.has(l2.id)) continue;
      this.addNode({ id: l2.id, kind: 'l2', store: this.makeStore(l2.id), core: null, offsetMs: this.rng.int(-this.T.driftMaxMs, this.T.driftMaxMs), jumpMs: 0, timers: new Map(), l2 });
    }
  }

  private addNode(n: Node): void {
    this.nodes.set(n.id, n);
    this.wins.set(n.id, new Map());
  }

  private makeStore(id: ServerId): ObservedStore {
    const inner = this.options.makeStore?.(id) ?? new MemoryStore(this.options.broken ? { broken: this.options.broken, owner: id } : {});
    return new ObservedStore(inner, (change, previous, won) => {
      if (!won) return;
      const key = entityKey(change);
      if (previous?.kind === 'tombstone' && change.kind === 'blog') this.violation(`${id}: deleted blog ${key} came back (resurrected by ${hlcToString(change.hlc)})`);
      if (id.startsWith('l1-')) {
        // Only L1 histories are needed (the lag check); L2s skip the bookkeeping.
        let list = this.wins.get(id)!.get(key);
        if (!list) this.wins.get(id)!.set(key, (list = []));
        list.push({ atMs: this.now, change });
      }
      if (change.hlc.origin === id && !this.commitSeen.has(`${key}@${hlcToString(change.hlc)}`)) {
        // First application at the L1 that stamped it: a commit.
        this.commitSeen.add(`${key}@${hlcToString(change.hlc)}`);
        this.commitTimes.push({ key, change, origin: id, atMs: this.now });
        if (change.kind === 'blog') this.titleHlc.set(change.blog.title, change.hlc);
        const best = this.committed.get(key);
        if (changeWins(change, best)) this.committed.set(key, change);
      }
    });
  }

  private l1Config(id: ServerId, continent: string): L1Config {
    const base = defaultL1Config({
      id,
      continent,
      peers: this.world.l1s.map((l) => l.id).filter((x) => x !== id),
      l2s: this.world.l2s.filter((l) => l.continent === continent).map((l) => l.id),
    });
    if (this.scale) {
      // The production defaults, with the day's intervals compressed like the day.
      return {
        ...base,
        propagationTimeoutMs: this.T.propagationTimeoutMs,
        syncIntervalMs: this.T.syncIntervalMs,
        batchRetryMs: Math.ceil(base.batchRetryMs / DAY_COMPRESSION),
        skewMaxMs: this.T.skewMaxMs,
      };
    }
    return {
      ...defaultL1Config({
        id,
        continent,
        peers: this.world.l1s.map((l) => l.id).filter((x) => x !== id),
        l2s: this.world.l2s.filter((l) => l.continent === continent).map((l) => l.id),
      }),
      batchChangesMax: 5,
      propagationTimeoutMs: this.T.propagationTimeoutMs,
      batchRetryMs: 500,
      batchRetriesMax: 6,
      syncIntervalMs: this.T.syncIntervalMs,
      syncPageChangesMax: 20, // several pages per round still, without flooding the event queue
      syncPageScanMax: 60, // pages that skip what the requester holds, still several per round
      knownRangesMax: 3, // small, so that forgetting out-of-order batch ranges happens here too
      syncPageTimeoutMs: 800,
      syncPageRetriesMax: 4,
      skewMaxMs: this.T.skewMaxMs,
      catchUpPageChangesMax: 6,
      catchUpMostReadMax: 4,
      wantKeysMax: 5,
    };
  }

  private l2Config(l2: SimL2): L2Config {
    if (this.scale) return defaultL2Config(l2); // heartbeats every 5 s of virtual time: liveness, not data
    return {
      ...defaultL2Config(l2),
      cacheEntriesMax: 8,
      heartbeatIntervalMs: 700,
      l1UnreachableAfterMs: 2_100, // three heartbeats, as in the defaults
      writeTimeoutMs: 1_000,
      fetchTimeoutMs: 1_000,
      catchUpPageTimeoutMs: 800,
      catchUpChangesMax: 15, // small on purpose: the region scope's bound must bite
      wantKeysMax: 5,
    };
  }

  private start(n: Node): void {
    if (n.kind === 'l1') {
      const l1 = this.world.l1s.find((l) => l.id === n.id)!;
      n.core = new L1Core(this.l1Config(n.id, l1.continent), n.store);
    } else {
      n.core = new L2Core(this.l2Config(n.l2!), n.store);
    }
    this.step(n, { type: 'start' });
  }

  private crash(n: Node): void {
    if (!n.core) return;
    n.core = null;
    n.timers.clear();
    this.count(`crash_${n.kind}`);
    this.trace(`${n.id} crashed`);
  }

  // ---- the event loop ------------------------------------------------------------------------------

  private localNow(n: Node): number {
    return Math.floor(this.now + n.offsetMs + n.jumpMs);
  }

  private step(n: Node, event: Parameters<L1Core['handle']>[0] | Parameters<L2Core['handle']>[0]): void {
    if (!n.core) return;
    let actions: Action[];
    try {
      if (n.core instanceof L1Core) actions = n.core.handle(event as Parameters<L1Core['handle']>[0], this.localNow(n));
      else actions = n.core.handle(event as Parameters<L2Core['handle']>[0], this.localNow(n));
    } catch (e) {
      // A broken invariant crashes the server (as in production, where its supervisor restarts
      // it); here it is also a violation, with the seed to replay it.
      this.violation(`${n.id} crashed on a broken invariant: ${e instanceof Error ? e.message : String(e)}`);
      this.crash(n);
      return;
    }
    for (const a of actions) this.execute(n, a);
  }

  private execute(n: Node, a: Action): void {
    switch (a.type) {
      case 'send':
        return this.send(n.id, a.to, a.msg);
      case 'reply':
        return this.onReply(a.clientReqId, a.reply);
      case 'set-timer': {
        const key = timerKey(a.timer);
        const token = ++this.tokens;
        n.timers.set(key, token);
        this.heap.push(Math.max(this.now, a.atMs - n.offsetMs - n.jumpMs), { type: 'timer', node: n.id, key, token, timer: a.timer });
        return;
      }
      case 'cancel-timer':
        n.timers.delete(timerKey(a.timer));
        return;
      case 'metric':
        this.count(`metric_${a.metric.name}${'code' in a.metric ? `_${a.metric.code}` : ''}`);
        return;
      case 'log':
        this.trace(`${n.id} ${a.level} ${a.code}: ${a.message}`);
        return;
      default: {
        const never: never = a;
        throw new Error(`unknown action ${JSON.stringify(never)}`);
      }
    }
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.type) {
      case 'deliver': {
        const n = this.nodes.get(ev.to)!;
        if (!n.core || this.cut(ev.from, ev.to)) return this.count('msg_dropped');
        this.count('msg_delivered');
        if (n.kind === 'l1') this.step(n, { type: 'message', from: ev.from, msg: ev.msg as L2ToL1 | L1ToL1 });
        else this.step(n, { type: 'message', from: ev.from, msg: ev.msg as L1ToL2 });
        return;
      }
      case 'timer': {
        const n = this.nodes.get(ev.node)!;
        if (!n.core || n.timers.get(ev.key) !== ev.token) return;
        n.timers.delete(ev.key);
        this.step(n, { type: 'timer', timer: ev.timer } as never);
        return;
      }
      case 'client-wake':
        return this.clientAct(this.clients[ev.client]!);
      case 'client-timeout': {
        const req = this.inflight.get(ev.clientReqId);
        if (!req) return;
        this.inflight.delete(ev.clientReqId);
        this.count('client_no_answer');
        this.clientDone(this.clients[req.client]!, req, null);
        return;
      }
      case 'fault-start':
        return this.faultStart(ev.fault);
      case 'fault-end':
        return this.faultEnd(ev.fault);
      case 'drift': {
        if (this.healed) return; // clocks stay put in the calm phase, so the lag bound is exact there
        for (const n of this.nodes.values()) {
          n.offsetMs = Math.max(-this.T.driftMaxMs, Math.min(this.T.driftMaxMs, n.offsetMs + this.rng.int(-150, 150)));
        }
        this.heap.push(this.now + this.T.driftStepMs, { type: 'drift' });
        return;
      }
      case 'heal':
        return this.heal();
      default: {
        const never: never = ev;
        throw new Error(`unknown sim event ${JSON.stringify(never)}`);
      }
    }
  }

  // ---- network ---------------------------------------------------------------------------------

  private pairKey(a: ServerId, b: ServerId): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  private cut(a: ServerId, b: ServerId): boolean {
    if (this.cuts.size === 0) return false;
    return (this.cuts.get(this.pairKey(a, b)) ?? 0) > 0 || (this.cuts.get(`*|${a}`) ?? 0) > 0 || (this.cuts.get(`*|${b}`) ?? 0) > 0;
  }

  private send(from: ServerId, to: ServerId, msg: Message): void {
    this.count('msg_sent');
    this.count(`msg_${msg.type}`);
    if (this.scale) {
      this.countTraffic(from, to, msg);
      if (this.sinks.has(to)) return this.count('msg_to_sink');
    }
    if (msg.type === 'catchup-request' && msg.wantKeys.length > 0) this.count('catchup_want_keys');
    if (msg.type === 'sync-page' && msg.changes.length > 0) this.count('sync_page_nonempty');
    if (!this.nodes.has(to)) return this.violation(`${from} sent ${msg.type} to unknown server ${to}`);
    if (this.cut(from, to) || this.rng.chance(this.lossRate)) return this.count('msg_lost');
    const copies = this.rng.chance(this.dupRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      // With wireCopy, each message crosses the "wire" as JSON, like between real servers (proves the
      // messages survive JSON); without it the object is shared, which is safe because every type is
      // readonly and nothing mutates a change, and several times faster.
      const wire = this.options.wireCopy ? (JSON.parse(JSON.stringify(msg)) as Message) : msg;
      this.heap.push(this.now + this.rng.int(1, this.delayMaxMs), { type: 'deliver', from, to, msg: wire });
    }
  }

  // ---- faults ----------------------------------------------------------------------------------

  private scheduleFaults(): void {
    if (this.options.calm) return;
    this.lossRate = this.rng.pick([0, 0.02, 0.1, 0.25]);
    this.dupRate = this.rng.pick([0, 0.05, 0.2]);
    const faults = this.rng.int(1, 8);
    const l1s = this.world.l1s.map((l) => l.id);
    for (let i = 0; i < faults; i++) {
      const startMs = this.rng.int(200, this.T.chaosMs - 1_000);
      const endMs = Math.min(this.T.chaosMs - 1, startMs + this.rng.int(300, 6_000));
      const l2 = this.rng.pick(this.world.l2s);
      let fault: Fault;
      switch (this.rng.int(0, 4)) {
        case 0:
          fault = { kind: 'crash', node: l2.id };
          break;
        case 1:
          fault = { kind: 'crash', node: this.rng.pick(l1s) };
          break;
        case 2:
          fault = { kind: 'partition', a: l2.id, b: l2.l1 };
          break;
        case 3:
          fault = { kind: 'partition', a: this.rng.pick(l1s), b: this.rng.pick(l1s) };
          break;
        default:
          fault = { kind: 'isolate', node: this.rng.pick(l1s) };
      }
      this.heap.push(startMs, { type: 'fault-start', fault });
      this.heap.push(endMs, { type: 'fault-end', fault });
    }
    if (this.rng.chance(0.3)) {
      // An L1's clock jumps beyond the skew bound for a while. Early in the chaos phase and briefly,
      // so the HLCs it stamped meanwhile are no longer "future" by the calm phase (an L1 whose clock
      // ran ahead keeps stamping at its highest HLC until real time catches up: by design).
      const startMs = this.rng.int(200, 4_000);
      // Ahead by more than the skew bound still when its batches arrive (after the propagation timeout).
      const aheadMs = this.T.skewMaxMs + this.T.propagationTimeoutMs + this.rng.int(1_000, 3_000);
      const fault: Fault = { kind: 'clock-jump', node: this.rng.pick(this.world.l2s).l1, aheadMs };
      this.heap.push(startMs, { type: 'fault-start', fault });
      this.heap.push(startMs + this.rng.int(300, 3_000), { type: 'fault-end', fault });
    }
  }

  private faultStart(f: Fault): void {
    if (this.healed) return;
    this.trace(`fault start ${JSON.stringify(f)}`);
    switch (f.kind) {
      case 'crash':
        return this.crash(this.nodes.get(f.node)!);
      case 'partition':
        if (f.a !== f.b) this.cuts.set(this.pairKey(f.a, f.b), (this.cuts.get(this.pairKey(f.a, f.b)) ?? 0) + 1);
        return;
      case 'isolate':
        this.cuts.set(`*|${f.node}`, (this.cuts.get(`*|${f.node}`) ?? 0) + 1);
        return;
      case 'clock-jump':
        this.nodes.get(f.node)!.jumpMs += f.aheadMs;
        return;
      default: {
        const never: never = f;
        throw new Error(`unknown fault ${JSON.stringify(never)}`);
      }
    }
  }

  private faultEnd(f: Fault): void {
    if (this.healed) return;
    this.trace(`fault end ${JSON.stringify(f)}`);
    switch (f.kind) {
      case 'crash': {
        const n = this.nodes.get(f.node)!;
        if (!n.core) this.start(n);
        return;
      }
      case 'partition':
      case 'isolate': {
        const key = f.kind === 'partition' ? this.pairKey(f.a, f.b) : `*|${f.node}`;
        const left = (this.cuts.get(key) ?? 0) - 1;
        if (left > 0) this.cuts.set(key, left);
        else this.cuts.delete(key);
        return;
      }
      case 'clock-jump':
        this.nodes.get(f.node)!.jumpMs -= f.aheadMs;
        return;
      default: {
        const never: never = f;
        throw new Error(`unknown fault ${JSON.stringify(never)}`);
      }
    }
  }

  private heal(): void {
    this.trace('heal: partitions removed, loss and duplication off, crashed servers restarted, clocks stop drifting');
    this.healed = true;
    this.healAtMs = this.now;
    this.cuts.clear();
    for (const n of this.nodes.values()) n.jumpMs = 0;
    this.lossRate = 0;
    this.dupRate = 0;
    for (const n of this.nodes.values()) if (!n.core) this.start(n);
  }

  // ---- clients ---------------------------------------------------------------------------------

  private slugFor(i: number): string {
    // Some writers in different continents ask for the same slug: the rename rule must converge.
    return this.rng.chance(0.3) ? 'shared-name' : `writer-${i}`;
  }

  private newRequestId(c: Client): string {
    return `c${c.idx}r${++c.requestSeq}xxxx`;
  }

  private clientAct(c: Client): void {
    if (this.scale) return this.scaleClientAct(c);
    if (c.busy !== null) return;
    if (!this.writesOpen) return;
    const think = () => this.heap.push(this.now + this.rng.int(50, 900), { type: 'client-wake', client: c.idx });
    if (!c.writer) {
      if (this.knownBlogs.length > 0) {
        const l2 = this.rng.chance(0.7) ? c.home : this.rng.pick(this.world.l2s);
        this.request(c, l2.id, { kind: 'read', request: { op: 'get-blog', blogId: this.rng.pick(this.knownBlogs) } }, {});
      } else think();
      return;
    }
    if (c.userId === null) {
      return this.register(c);
    }
    if (this.retryUnsure(c)) return;
    const live = c.blogs.filter((b) => b.state === 'live');
    const known = c.blogs.filter((b) => b.state === 'live' || b.state === 'deleted');
    const r = this.rng.next();
    if (r < 0.35 || live.length === 0) return this.startCreate(c);
    if (r < 0.6) return this.sendBlogWrite(c, this.rng.pick(live), 'update');
    if (r < 0.7) return this.startDelete(c, this.rng.pick(live));
    // Read one's own blog at one's own L2: read-your-writes.
    this.readOwn(c, this.rng.pick(known));
  }

  private register(c: Client): void {
    c.registerRequestId ??= this.newRequestId(c);
    const write: WriteOp = { op: 'register', name: `writer ${c.idx}`, country: c.home.country, slug: c.slug, publicationTitle: `pub ${c.idx}` };
    this.request(c, c.home.id, { kind: 'write', request: { requestId: c.registerRequestId, userId: null, write } }, {});
  }

  /** Unfinished creates and deletes are retried with the same requestId until they get an answer. */
  private retryUnsure(c: Client): boolean {
    const unsure = c.blogs.find((b) => b.state === 'creating' || b.state === 'deleting');
    if (unsure) this.sendBlogWrite(c, unsure, unsure.state === 'creating' ? 'create' : 'delete');
    return unsure !== undefined;
  }

  private startCreate(c: Client): void {
    const id = this.newRequestId(c);
    const blog: OwnBlog = { id: `b.${id}`, createRequestId: id, state: 'creating', ackedHlc: null, nextVersion: 1 };
    c.blogs.push(blog);
    this.sendBlogWrite(c, blog, 'create');
  }

  private startDelete(c: Client, b: OwnBlog): void {
    b.state = 'deleting';
    this.sendBlogWrite(c, b, 'delete');
  }

  private readOwn(c: Client, b: OwnBlog): void {
    this.request(c, c.home.id, { kind: 'read', request: { op: 'get-blog', blogId: b.id } }, { blog: b, ackedHlc: b.ackedHlc });
  }

  /**
   * A scale-mode writer: signs up, then at each wake-up starts one write (create 50%, update 40%,
   * delete 10%) and, one time in five, reads it back at its own L2 (read-your-writes). A write that
   * got no definite answer is retried with the same requestId before anything new.
   */
  private scaleClientAct(c: Client): void {
    if (c.userId === null && c.writesLeft === 0) return; // its sign-up was refused: it never writes
    if (c.busy !== null) return this.heap.push(this.now + this.rng.int(200, 2_000), { type: 'client-wake', client: c.idx });
    if (c.userId === null) return this.register(c);
    if (this.retryUnsure(c)) return;
    if (c.writesLeft <= 0) {
      const known = c.blogs.filter((b) => b.state === 'live' || b.state === 'deleted');
      if (known.length > 0 && this.rng.chance(0.2)) this.readOwn(c, this.rng.pick(known));
      return;
    }
    c.writesLeft--;
    const live = c.blogs.filter((b) => b.state === 'live');
    const r = this.rng.next();
    if (r < 0.5 || live.length === 0) return this.startCreate(c);
    if (r < 0.9) return this.sendBlogWrite(c, this.rng.pick(live), 'update');
    this.startDelete(c, this.rng.pick(live));
  }

  private sendBlogWrite(c: Client, blog: OwnBlog, what: 'create' | 'update' | 'delete'): void {
    let write: WriteOp;
    let requestId = this.newRequestId(c);
    let version: number | undefined;
    if (what === 'delete') write = { op: 'delete-blog', blogId: blog.id };
    else {
      version = what === 'create' && blog.nextVersion > 1 ? 1 : blog.nextVersion++;
      const title = `${blog.id}-v${version}`;
      this.sentTitles.add(title);
      const body = this.scale ? this.scaleBody : `body ${this.rng.int(0, 1e9)}`;
      if (what === 'create') {
        requestId = blog.createRequestId;
        write = { op: 'create-blog', title, body, imageRefs: this.rng.chance(0.3) ? ['https://img.example/a.png'] : [] };
      } else write = { op: 'update-blog', blogId: blog.id, title, body, imageRefs: [] };
    }
    this.request(c, c.home.id, { kind: 'write', request: { requestId, userId: c.userId, write } }, version === undefined ? { blog } : { blog, version });
  }

  private request(c: Client, l2: ServerId, request: ClientRequest, extra: { blog?: OwnBlog; version?: number; ackedHlc?: Hlc | null }): void {
    const id = this.nextClientReqId++;
    c.busy = id;
    this.inflight.set(id, { client: c.idx, l2, request, ...extra });
    this.heap.push(this.now + this.T.clientTimeoutMs, { type: 'client-timeout', clientReqId: id });
    const n = this.nodes.get(l2)!;
    if (!n.core) {
      return; // the server is down: the client's own timeout answers
    }
    this.step(n, { type: 'client', clientReqId: id, request });
  }

  private onReply(clientReqId: number, reply: ClientReply): void {
    const req = this.inflight.get(clientReqId);
    if (!req) return; // the client gave up already
    this.inflight.delete(clientReqId);
    this.count(reply.ok ? `reply_${reply.kind}` : `error_${reply.error.code}`);
    this.clientDone(this.clients[req.client]!, req, reply);
  }

  private clientDone(c: Client, req: InFlightClientRequest, reply: ClientReply | null): void {
    c.busy = null;
    if (req.request.kind === 'write') this.afterWrite(c, req, reply);
    else this.afterRead(c, req, reply);
    if (!this.scale) this.heap.push(this.now + this.rng.int(50, 900), { type: 'client-wake', client: c.idx });
    else if (reply !== null && !reply.ok && !['L1_TIMEOUT', 'L1_UNREACHABLE', 'OVERLOADED'].includes(reply.error.code)) {
      // A definite refusal is a violation already (afterWrite); retrying it would only repeat it.
      if (c.userId === null) c.writesLeft = 0;
    } else if (c.userId === null || c.blogs.some((b) => b.state === 'creating' || b.state === 'deleting')) {
      // Scale mode: wake-ups are scheduled up front; an unfinished write is retried soon.
      this.heap.push(this.now + this.rng.int(500, 3_000), { type: 'client-wake', client: c.idx });
    } else if (req.request.kind === 'write' && req.blog && this.rng.chance(0.2)) {
      this.readOwn(c, req.blog); // read-your-writes: one write in five is read back at once
    }
  }

  private afterWrite(c: Client, req: InFlightClientRequest, reply: ClientReply | null): void {
    if (req.request.kind !== 'write') return;
    const w = req.request.request.write;
    if (reply && reply.ok && reply.kind === 'written') this.acked.push(...reply.changes);
    const code = reply && !reply.ok ? reply.error.code : null;
    const definiteFailure = code !== null && code !== 'L1_TIMEOUT' && code !== 'L1_UNREACHABLE' && code !== 'OVERLOADED';
    switch (w.op) {
      case 'register':
        if (reply?.ok) c.userId = `u.${req.request.request.requestId}`;
        else if (code === 'SLUG_TAKEN') {
          c.slug = `${w.slug}-${c.idx}`;
          c.registerRequestId = null;
        } else if (definiteFailure) this.violation(`register by client ${c.idx} refused: ${code}`);
        return;
      case 'create-blog':
        if (reply?.ok && reply.kind === 'written') {
          req.blog!.state = 'live';
          this.noteAck(req.blog!, reply.changes);
          this.knownBlogs.push(req.blog!.id);
        } else if (definiteFailure) this.violation(`create of ${req.blog!.id} by its author at its home L2 refused: ${code}`);
        return;
      case 'update-blog':
        if (reply?.ok && reply.kind === 'written') this.noteAck(req.blog!, reply.changes);
        else if (definiteFailure) this.violation(`update of ${req.blog!.id} by its author at its home L2 refused: ${code} (an acknowledged write lost?)`);
        return;
      case 'delete-blog':
        if (reply?.ok) req.blog!.state = 'deleted';
        else if (definiteFailure) this.violation(`delete of ${req.blog!.id} by its author refused: ${code}`);
        return;
      default: {
        const never: never = w;
        throw new Error(`unknown write ${JSON.stringify(never)}`);
      }
    }
  }

  private noteAck(blog: OwnBlog, changes: readonly Change[]): void {
    for (const c of changes) {
      if (blog.ackedHlc === null || compareHlc(c.hlc, blog.ackedHlc) > 0) blog.ackedHlc = c.hlc;
    }
  }

  private afterRead(c: Client, req: InFlightClientRequest, reply: ClientReply | null): void {
    if (req.request.kind !== 'read' || req.request.request.op !== 'get-blog' || reply === null) return;
    const blogId = req.request.request.blogId;
    const seenKey = `${req.l2}|${blogId}`;
    if (reply.ok && reply.kind === 'blog') {
      if (!this.sentTitles.has(reply.blog.title)) this.violation(`${req.l2} served ${blogId} with a title nobody wrote: ${reply.blog.title}`);
      if (this.seenDeleted.has(seenKey)) this.violation(`${req.l2} served ${blogId} after having answered DELETED for it`);
    }
    if (!reply.ok && reply.error.code === 'DELETED') this.seenDeleted.add(seenKey);
    if (req.blog === undefined) return;
    // Read-your-writes: the writer at its own L2 sees its acknowledged write (or a later one).
    const b = req.blog;
    if (b.state === 'deleted' && !(reply.ok === false && reply.error.code === 'DELETED')) {
      this.violation(`read-your-writes: ${c.home.id} answered ${describe(reply)} for ${blogId}, which its author deleted (acknowledged)`);
    }
    if (b.state === 'live') {
      const served = reply.ok && reply.kind === 'blog' ? this.titleHlc.get(reply.blog.title) : undefined;
      if (!served || (req.ackedHlc && compareHlc(served, req.ackedHlc) < 0)) {
        this.violation(`read-your-writes: ${c.home.id} answered ${describe(reply)} for ${blogId}; its author had ${req.ackedHlc ? hlcToString(req.ackedHlc) : '?'} acknowledged`);
      }
    }
  }

  // ---- checkers ---------------------------------------------------------------------------------

  private finalChecks(): void {
    const l1s = this.world.l1s.map((l) => this.nodes.get(l.id)!);
    const ref = l1s[0]!;
    const refSnap = ref.store.snapshot();
    // 1. Every L1 holds the same data (after heal and one sync round).
    for (const n of l1s.slice(1)) {
      const snap = n.store.snapshot();
      const keys = new Set([...refSnap.keys(), ...snap.keys()]);
      for (const key of keys) {
        const a = refSnap.get(key);
        const b = snap.get(key);
        if (!sameChange(a, b)) {
          this.violation(`L1s differ after heal + sync: ${ref.id} has ${key} = ${describeChange(a)}, ${n.id} has ${describeChange(b)}`);
          break;
        }
      }
    }
    // 2. LWW: each L1 holds, for every key, the winner of everything ever committed.
    for (const [key, want] of this.committed) {
      for (const n of l1s) {
        const got = n.store.get(key)?.change;
        if (!sameChange(got, want)) {
          this.violation(`LWW: ${n.id} holds ${key} = ${describeChange(got)}, the winner is ${describeChange(want)}`);
          break;
        }
      }
    }
    // 3. No acknowledged write is lost: every L1 holds it or something that beats it.
    for (const c of this.acked) {
      const key = entityKey(c);
      for (const n of l1s) {
        const got = n.store.get(key)?.change;
        if (got === undefined || (!sameChange(got, c) && !changeWins(got, c))) {
          this.violation(`acknowledged write lost: ${n.id} holds ${key} = ${describeChange(got)}, acknowledged ${describeChange(c)}`);
          break;
        }
      }
    }
    // 4. Every L2 agrees with its L1 on what it holds.
    for (const l2 of this.world.l2s) {
      if (this.sinks.has(l2.id)) continue;
      const n = this.nodes.get(l2.id)!;
      const l1 = this.nodes.get(l2.l1)!;
      const held = n.store.snapshot();
      // Not an invariant (a restarted L2 holds only its region's share), but a calm run must show 0.
      for (const key of l1.store.snapshot().keys()) if (!held.has(key)) this.count('l2_missing_keys');
      for (const [key, change] of held) {
        const at = l1.store.get(key)?.change;
        if (!sameChange(change, at)) {
          this.violation(`${l2.id} holds ${key} = ${describeChange(change)} but its L1 ${l2.l1} has ${describeChange(at)}`);
          break;
        }
      }
    }
    // 5. Profile counts equal live blogs, on every server.
    for (const n of this.nodes.values()) {
      const live = new Map<string, number>();
      const authors = new Set<string>();
      for (const change of n.store.snapshot().values()) {
        if (change.kind === 'blog') live.set(change.blog.authorId, (live.get(change.blog.authorId) ?? 0) + 1);
        if (change.kind === 'blog') authors.add(change.blog.authorId);
        if (change.kind === 'tombstone') authors.add(change.tombstone.authorId);
      }
      for (const a of authors) {
        if (n.store.blogCount(a) !== (live.get(a) ?? 0)) {
          this.violation(`${n.id}: profile count of ${a} is ${n.store.blogCount(a)}, live blogs ${live.get(a) ?? 0}`);
        }
      }
    }
    // 6. Deletes never resurrect: a key deleted anywhere is a tombstone everywhere that holds it.
    const deleted = new Set<string>();
    for (const c of this.commitTimes) if (c.change.kind === 'tombstone') deleted.add(c.key);
    for (const n of this.nodes.values()) {
      for (const key of deleted) {
        const got = n.store.get(key)?.change;
        if (got?.kind === 'blog') this.violation(`${n.id} shows deleted blog ${key}`);
      }
    }
    // 7. Publication names are unique in every server's view (the rename rule for concurrent claims).
    for (const n of this.nodes.values()) {
      const names = new Map<string, string>();
      for (const change of n.store.snapshot().values()) {
        if (change.kind !== 'publication') continue;
        const name = n.store.effectiveSlug(change.publication.id)!;
        if (name.includes('--')) this.count(`renamed_slugs_${n.kind}`);
        const other = names.get(name);
        if (other !== undefined) this.violation(`${n.id}: publications ${other} and ${change.publication.id} both show as "${name}"`);
        names.set(name, change.publication.id);
        if (n.store.publicationBySlug(name)?.id !== change.publication.id) this.violation(`${n.id}: "${name}" does not resolve to ${change.publication.id}`);
      }
    }
    this.checkLag(l1s);
    this.stats.acked = this.acked.length;
    this.stats.committed = this.commitTimes.length;
  }

  /** With no partition (the calm phase), a change reaches every other L1 within timeout + delay. */
  private checkLag(l1s: readonly Node[]): void {
    const boundMs = this.T.propagationTimeoutMs + this.delayMaxMs;
    // Batches retrying from the chaos phase get acknowledged within one retry: start after that.
    const fromMs = this.healAtMs + 500 + 2 * this.delayMaxMs + 100;
    const untilMs = this.T.chaosMs + this.T.calmMs;
    for (const c of this.commitTimes) {
      if (c.atMs < fromMs || c.atMs > untilMs) continue;
      for (const n of l1s) {
        if (n.id === c.origin) continue;
        const seen = (this.wins.get(n.id)!.get(c.key) ?? []).find((w) => sameChange(c.change, w.change) || changeWins(w.change, c.change));
        if (!seen || seen.atMs - c.atMs > boundMs) {
          this.violation(
            `lag: ${c.key} ${hlcToString(c.change.hlc)} committed at ${c.atMs} ms reached ${n.id} ${seen ? `after ${seen.atMs - c.atMs} ms` : 'never'} (bound ${boundMs} ms)`,
          );
          return;
        }
      }
    }
  }

  /** Keeps a few of each kind (the text before its first ':'), so one noisy checker hides no other. */
  private violation(text: string): void {
    const kind = text.slice(0, Math.max(0, text.indexOf(':'))) || text.slice(0, 20);
    const n = this.violationKinds.get(kind) ?? 0;
    this.violationKinds.set(kind, n + 1);
    if (n < 3 && this.violations.length < 40) this.violations.push(`t=${this.now}ms ${text}`);
  }

  private count(name: string): void {
    this.stats[name] = (this.stats[name] ?? 0) + 1;
  }

  private trace(line: string): void {
    this.options.trace?.(`t=${this.now} ${line}`);
  }
}

function sameChange(a: Change | undefined, b: Change | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.kind === b.kind && compareHlc(a.hlc, b.hlc) === 0;
}

function describeChange(c: Change | undefined): string {
  return c ? `${c.kind}@${hlcToString(c.hlc)}` : 'nothing';
}

function describe(reply: ClientReply | null): string {
  if (reply === null) return 'nothing';
  if (!reply.ok) return reply.error.code;
  return reply.kind === 'blog' ? `"${reply.blog.title}" (${reply.source})` : reply.kind;
}
