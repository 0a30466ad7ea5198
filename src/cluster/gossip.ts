import { fixedBeatAfter, type BeatGrid } from '../common/beat.js';
import assert from 'node:assert/strict';
import {
  GOSSIP_DIGESTS_PER_MESSAGE_MAX,
  GOSSIP_ENTRIES_PER_MESSAGE_MAX,
  GOSSIP_NEWS_PER_MESSAGE_MAX,
  MONITORS_MAX,
  type Digest,
  type GossipEntries,
  type GossipPull,
  type GossipPush,
  type LogPosition,
  type NodeName,
  type TableHash,
  type WireEntry,
} from './bounds.js';
import { compareKeys, toDigest, toWire, type NodeEntry, type NodeTable } from './node-table.js';
import type { Outbox } from './output.js';
import { shuffleInPlace, type Random } from './random.js';

// Monitor-to-Monitor push-pull anti-entropy. Each round a Monitor picks ONE other Monitor and:
//   1. gossip_push  A→B: digests of A's changes B has not confirmed (a page of A's log), digests
//      of A's news (its changes of the last few rounds), and A's table hash;
//   2. gossip_pull  B→A: entries of B's news and of B's changes A has not confirmed, entries where
//      B is newer than a digest, and the names B wants;
//   3. gossip_entries A→B: the wanted entries (only if B wanted any).
// Each side remembers, per peer, how far it has received the peer's change log, so a steady
// cluster exchanges near-empty messages; equal table hashes skip straight to the head. A new or
// restarted Monitor (new log epoch) is sent everything, a page per round. Peers come from a
// shuffled round-robin, so every Monitor hears from every other within 2 × (Monitors − 1) rounds.
// The pages guarantee convergence; the news makes it fast: each Monitor relays a change for
// log2(Monitors) + 1 rounds, an epidemic that reaches every Monitor in a few rounds w.h.p.

/** Rounds of news remembered; enough for log2(64 Monitors) + 1 relays. */
export const NEWS_ROUNDS_MAX = 8;

/** Rounds a change stays news: enough relays for an epidemic to cover the Monitors w.h.p. */
export function newsRounds(peerCount: number): number {
  return Math.min(NEWS_ROUNDS_MAX, Math.ceil(Math.log2(peerCount + 1)) + 1);
}

export interface GossipOptions {
  self: NodeName;
  table: NodeTable;
  rng: Random;
  gossipIntervalMs: number;
  gossipToTheDeadMs: number;
  firstRoundAtMs: number;
  /** Where the rounds land (src/common/beat.ts); none: every interval from the first. */
  grid?: BeatGrid;
}

function hashesEqual(a: TableHash, b: TableHash): boolean {
  return a.h1 === b.h1 && a.h2 === b.h2 && a.size === b.size;
}

export class Gossip {
  /** Identifies this table's change log: a restart or a new Monitor gets a fresh one. */
  readonly epoch: number;
  nextRoundAtMs: number;
  private readonly self: NodeName;
  private readonly table: NodeTable;
  private readonly rng: Random;
  private readonly intervalMs: number;
  private readonly toTheDeadMs: number;
  /** Set at construction, or by ClusterNode.useGrid before the node's first step. */
  grid: BeatGrid;
  /** How far this Monitor has received each peer's log. */
  private readonly received = new Map<NodeName, LogPosition>();
  /** How far each peer has confirmed receiving this Monitor's log. */
  private readonly acked = new Map<NodeName, LogPosition>();
  private order: NodeName[] = [];
  private cursor = 0;
  /** headSeq at the end of each of the last rounds, oldest first: where each round's news starts. */
  private readonly roundHeads: number[] = [];

  constructor(options: GossipOptions) {
    this.self = options.self;
    this.table = options.table;
    this.rng = options.rng;
    this.intervalMs = options.gossipIntervalMs;
    this.toTheDeadMs = options.gossipToTheDeadMs;
    this.nextRoundAtMs = options.firstRoundAtMs;
    this.grid = options.grid ?? null;
    this.epoch = options.rng.nextUint32();
  }

