import assert from 'node:assert/strict';
import { hashNumber, hashString } from './hash.js';
import { ZERO_LOAD, type Digest, type Load, type NodeName, type Role, type Status, type TableHash, type WireEntry } from './bounds.js';

/** Rows a Monitor keeps: a campus is ~600 PCs; past this, new names are refused (and noted). */
export const TABLE_ENTRIES_MAX = 4096;
/** PSI is advertised in steps of 1/20: finer changes are noise and would make every heartbeat a
 * new version to gossip. */
export const PSI_STEPS = 20;

export interface NodeEntry extends WireEntry {
  /** When this Monitor last learned something new about the node (local clock, never gossiped). */
  lastHeardMs: number;
}

const STATUS_RANK: Readonly<Record<Status, number>> = { alive: 0, suspect: 1, dead: 2 };

export function statusRank(status: Status): number {
  return STATUS_RANK[status];
}

/** SWIM's order: higher incarnation wins; at equal incarnation dead > suspect > alive; then version. */
export function compareKeys(a: Digest, b: Digest): number {
  return (
    a.incarnation - b.incarnation ||
    STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
    a.version - b.version
  );
}

/**
 * A total order on entries of one name. Equal keys normally mean equal content (a node bumps its
 * version whenever what it advertises changes); the content tie-break only makes merge a true
 * semilattice even for a misbehaving node, so replicas can never disagree forever.
 */
export function compareEntries(a: WireEntry, b: WireEntry): number {
  return compareKeys(a, b) || compareContent(a, b);
}

function compareContent(a: WireEntry, b: WireEntry): number {
  return (
    compareStrings(a.role, b.role) ||
    compareStrings(a.monitor ?? '', b.monitor ?? '') ||
    compareLoads(a.load, b.load) ||
    a.languages.length - b.languages.length ||
    compareStringArrays(a.languages, b.languages)
  );
}

function compareLoads(a: Load, b: Load): number {
  return (
    a.slotsBusy - b.slotsBusy ||
    a.slotsFree - b.slotsFree ||
    a.psiCpu - b.psiCpu ||
    a.psiMemory - b.psiMemory ||
    a.psiIo - b.psiIo ||
    (a.queued ?? 0) - (b.queued ?? 0)
  );
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareStringArrays(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareStrings(a[i] as string, b[i] as string);
    if (c !== 0) return c;
  }
  return 0;
}

/** Merge of two entries of one name: the greater by compareEntries, heard at the later time. */
export function mergeEntry(a: NodeEntry, b: NodeEntry): NodeEntry {
  assert.equal(a.name, b.name, 'mergeEntry across names');
  const winner = compareEntries(a, b) >= 0 ? a : b;
  return { ...winner, lastHeardMs: Math.max(a.lastHeardMs, b.lastHeardMs) };
}

/** Pure merge of two tables, name by name; commutative, associative and idempotent. */
export function mergeTables(
  a: ReadonlyMap<NodeName, NodeEntry>,
  b: ReadonlyMap<NodeName, NodeEntry>,
): Map<NodeName, NodeEntry> {
  const out = new Map(a);
  for (const [name, entry] of b) {
    const mine = out.get(name);
    out.set(name, mine === undefined ? entry : mergeEntry(mine, entry));
  }
  return out;
}

/**
 * Whether a role's load travels in the table. Only Assigners': every Monitor answers "least-loaded
 * Assigner". A Worker's load changes with every run; gossiping it would make every Monitor handle
 * every Worker's changes (load growing with the cluster, not with nodes ÷ Monitors), so it stays
 * with the Worker's own Monitor, which sends it to the Assigners in monitor_heartbeat.
 */
export function advertisesLoad(role: Role): boolean {
  return role === 'assigner';
}

/** The load a table row carries for a role: quantized for Assigners, zero for everyone else. */
export function tableLoad(role: Role, load: Load): Load {
  return advertisesLoad(role) ? quantizeLoad(load) : ZERO_LOAD;
}

export function quantizeLoad(load: Load): Load {
  const q = (x: number): number => Math.round(x * PSI_STEPS) / PSI_STEPS;
  return { psiCpu: q(load.psiCpu), psiMemory: q(load.psiMemory), psiIo: q(load.psiIo), slotsFree: load.slotsFree, slotsBusy: load.slotsBusy, ...(load.queued ? { queued: load.queued } : {}) };
}

