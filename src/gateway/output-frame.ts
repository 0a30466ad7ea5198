import type { StreamName } from '../protocol/output.js';

/**
 * Output as a binary WebSocket frame, for a client that asked for `binary_output`: a channel byte
 * (1 stdout, 2 stderr, 3 compile — stdout and stderr as in Kubernetes' exec streams), first_seq and
 * seq as 4-byte big-endian integers, then the bytes themselves. Every other message stays JSON text.
 * No base64 and no JSON on either side: the cheapest way to take a lot of output.
 */
export interface OutputFrame {
  stream: StreamName;
  firstSeq: number;
  seq: number;
  data: Buffer;
}
const CHANNELS = ['stdout', 'stderr', 'compile'] as const;
export const OUTPUT_FRAME_HEADER_BYTES = 9;

/** One frame of the consecutive chunks `parts` (first_seq..seq), copied once into it. */
export function encodeOutputFrame(f: Omit<OutputFrame, 'data'>, parts: Buffer[]): Buffer {
  const bytes = parts.reduce((n, p) => n + p.length, 0);
  const frame = Buffer.allocUnsafe(OUTPUT_FRAME_HEADER_BYTES + bytes);
  frame.writeUInt8(CHANNELS.indexOf(f.stream) + 1, 0);
  frame.writeUInt32BE(f.firstSeq, 1);
  frame.writeUInt32BE(f.seq, 5);
  let at = OUTPUT_FRAME_HEADER_BYTES;
  for (const p of parts) at += p.copy(frame, at);
  return frame;
}

/** The frame's fields (data is a view of it); null for a frame that is not one. */
export function decodeOutputFrame(frame: Buffer): OutputFrame | null {
  if (frame.length < OUTPUT_FRAME_HEADER_BYTES) return null;
  const stream = CHANNELS[frame.readUInt8(0) - 1];
  if (!stream) return null;
  const firstSeq = frame.readUInt32BE(1);
  const seq = frame.readUInt32BE(5);
  if (seq < firstSeq) return null;
  return { stream, firstSeq, seq, data: frame.subarray(OUTPUT_FRAME_HEADER_BYTES) };
}
