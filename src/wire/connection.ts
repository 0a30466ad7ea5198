import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { createCodec, type Codec, type MessageSchema } from './codec.js';
import { isWireError, WireError } from './errors.js';
import { assertFrameBound, encodeFrame, FRAME_BYTES_MAX_DEFAULT, FRAME_HEADER_BYTES, FrameDecoder } from './frame.js';

/** Bounds of one connection. Every buffer has one; what happens past it is stated beside it. */
export interface WireLimits {
  /** Largest frame payload either way; past it the connection closes (WIRE_TOO_LARGE). */
  frameBytesMax: number;
  /** Bytes queued for a peer that reads too slowly; past it the connection closes (WIRE_SEND_OVERFLOW). */
  outgoingBytesMax: number;
  /** Received messages not yet taken by the consumer; at the bound the socket pauses (TCP back-pressure). */
  inboxMessagesMax: number;
  /** TCP connect + TLS handshake; past it the attempt fails (WIRE_HANDSHAKE). */
  handshakeTimeoutMs: number;
  /** No byte either way for this long closes the link (WIRE_IDLE); callers keep links alive with heartbeats. */
  idleTimeoutMs: number;
  /** How long close() lets the peer take our last bytes before the socket is destroyed. */
  closeGraceMs: number;
  /** Open connections a listener holds, handshakes included; further ones are dropped and logged. */
  connectionsMax: number;
}

export const WIRE_LIMITS_DEFAULT: Readonly<WireLimits> = Object.freeze({
  frameBytesMax: FRAME_BYTES_MAX_DEFAULT,
  outgoingBytesMax: 8 * 1024 * 1024, // 8 frames of the largest size, or seconds of a run's output
  inboxMessagesMax: 1024, // a consumer this far behind should slow the peer, not grow our heap
  handshakeTimeoutMs: 5_000, // a LAN handshake takes milliseconds; a stalled one must not hold a slot
  idleTimeoutMs: 30_000, // 60 heartbeat intervals of 500 ms: only a dead or wedged peer is this quiet
  closeGraceMs: 2_000, // enough to flush a few MiB on a LAN; a peer that will not read is cut off
  connectionsMax: 1_024, // a Monitor hears ~100 nodes of a lab; ten times that is an attack
});

export function resolveLimits(partial: Partial<WireLimits> = {}): WireLimits {
  const limits = { ...WIRE_LIMITS_DEFAULT, ...partial };
  assertFrameBound(limits.frameBytesMax);
  for (const [key, value] of Object.entries(limits)) {
    assert.ok(Number.isInteger(value) && value > 0, `wire limit ${key} must be a positive integer, got ${value}`);
  }
  // Else the largest legal frame could never be sent.
  assert.ok(limits.outgoingBytesMax >= limits.frameBytesMax + FRAME_HEADER_BYTES, 'outgoingBytesMax must hold one whole frame');
  return limits;
}

/** Fields pino (or any structured logger) accepts; injected so the wire never picks a log sink. */
export interface WireLogger {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface ConnectionOptions<T> {
  socket: TLSSocket;
  peerName: string;
  schema: MessageSchema<T>;
  limits: WireLimits;
  logger: WireLogger;
}

/**
 * One authenticated link to a peer. Messages arrive through the async iterator, in order, each
 * validated; the iterator ends when the link closes, and `closed` says why (null: closed cleanly).
 * Any protocol error closes this link only, after a warning in the log.
 */
export class Connection<T> implements AsyncIterable<T> {
  readonly peerName: string;
  readonly remoteAddress: string;
  /** Resolves once the socket is gone: null after a clean close, else the error that closed it. */
  readonly closed: Promise<WireError | null>;

  private readonly socket: TLSSocket;
  private readonly codec: Codec<T>;
  private readonly decoder: FrameDecoder;
  private readonly limits: WireLimits;
  private readonly logger: WireLogger;
  private readonly inbox: T[] = [];
  private waiter: (() => void) | null = null;
  /** undefined while open; set once, by the first close or failure. */
  private closeReason: WireError | null | undefined = undefined;
  private finished = false;
  private resolveClosed: (reason: WireError | null) => void = () => {};

  constructor(options: ConnectionOptions<T>) {
    this.socket = options.socket;
    this.peerName = options.peerName;
    this.remoteAddress = `${options.socket.remoteAddress ?? '?'}:${options.socket.remotePort ?? '?'}`;
    this.limits = options.limits;
    this.logger = options.logger;
    this.codec = createCodec(options.schema, { payloadBytesMax: options.limits.frameBytesMax });
    this.decoder = new FrameDecoder(options.limits.frameBytesMax);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.attach();
  }