export function sameLoad(a: Load, b: Load): boolean {
  return compareLoads(a, b) === 0;
}

export function toWire(entry: NodeEntry): WireEntry {
  const { lastHeardMs: _local, ...wire } = entry;
  return wire;
}

export function toDigest(entry: WireEntry): Digest {
  return { name: entry.name, incarnation: entry.incarnation, status: entry.status, version: entry.version };
}

export type MergeOutcome = 'new' | 'newer' | 'stale' | 'full';

interface LogRecord {
  seq: number;
  name: NodeName;
}

/**
 * The Monitors' table, with a local change log for gossip: every accepted change gets the next
 * sequence number, so "what changed since seq N" is a binary search, and an XOR hash of every
 * row's key lets two Monitors see in O(1) that their tables are the same.
 */
export class NodeTable {
  private readonly rows = new Map<NodeName, NodeEntry>();
  private readonly changedSeq = new Map<NodeName, number>();
  private log: LogRecord[] = [];
  private seq = 0;
  private h1 = 0;
  private h2 = 0;
  private readonly monitorNames = new Set<NodeName>();
  /** Indexes, so a Monitor's periodic work touches its own nodes, not the whole table. */
  private readonly byMonitor = new Map<NodeName | null, Set<NodeName>>();
  private readonly byRole = new Map<Role, Set<NodeName>>();
  private liveMonitorsCache: NodeName[] | null = null;
  private knownMonitorsCache: NodeName[] | null = null;

  constructor(readonly capacity = TABLE_ENTRIES_MAX) {
    assert.ok(Number.isInteger(capacity) && capacity > 0, 'table capacity must be a positive integer');
  }

  get size(): number {
    return this.rows.size;
  }

  /** Sequence number of the newest change. */
  get headSeq(): number {
    return this.seq;
  }

  get(name: NodeName): NodeEntry | undefined {
    return this.rows.get(name);
  }

  values(): IterableIterator<NodeEntry> {
    return this.rows.values();
  }

  hash(): TableHash {
    return { h1: this.h1, h2: this.h2, size: this.rows.size };
  }

  /** Merges an entry; lastHeardMs becomes nowMs only if the entry brought news. */
  merge(incoming: WireEntry, nowMs: number): MergeOutcome {
    const mine = this.rows.get(incoming.name);
    if (mine === undefined) {
      if (this.rows.size >= this.capacity) return 'full';
      this.replace(undefined, { ...incoming, lastHeardMs: nowMs });
      return 'new';
    }
    if (compareEntries(incoming, mine) <= 0) return 'stale';
    this.replace(mine, { ...incoming, lastHeardMs: Math.max(nowMs, mine.lastHeardMs) });
    return 'newer';
  }

  /** A failure detector's verdict: raises the status at the same incarnation and version. */
  declare(name: NodeName, status: Exclude<Status, 'alive'>, nowMs: number): boolean {
    const mine = this.rows.get(name);
    assert.ok(mine !== undefined, `declare of unknown node ${name}`);
    if (STATUS_RANK[status] <= STATUS_RANK[mine.status]) return false;
    this.replace(mine, { ...mine, status, lastHeardMs: Math.max(nowMs, mine.lastHeardMs) });
    return true;
  }

  /**
   * Current entries whose last change is in (afterSeq, ...], oldest change first, at most `limit`.
   * upToSeq is how far the answer covers: the last included change, or the head when all fit.
   */
  changesAfter(afterSeq: number, limit: number): { entries: NodeEntry[]; upToSeq: number } {
    assert.ok(limit > 0, 'changesAfter limit');
    const entries: NodeEntry[] = [];
    let i = this.firstIndexAfter(afterSeq);
    for (; i < this.log.length && entries.length < limit; i++) {
      const rec = this.log[i] as LogRecord;
      if (this.changedSeq.get(rec.name) !== rec.seq) continue; // superseded by a later record
      entries.push(this.rows.get(rec.name) as NodeEntry);
    }
    // Skip trailing superseded records: they carry nothing, and covering them avoids a page of zero.
    while (i < this.log.length && this.changedSeq.get((this.log[i] as LogRecord).name) !== (this.log[i] as LogRecord).seq) i++;
    const upToSeq = i >= this.log.length ? this.seq : (this.log[i - 1] as LogRecord | undefined)?.seq ?? afterSeq;
    return { entries, upToSeq: Math.max(upToSeq, afterSeq) };
  }

