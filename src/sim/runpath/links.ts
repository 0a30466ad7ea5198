import assert from 'node:assert/strict';
import { randomFloat, randomIntBetween, type Random } from '../../cluster/random.js';
import type { Transport } from '../../common/transport.js';

/**
 * The run path's links as they really are: TLS streams (agent/peers.ts between members, a
 * WebSocket between a client and the Gateway). Within one connection nothing is duplicated or
 * reordered; what a connection loses is what was in flight when it broke. So this network is FIFO
 * per directed pair, and its faults are the ones a stream has:
 * - a reset: every message in flight on the pair is lost, the next send opens a new connection;
 * - a partition (shorter than the wire's 30 s idle timeout, so no connection dies of it): TCP
 *   retransmits, so what was in flight and what is sent meanwhile arrives when it heals, in order
 *   (held in a bounded queue here, as PeerLinks bounds what waits for a link);
 * - a crash of the sender: a random prefix of what it had in flight still arrives (the kernel had
 *   sent it), the rest is lost; anything for a dead node is lost.
 * Duplicates and reordering come from the protocols' own resends, as in the lab.
 */

export interface LinkOptions {
  latencyMinMs: number;
  latencyMaxMs: number;
  /** Chance a message takes a slow path (a busy PC): up to slowExtraMsMax more, still in order. */
  slowProbability: number;
  slowExtraMsMax: number;
}

export const DEFAULT_LINKS: Readonly<LinkOptions> = Object.freeze({ latencyMinMs: 1, latencyMaxMs: 10, slowProbability: 0.05, slowExtraMsMax: 200 });

/** Messages a sender holds for a peer across a partition (agent/peers.ts PENDING_MESSAGES_MAX); the oldest go first past it. */
export const PENDING_MAX = 1024;

interface InFlight<M> {
  msg: M;
  sentAtMs: number;
  lost: boolean;
  /** Caught by a partition: it waits in `pending` now (this delivery does nothing). */
  held: boolean;
}

interface Channel<M> {
  /** Deliveries keep send order: a message never arrives before the one sent ahead of it. */
  lastDeliverAtMs: number;
  inFlight: Array<InFlight<M>>;
  /** Held across a partition, sent when it heals. */
  pending: M[];
}

interface Partition {
  side: ReadonlySet<string>;
}

export interface LinkHost<M> {
  nowMs(): number;
  /** Calls fn at atMs (the simulator's event queue). */
  at(atMs: number, fn: () => void): void;
  /** A message arrived (the receiver is alive: checked by the network). */
  arrive(from: string, to: string, msg: M): void;
  isAlive(node: string): boolean;
}

export class FifoNet<M> {
  private readonly channels = new Map<string, Channel<M>>();
  private readonly partitions = new Map<number, Partition>();
  readonly options: LinkOptions;
  /** Counts for the report: messages sent, lost to faults, held across partitions. */
  readonly counts = { sent: 0, lost: 0, held: 0 };

  constructor(
    private readonly host: LinkHost<M>,
    private readonly rng: Random,
    options: Partial<LinkOptions> = {},
  ) {
    this.options = { ...DEFAULT_LINKS, ...options };
    assert.ok(this.options.latencyMinMs >= 0 && this.options.latencyMinMs <= this.options.latencyMaxMs, 'latency range');
  }

  private channel(from: string, to: string): Channel<M> {
    const key = `${from}>${to}`;
    let c = this.channels.get(key);
    if (!c) {
      c = { lastDeliverAtMs: 0, inFlight: [], pending: [] };
      this.channels.set(key, c);
    }
    return c;
  }

  private cut(from: string, to: string): Partition | null {
    for (const p of this.partitions.values()) if (p.side.has(from) !== p.side.has(to)) return p;
    return null;
  }

  /** False when the sender is dead (nothing leaves it); true does not mean it arrives. */
  send(from: string, to: string, msg: M): boolean {
    if (!this.host.isAlive(from)) return false;
    this.counts.sent++;
    const c = this.channel(from, to);
    if (this.cut(from, to)) this.hold(c, msg);
    else this.transmit(from, to, c, msg);
    return true;
  }

  /**
   * Member `from`'s Transport port on this network, as the drivers take it (the agent's PeerLinks
   * in production). Back-pressure is not simulated: a simulated link always has room.
   */
  transport(from: string): Transport<M> {
    return { send: (to, msg) => this.send(from, to, msg), whenWritable: () => Promise.resolve() };
  }

  private hold(c: Channel<M>, msg: M): void {
    if (c.pending.length >= PENDING_MAX) {
      c.pending.shift();
      this.counts.lost++;
    }
    c.pending.push(msg);
    this.counts.held++;
  }

  private transmit(from: string, to: string, c: Channel<M>, msg: M): void {
    const o = this.options;
    const now = this.host.nowMs();
    let delay = randomIntBetween(this.rng, o.latencyMinMs, o.latencyMaxMs);
    if (randomFloat(this.rng) < o.slowProbability) delay += randomIntBetween(this.rng, 0, o.slowExtraMsMax);
    const atMs = Math.max(c.lastDeliverAtMs, now + delay);
    c.lastDeliverAtMs = atMs;
    const f: InFlight<M> = { msg, sentAtMs: now, lost: false, held: false };
    c.inFlight.push(f);
    this.host.at(atMs, () => {
      const head = c.inFlight.shift();
      assert.ok(head === f, 'a channel delivers in send order');
      if (f.held) return;
      if (f.lost || !this.host.isAlive(to)) {
        this.counts.lost++;
        return;
      }
      this.host.arrive(from, to, msg);
    });
  }

  /** The connection from→to breaks: what is in flight on it is lost. */
  reset(from: string, to: string): void {
    for (const f of this.channel(from, to).inFlight) f.lost = true;
  }

  /** `node` crashed at now: of what it had in flight, what it sent before a random cutoff still arrives. */
  crash(node: string): void {
    const now = this.host.nowMs();
    for (const [key, c] of this.channels) {
      const [from, to] = key.split('>') as [string, string];
      if (to === node) for (const f of c.inFlight) f.lost = true;
      if (from !== node) continue;
      c.pending.length = 0;
      const cutoffMs = now - randomIntBetween(this.rng, 0, this.options.latencyMaxMs);
      for (const f of c.inFlight) if (f.sentAtMs > cutoffMs) f.lost = true;
    }
  }

  addPartition(id: number, side: readonly string[]): void {
    const p: Partition = { side: new Set(side) };
    this.partitions.set(id, p);
    // What is in flight across it waits too, ahead of what is sent later.
    for (const [key, c] of this.channels) {
      const [from, to] = key.split('>') as [string, string];
      if (p.side.has(from) === p.side.has(to)) continue;
      for (const f of c.inFlight) {
        if (f.lost || f.held) continue;
        f.held = true;
        this.hold(c, f.msg);
      }
    }
  }

  /** The partition heals: what senders held across it goes out, in order (a new connection each). */
  removePartition(id: number): void {
    this.partitions.delete(id);
    for (const [key, c] of this.channels) {
      if (c.pending.length === 0) continue;
      const [from, to] = key.split('>') as [string, string];
      if (this.cut(from, to) || !this.host.isAlive(from)) continue;
      for (const m of c.pending.splice(0)) this.transmit(from, to, c, m);
    }
  }
}