  get isOpen(): boolean {
    return this.closeReason === undefined;
  }

  /** Messages received and not yet consumed; stays near inboxMessagesMax when the consumer lags. */
  get inboxMessages(): number {
    return this.inbox.length;
  }

  /** Bytes written but not yet taken by the kernel; callers may throttle on it. */
  get outgoingBytes(): number {
    return this.socket.writableLength;
  }

  /**
   * Queues msg for the peer. False when the link is closed, or has just been closed because the
   * peer stopped reading (see `closed`). Throws WireError for a message that fails the schema or
   * the frame bound: that is the caller's bug, and the link stays open.
   */
  send(msg: T): boolean {
    if (!this.isOpen) return false;
    const frame = encodeFrame(this.codec.encode(msg), this.limits.frameBytesMax);
    const queuedBytes = this.socket.writableLength + frame.length;
    if (queuedBytes > this.limits.outgoingBytesMax) {
      this.fail(overflowError(this.peerName, queuedBytes, this.limits.outgoingBytesMax));
      return false;
    }
    // Frames sent in one turn of the event loop (a relayed batch, acks, a reply and its copy) leave
    // as one TLS record and one system call: on a busy node that is most of a message's cost.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame);
    return true;
  }

  private corked = false;

  /** Closes cleanly: what was sent is flushed (within closeGraceMs), nothing more is delivered. */
  close(): void {
    if (!this.isOpen) return;
    this.closeReason = null;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), this.limits.closeGraceMs).unref();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const msg = await this.next();
      if (msg === undefined) return;
      yield msg.value;
    }
  }

  private async next(): Promise<{ value: T } | undefined> {
    while (this.inbox.length === 0) {
      if (this.finished || !this.isOpen) return undefined;
      assert.equal(this.waiter, null, 'a connection has one consumer');
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const value = this.inbox.shift() as T;
    if (this.socket.isPaused() && this.inbox.length <= this.limits.inboxMessagesMax / 2) this.socket.resume();
    return { value };
  }

  private attach(): void {
    this.socket.setTimeout(this.limits.idleTimeoutMs);
    // Frames are small and latency-bound (heartbeats, keystrokes, 1500-byte output chunks): no Nagle.
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('timeout', () => this.fail(idleError(this.peerName, this.limits.idleTimeoutMs)));
    this.socket.on('error', (err) => this.fail(socketError(this.peerName, err)));
    this.socket.on('close', () => this.finish());
  }

  private onData(chunk: Buffer): void {
    if (!this.isOpen) return;
    try {
      for (const frame of this.decoder.push(chunk)) this.deliver(this.codec.decode(frame));
    } catch (err) {
      if (!isWireError(err)) throw err;
      this.fail(err);
    }
  }

  private deliver(msg: T): void {
    this.inbox.push(msg);
    // One chunk may hold many frames, so the inbox can pass its bound by one chunk's worth.
    if (this.inbox.length >= this.limits.inboxMessagesMax) this.socket.pause();
    this.wake();
  }

  /** Closes at once on an error: a broken stream has nothing worth flushing. */
  private fail(err: WireError): void {
    if (!this.isOpen) return;
    this.closeReason = err;
    this.logger.warn({ peer: this.peerName, remote: this.remoteAddress, code: err.code }, `wire: ${err.oneLine()}`);
    this.socket.destroy();
    this.wake();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.closeReason === undefined) this.closeReason = null; // the peer closed: not an error here
    this.logger.debug({ peer: this.peerName, remote: this.remoteAddress }, 'wire: connection closed');
    this.resolveClosed(this.closeReason);
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}

function overflowError(peerName: string, queuedBytes: number, outgoingBytesMax: number): WireError {
  return new WireError(
    'WIRE_SEND_OVERFLOW',
    `peer ${peerName} is not reading: ${queuedBytes} bytes would be queued, the bound is ${outgoingBytesMax}`,
    'the peer is overloaded or wedged; it must reconnect',
  );
}

function idleError(peerName: string, idleTimeoutMs: number): WireError {
  return new WireError(
    'WIRE_IDLE',
    `no traffic from ${peerName} for ${idleTimeoutMs} ms`,
    'the peer is gone or wedged; send heartbeats to keep a quiet link open',
  );
}

function socketError(peerName: string, err: Error): WireError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
  const message = `connection to ${peerName} failed: ${code} ${err.message}`;
  return new WireError('WIRE_SOCKET', message, 'the peer or the network dropped the link', { cause: err });
}
