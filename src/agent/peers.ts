import { connect, type Connection, type MessageSchema, type WireLogger } from '../wire/index.js';
import type { z } from 'zod';

/** Where a peer listens. */
export interface Endpoint {
  host: string;
  port: number;
}

/** Messages held for a peer while its link is being opened; past this they are dropped. */
export const PENDING_MESSAGES_MAX = 1024;
/** A link counts as writable again below this many unsent bytes (the overflow bound is 8 MiB). */
export const WRITABLE_BYTES_LOW = 1024 * 1024;
const WRITABLE_POLL_MS = 2;
/** A producer never waits longer than this for one link; past it the link is as good as dead. */
const WRITABLE_WAIT_MS_MAX = 30_000;
/** After a failed connect, wait before the next try (doubling up to the max). */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;

interface Link<T> {
  conn: Connection<T> | null;
  connecting: boolean;
  pending: T[];
  retryAtMs: number;
  backoffMs: number;
  /** A retry timer is set: one per link, however many sends wait for it. */
  retryTimer: NodeJS.Timeout | null;
}

export interface PeerLinksOptions<T> {
  name: string;
  secret: string;
  schema: MessageSchema<T>;
  logger: WireLogger;
  resolve: (peer: string) => Endpoint | null;
  /** Messages a peer sends back on a link this node opened. */
  onMessage: (from: string, msg: T) => void;
  /**
   * Replies that go back on the link their request came in on (see replyVia), not on a link of
   * this node's own. A Worker's heartbeat thread opens the link its heartbeats travel on, so its
   * acks reach that thread directly instead of the Worker's listener in the main thread (which
   * woke both threads for every ack, 2 of a Worker process's ~20 wake-ups a second).
   */
  isReply?: (msg: T) => boolean;
}

/**
 * Outgoing links to peers, opened on first use and reopened after a failure (with backoff).
 * Sending never blocks: a message waits in a bounded queue while its link opens, and is dropped
 * (with a debug log) when the peer is unreachable — the protocols above tolerate loss.
 */
export class PeerLinks<T> {
  private readonly links = new Map<string, Link<T>>();
  /** Per peer, the incoming link its latest request came on (one per peer: bounded by the peers a listener accepts). */
  private readonly replyLinks = new Map<string, Connection<T>>();
  private closed = false;

  constructor(private readonly opts: PeerLinksOptions<T>) {}

  /** Replies to `peer` (isReply) go on `conn`, a link the peer opened, while it is open. */
  replyVia(peer: string, conn: Connection<T>): void {
    if (!this.closed) this.replyLinks.set(peer, conn);
  }

  /** The peer's link `conn` closed: its replies go on this node's own link again. */
  forgetReplyLink(peer: string, conn: Connection<T>): void {
    if (this.replyLinks.get(peer) === conn) this.replyLinks.delete(peer);
  }

  send(to: string, msg: T): boolean {
    if (this.closed) return false;
    if (this.opts.isReply?.(msg)) {
      const back = this.replyLinks.get(to);
      if (back?.isOpen) return back.send(msg);
    }
    let link = this.links.get(to);
    if (!link) {
      link = { conn: null, connecting: false, pending: [], retryAtMs: 0, backoffMs: RETRY_MIN_MS, retryTimer: null };
      this.links.set(to, link);
    }
    if (link.conn?.isOpen) return link.conn.send(msg);
    if (link.pending.length >= PENDING_MESSAGES_MAX) link.pending.shift();
    link.pending.push(msg);
    this.open(to, link);
    return true;
  }

  /**
   * Resolves once the link to `to` has room again (open with its unsent bytes below
   * WRITABLE_BYTES_LOW), or is not even trying to open (failed, waiting to retry). Stream producers await this after
   * each send, so back-pressure from a slow peer reaches them instead of overflowing the link.
   */
  async whenWritable(to: string): Promise<void> {
    for (let waited = 0; waited < WRITABLE_WAIT_MS_MAX; waited += WRITABLE_POLL_MS) {
      const link = this.links.get(to);
      if (!link || this.closed) return;
      // A link waiting to retry is not waited for: its peer may be dead. What is sent meanwhile
      // waits in the bounded pending queue; the run protocols resend what a gap shows was lost.
      if (!link.conn?.isOpen) {
        if (!link.connecting) return;
      } else if (link.conn.outgoingBytes < WRITABLE_BYTES_LOW) return;
      await new Promise((r) => setTimeout(r, WRITABLE_POLL_MS));
    }
  }

  /** True when a link to the peer is open now. */
  isConnected(to: string): boolean {
    return this.links.get(to)?.conn?.isOpen ?? false;
  }

  private retryLater(to: string, link: Link<T>, delayMs: number): void {
    if (link.retryTimer || link.pending.length === 0) return;
    link.retryTimer = setTimeout(() => {
      link.retryTimer = null;
      this.open(to, link);
    }, Math.max(0, delayMs));
    link.retryTimer.unref();
  }

  private open(to: string, link: Link<T>): void {
    if (link.connecting) return;
    if (Date.now() < link.retryAtMs) return this.retryLater(to, link, link.retryAtMs - Date.now());
    const ep = this.opts.resolve(to);
    if (!ep) {
      this.opts.logger.debug({ peer: to }, 'no address for peer; dropping messages');
      link.pending = [];
      return;
    }
    link.connecting = true;
    connect<T>({ host: ep.host, port: ep.port, secret: this.opts.secret, name: this.opts.name, schema: this.opts.schema, logger: this.opts.logger, expectedPeerName: to })
      .then((conn) => {
        link.connecting = false;
        if (this.closed) return conn.close();
        link.conn = conn;
        link.backoffMs = RETRY_MIN_MS;
        for (const m of link.pending.splice(0)) conn.send(m);
        void this.read(to, conn, link);
      })
      .catch((err: Error) => {
        link.connecting = false;
        link.retryAtMs = Date.now() + link.backoffMs;
        link.backoffMs = Math.min(RETRY_MAX_MS, link.backoffMs * 2);
        this.opts.logger.debug({ peer: to, err: err.message }, 'connect failed');
        // Old messages are worth little (heartbeats are periodic); keep only the newest few.
        if (link.pending.length > 16) link.pending.splice(0, link.pending.length - 16);
        this.retryLater(to, link, link.backoffMs);
      });
  }

  private async read(from: string, conn: Connection<T>, link: Link<T>): Promise<void> {
    for await (const msg of conn) this.opts.onMessage(from, msg);
    if (link.conn === conn) link.conn = null;
  }

  close(): void {
    this.closed = true;
    for (const l of this.links.values()) {
      l.conn?.close();
      if (l.retryTimer) clearTimeout(l.retryTimer);
    }
    this.links.clear();
    this.replyLinks.clear();
  }
}
