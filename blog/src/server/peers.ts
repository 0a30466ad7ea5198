// One outbound queue per peer. Messages to a peer leave in order, a few per POST; by default one POST
// is in flight per peer, so a push stream is not reordered by the transport. A link whose messages
// are independent requests (an L2's to its L1: writes, read misses, heartbeats) may keep a few POSTs
// in flight (`postsInFlightMax`), so a read miss does not wait behind another's round trip. The
// peer's answers come back in the HTTP reply. Delivery is best effort, as the cores expect: a failed POST drops its messages
// (the cores time out and retry, the sync repairs), and a full queue drops the newest message.
import type { Message, ServerId } from '../core/types.js';
import { LinkError, postLink } from './link.js';
import type { BlogMetrics } from './metrics.js';
import { parseEnvelope } from './wire.js';

/** Messages waiting for one peer; past it new ones are dropped (a peer that hangs must not eat memory). */
export const PEER_QUEUE_MESSAGES_MAX = 10_000;
/** Messages per POST. */
export const ENVELOPE_MESSAGES_MAX = 64;
/** Serialized bytes per POST (at least one message goes, whatever its size). */
export const ENVELOPE_BYTES_MAX = 8 * 1024 * 1024;
/** A link body or reply above this is refused (a sync page of 1000 changes of 64 KiB fits). */
export const LINK_BODY_BYTES_MAX = 96 * 1024 * 1024;
export const LINK_PATH = '/link';
/**
 * POSTs in flight on an L2's link to its L1 (its messages may overtake one another). Two, not more:
 * a miss need not wait behind a slow POST (a big write, a catch-up request), while each POST still
 * carries what queued meanwhile. Measured (bench/RESULTS.md): a miss is CPU-bound (~5 ms alone
 * here, mostly processing in three processes), and 4 or 8 in flight gave fewer misses/s, not more.
 */
export const L2_LINK_POSTS_IN_FLIGHT_MAX = 2;

export interface PeerLinkOptions {
  self: ServerId;
  peer: ServerId;
  baseUrl: string;
  secret: string;
  timeoutMs: number;
  ageMaxMs: number;
  metrics: BlogMetrics;
  /** Called for each message the peer answered with. */
  deliver: (from: ServerId, msg: Message) => void;
  warn: (code: string, message: string) => void;
  /** POSTs in flight at once (default 1: in order). Past it, messages wait in the bounded queue. */
  postsInFlightMax?: number;
}

export class PeerLink {
  private readonly queue: string[] = [];
  private inFlight = 0;
  private readonly inFlightMax: number;
  private closed = false;
  /** Last failure code, so a peer that is down is logged once, not once per message. */
  private lastError: string | null = null;

  constructor(private readonly o: PeerLinkOptions) {
    this.inFlightMax = o.postsInFlightMax ?? 1;
    if (!(Number.isInteger(this.inFlightMax) && this.inFlightMax >= 1 && this.inFlightMax <= 64)) {
      throw new Error(`postsInFlightMax must be an integer from 1 to 64, got ${o.postsInFlightMax}`);
    }
  }

  send(msg: Message): void {
    if (this.closed) return;
    if (this.queue.length >= PEER_QUEUE_MESSAGES_MAX) {
      this.o.metrics.linkDropped.inc({ peer: this.o.peer });
      return;
    }
    this.queue.push(JSON.stringify(msg));
    this.pump();
  }

  /** Nothing queued and nothing in flight: a message sent now by any route arrives after all earlier ones. */
  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  /** POSTs in flight now (for tests and the bound). */
  get postsInFlight(): number {
    return this.inFlight;
  }

  /** Starts POSTs while a slot is free; each takes what is queued then (up to an envelope). */
  private pump(): void {
    while (this.queue.length > 0 && !this.closed && this.inFlight < this.inFlightMax) {
      const parts: string[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && parts.length < ENVELOPE_MESSAGES_MAX) {
        const next = this.queue[0]!;
        if (parts.length > 0 && bytes + next.length > ENVELOPE_BYTES_MAX) break;
        parts.push(next);
        bytes += next.length;
        this.queue.shift();
      }
      this.inFlight++;
      void this.post(`{"messages":[${parts.join(',')}]}`).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async post(body: string): Promise<void> {
    let reply: unknown;
    try {
      const r = await postLink(
        {
          baseUrl: this.o.baseUrl,
          urlPath: LINK_PATH,
          from: this.o.self,
          to: this.o.peer,
          secret: this.o.secret,
          timeoutMs: this.o.timeoutMs,
          replyBytesMax: LINK_BODY_BYTES_MAX,
          ageMaxMs: this.o.ageMaxMs,
        },
        body,
      );
      reply = r.reply;
      this.o.metrics.linkBytesIn.inc({ peer: this.o.peer }, r.bytes);
    } catch (err) {
      const code = err instanceof LinkError ? err.code : 'LINK_FAILED';
      this.o.metrics.linkErrors.inc({ peer: this.o.peer, code });
      if (this.lastError !== code) this.o.warn(code, `link to ${this.o.peer}: ${(err as Error).message}`);
      this.lastError = code;
      return;
    }
    if (this.lastError !== null) this.o.warn('LINK_RESTORED', `link to ${this.o.peer} works again`);
    this.lastError = null;
    if (this.closed) return;
    const parsed = parseEnvelope(reply);
    if (!parsed.ok) {
      this.o.metrics.linkErrors.inc({ peer: this.o.peer, code: 'LINK_BAD_REPLY' });
      this.o.warn('LINK_BAD_REPLY', `reply from ${this.o.peer}: ${parsed.message}`);
      return;
    }
    for (const m of parsed.messages) this.o.deliver(this.o.peer, m);
  }
}
