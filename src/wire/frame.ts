import assert from 'node:assert/strict';
import { WireError } from './errors.js';

// A frame is a 4-byte big-endian payload length followed by the payload. The decoder below is a
// pure state machine fed bytes: it never touches a socket, so tests drive it with hex buffers.

export const FRAME_HEADER_BYTES = 4;

/**
 * Default bound on one frame's payload. Output travels in ≤1500-byte chunks and a run's source is
 * capped at 1 MiB, so 1 MiB holds any single message while keeping what one peer can make us
 * buffer small.
 */
export const FRAME_BYTES_MAX_DEFAULT = 1024 * 1024;

/** The most a caller may raise the bound to: the header could say 4 GiB, no message needs that. */
export const FRAME_BYTES_MAX_LIMIT = 64 * 1024 * 1024;

export function assertFrameBound(frameBytesMax: number): void {
  assert.ok(
    Number.isInteger(frameBytesMax) && frameBytesMax > 0 && frameBytesMax <= FRAME_BYTES_MAX_LIMIT,
    `frameBytesMax must be an integer in 1..${FRAME_BYTES_MAX_LIMIT}, got ${frameBytesMax}`,
  );
}

function tooLarge(lengthBytes: number, frameBytesMax: number, direction: 'in' | 'out'): WireError {
  const hint =
    direction === 'in'
      ? 'the peer is broken or hostile; the connection is closed'
      : 'split the message (output goes in chunks) or raise frameBytesMax on both sides';
  return new WireError(
    'WIRE_TOO_LARGE',
    `frame of ${lengthBytes} bytes exceeds the bound of ${frameBytesMax} bytes`,
    hint,
  );
}

/** Prefixes a payload with its length; refuses payloads over the bound so the peer never has to. */
export function encodeFrame(payload: Uint8Array, frameBytesMax = FRAME_BYTES_MAX_DEFAULT): Buffer {
  assertFrameBound(frameBytesMax);
  if (payload.length > frameBytesMax) throw tooLarge(payload.length, frameBytesMax, 'out');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Turns a byte stream into frames. Truncated input waits for more; a length over the bound fails
 * as soon as its 4 header bytes are seen, before a single byte of the body is kept. Body bytes are
 * kept as the slices that arrived, so a peer announcing 1 MiB and sending 1 byte costs us 1 byte.
 * After a failure the decoder stays failed: the stream has lost its framing for good.
 */
export class FrameDecoder {
  readonly frameBytesMax: number;
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilledBytes = 0;
  /** Length of the body being read; -1 while reading a header. */
  private bodyBytes = -1;
  private bodyParts: Buffer[] = [];
  private bodyFilledBytes = 0;
  private failure: WireError | null = null;

  constructor(frameBytesMax = FRAME_BYTES_MAX_DEFAULT) {
    assertFrameBound(frameBytesMax);
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes held for an incomplete frame (header included); never above frameBytesMax + 4. */
  get bufferedBytes(): number {
    return this.headerFilledBytes + this.bodyFilledBytes;
  }

  /** Feeds bytes; returns the frames they completed, in order. Throws WireError on a bad length. */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failure) throw this.failure;
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const frames: Buffer[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      offset = this.bodyBytes < 0 ? this.readHeader(bytes, offset, frames) : this.readBody(bytes, offset, frames);
    }
    return frames;
  }

  private readHeader(bytes: Buffer, offset: number, frames: Buffer[]): number {
    const take = Math.min(FRAME_HEADER_BYTES - this.headerFilledBytes, bytes.length - offset);
    bytes.copy(this.header, this.headerFilledBytes, offset, offset + take);
    this.headerFilledBytes += take;
    if (this.headerFilledBytes < FRAME_HEADER_BYTES) return offset + take;

    const length = this.header.readUInt32BE(0);
    this.headerFilledBytes = 0;
    if (length > this.frameBytesMax) {
      this.failure = tooLarge(length, this.frameBytesMax, 'in');
      throw this.failure;
    }
    this.bodyBytes = length;
    // An empty frame is complete the moment its header is: emit it now, not on the next push.
    if (length === 0) this.finishBody(frames);
    return offset + take;
  }

  private readBody(bytes: Buffer, offset: number, frames: Buffer[]): number {
    const take = Math.min(this.bodyBytes - this.bodyFilledBytes, bytes.length - offset);
    // Copy rather than slice: the caller may reuse its chunk's memory after push returns.
    this.bodyParts.push(Buffer.from(bytes.subarray(offset, offset + take)));
    this.bodyFilledBytes += take;
    if (this.bodyFilledBytes === this.bodyBytes) this.finishBody(frames);
    return offset + take;
  }

  private finishBody(frames: Buffer[]): void {
    const parts = this.bodyParts;
    frames.push(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, this.bodyBytes));
    this.bodyParts = [];
    this.bodyFilledBytes = 0;
    this.bodyBytes = -1;
  }
}