  onTick(nowMs: number, out: Outbox): void {
    if (nowMs < this.nextRoundAtMs) return;
    this.nextRoundAtMs = fixedBeatAfter(this.nextRoundAtMs, nowMs, this.intervalMs, this.grid);
    const peer = this.nextPeer(nowMs);
    if (peer !== null) out.messages.push({ to: peer, message: this.buildPush(peer) });
    this.roundHeads.push(this.table.headSeq);
    if (this.roundHeads.length > NEWS_ROUNDS_MAX) this.roundHeads.shift();
  }

  /** This Monitor's changes of its last newsRounds rounds, oldest first, at most `limit`. */
  private news(limit: number): NodeEntry[] {
    const rounds = newsRounds(this.order.length);
    const after = this.roundHeads[Math.max(0, this.roundHeads.length - rounds)] ?? this.table.headSeq;
    return after >= this.table.headSeq ? [] : this.table.changesAfter(after, limit).entries;
  }

  buildPush(peer: NodeName): GossipPush {
    const acked = this.acked.get(peer);
    const afterSeq = acked?.epoch === this.epoch ? acked.seq : 0;
    const page = this.table.changesAfter(afterSeq, GOSSIP_DIGESTS_PER_MESSAGE_MAX);
    const inPage = new Set(page.entries.map((e) => e.name));
    const news = this.news(GOSSIP_NEWS_PER_MESSAGE_MAX).filter((e) => !inPage.has(e.name));
    return {
      type: 'gossip_push',
      from: this.self,
      epoch: this.epoch,
      afterSeq,
      upToSeq: page.upToSeq,
      headSeq: this.table.headSeq,
      tableHash: this.table.hash(),
      haveOfYou: this.received.get(peer) ?? null,
      digests: page.entries.map(toDigest),
      news: news.map(toDigest),
    };
  }

  onPush(from: NodeName, push: GossipPush, out: Outbox): void {
    const same = hashesEqual(push.tableHash, this.table.hash());
    const want: NodeName[] = [];
    const corrections: WireEntry[] = [];
    if (!same) this.compareDigests(push.digests, want, corrections);
    // Nothing of the page wanted: this Monitor now holds all of the pusher's log up to the page's
    // end — or, when the tables are equal, all of it, wherever this Monitor was in it before.
    if (same) this.advance(from, push.epoch, 0, push.headSeq);
    else if (want.length === 0) this.advance(from, push.epoch, push.afterSeq, push.upToSeq);
    if (!same) this.compareDigests(push.news, want, corrections);
    const entries = this.pullEntries(corrections, same);
    const afterSeq = push.haveOfYou?.epoch === this.epoch ? push.haveOfYou.seq : 0;
    const delta = same
      ? { entries: [], upToSeq: this.table.headSeq }
      : this.table.changesAfter(afterSeq, GOSSIP_ENTRIES_PER_MESSAGE_MAX - entries.length);
    const included = new Set(entries.map((e) => e.name));
    for (const e of delta.entries) if (!included.has(e.name)) entries.push(toWire(e));
    const pull: GossipPull = {
      type: 'gossip_pull',
      from: this.self,
      epoch: this.epoch,
      afterSeq,
      upToSeq: delta.upToSeq,
      ackOfYou: this.received.get(from) ?? null,
      push: { epoch: push.epoch, afterSeq: push.afterSeq, upToSeq: push.upToSeq },
      want,
      entries,
    };
    out.messages.push({ to: from, message: pull });
  }

  /** Corrections first, then this Monitor's own news (the pull half of the epidemic). */
  private pullEntries(corrections: WireEntry[], same: boolean): WireEntry[] {
    if (same) return [];
    const included = new Set(corrections.map((e) => e.name));
    const entries = corrections;
    for (const e of this.news(GOSSIP_NEWS_PER_MESSAGE_MAX)) if (!included.has(e.name)) entries.push(toWire(e));
    return entries;
  }