  /** Names whose row says they report to this Monitor (null: placeholders nobody heard yet). */
  reportingTo(monitor: NodeName | null): ReadonlySet<NodeName> {
    return this.byMonitor.get(monitor) ?? EMPTY_SET;
  }

  /** Every Monitor name some row reports to, live or not. */
  reportedMonitors(): IterableIterator<NodeName | null> {
    return this.byMonitor.keys();
  }

  withRole(role: Role): ReadonlySet<NodeName> {
    return this.byRole.get(role) ?? EMPTY_SET;
  }

  /** Monitors not declared dead, sorted by name (the candidates for ownership and gossip). */
  liveMonitors(): readonly NodeName[] {
    if (this.liveMonitorsCache === null) {
      this.liveMonitorsCache = [...this.monitorNames].filter((n) => {
        const e = this.rows.get(n);
        return e?.role === 'monitor' && e.status !== 'dead';
      }).sort();
    }
    return this.liveMonitorsCache;
  }

  /** Every node in the Monitor role, dead or not: the election's voters (see election.ts for why). */
  knownMonitors(): readonly NodeName[] {
    if (this.knownMonitorsCache === null) {
      this.knownMonitorsCache = [...this.monitorNames].filter((n) => this.rows.get(n)?.role === 'monitor').sort();
    }
    return this.knownMonitorsCache;
  }

  private replace(old: NodeEntry | undefined, next: NodeEntry): void {
    if (old !== undefined) this.xorKey(old);
    this.reindex(old, next);
    this.xorKey(next);
    this.rows.set(next.name, next);
    this.seq += 1;
    this.changedSeq.set(next.name, this.seq);
    this.log.push({ seq: this.seq, name: next.name });
    if (this.log.length > 2 * this.rows.size + 64) this.compactLog();
    if (old?.role === 'monitor' || next.role === 'monitor') this.onMonitorChange(next);
  }

  private onMonitorChange(next: NodeEntry): void {
    this.monitorNames.add(next.name);
    this.liveMonitorsCache = null;
    this.knownMonitorsCache = null;
  }

  private reindex(old: NodeEntry | undefined, next: NodeEntry): void {
    if (old?.monitor !== next.monitor) {
      if (old !== undefined) removeFrom(this.byMonitor, old.monitor, old.name);
      addTo(this.byMonitor, next.monitor, next.name);
    }
    if (old?.role !== next.role) {
      if (old !== undefined) removeFrom(this.byRole, old.role, old.name);
      addTo(this.byRole, next.role, next.name);
    }
  }

  private xorKey(e: WireEntry): void {
    this.h1 = (this.h1 ^ keyHash(e, 0x9e3779b9)) >>> 0;
    this.h2 = (this.h2 ^ keyHash(e, 0x7f4a7c15)) >>> 0;
  }

  private compactLog(): void {
    this.log = [...this.changedSeq].map(([name, seq]) => ({ seq, name })).sort((a, b) => a.seq - b.seq);
  }

  private firstIndexAfter(seq: number): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.log[mid] as LogRecord).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const EMPTY_SET: ReadonlySet<NodeName> = new Set();

function addTo<K>(index: Map<K, Set<NodeName>>, key: K, name: NodeName): void {
  const set = index.get(key);
  if (set === undefined) index.set(key, new Set([name]));
  else set.add(name);
}

function removeFrom<K>(index: Map<K, Set<NodeName>>, key: K, name: NodeName): void {
  const set = index.get(key);
  set?.delete(name);
  if (set?.size === 0) index.delete(key);
}

function keyHash(e: WireEntry, seed: number): number {
  let h = hashString(e.name, seed);
  h = hashNumber(h, e.incarnation);
  h = hashNumber(h, STATUS_RANK[e.status]);
  return hashNumber(h, e.version);
}