  onPull(from: NodeName, pull: GossipPull, nowMs: number, out: Outbox): void {
    for (const entry of pull.entries) this.table.merge(entry, nowMs);
    this.advance(from, pull.epoch, pull.afterSeq, pull.upToSeq);
    if (pull.ackOfYou !== null && pull.ackOfYou.epoch === this.epoch) {
      const mine = this.acked.get(from);
      if (mine?.epoch !== this.epoch || pull.ackOfYou.seq > mine.seq) this.remember(this.acked, from, pull.ackOfYou);
    }
    if (pull.want.length === 0 || pull.push.epoch !== this.epoch) return;
    const entries: WireEntry[] = [];
    for (const name of pull.want) {
      const e = this.table.get(name);
      if (e !== undefined) entries.push(toWire(e));
    }
    const message: GossipEntries = { type: 'gossip_entries', from: this.self, push: pull.push, entries };
    out.messages.push({ to: from, message });
  }

  onEntries(from: NodeName, message: GossipEntries, nowMs: number): void {
    for (const entry of message.entries) this.table.merge(entry, nowMs);
    // The digests this Monitor did not want it already had at least as new; now it has the rest.
    this.advance(from, message.push.epoch, message.push.afterSeq, message.push.upToSeq);
  }

  /** For tests and the dashboard: how far this Monitor has received a peer's log. */
  receivedOf(peer: NodeName): LogPosition | undefined {
    return this.received.get(peer);
  }

  private compareDigests(digests: readonly Digest[], want: NodeName[], corrections: WireEntry[]): void {
    // Half the pull's room may go to corrections; the rest is for this Monitor's own changes.
    const correctionsMax = GOSSIP_ENTRIES_PER_MESSAGE_MAX / 2;
    for (const d of digests) {
      const mine = this.table.get(d.name);
      const c = mine === undefined ? 1 : compareKeys(d, mine);
      if (c > 0) want.push(d.name);
      else if (c < 0 && mine !== undefined && corrections.length < correctionsMax) corrections.push(toWire(mine));
    }
    assert.ok(want.length <= GOSSIP_ENTRIES_PER_MESSAGE_MAX, 'want must fit one gossip_entries');
  }

  /** Moves our position in a peer's log, only if the covered range starts where we already are. */
  private advance(peer: NodeName, epoch: number, afterSeq: number, upToSeq: number): void {
    const cur = this.received.get(peer);
    const contiguous = afterSeq === 0 || (cur !== undefined && cur.epoch === epoch && cur.seq >= afterSeq);
    if (!contiguous) return;
    if (cur === undefined || cur.epoch !== epoch || upToSeq > cur.seq) this.remember(this.received, peer, { epoch, seq: upToSeq });
  }

  /** Both maps are per peer Monitor; past the bound, forget Monitors no longer in the table. */
  private remember(map: Map<NodeName, LogPosition>, peer: NodeName, pos: LogPosition): void {
    if (!map.has(peer) && map.size >= 2 * MONITORS_MAX) {
      const known = new Set(this.table.liveMonitors());
      for (const name of map.keys()) if (!known.has(name)) map.delete(name);
      if (map.size >= 2 * MONITORS_MAX) return;
    }
    map.set(peer, pos);
  }

  /** Shuffled round-robin over the other Monitors, including ones recently declared dead. */
  private nextPeer(nowMs: number): NodeName | null {
    const eligible = (name: NodeName): boolean => {
      const e = this.table.get(name);
      return e !== undefined && e.role === 'monitor' && (e.status !== 'dead' || nowMs - e.lastHeardMs <= this.toTheDeadMs);
    };
    while (this.cursor < this.order.length) {
      const peer = this.order[this.cursor++] as NodeName;
      if (eligible(peer)) return peer;
    }
    this.order = shuffleInPlace(this.rng, this.table.knownMonitors().filter((m) => m !== this.self && eligible(m)));
    this.cursor = 0;
    return this.order[this.cursor++] ?? null;
  }
}
