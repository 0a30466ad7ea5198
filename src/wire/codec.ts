import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { WireError } from './errors.js';
import { assertFrameBound, FRAME_BYTES_MAX_DEFAULT } from './frame.js';

// A frame's payload is the MessagePack of an envelope { v, seq, msg }. The transport is generic:
// the caller passes the zod schema of its messages, and a message is validated once, here, at the
// edge. Schemas must be transform-free (what is sent is what is parsed on the other side).

/** Bumped on any incompatible change of the envelope or of the message union. */
export const PROTOCOL_VERSION = 1;

/** seq starts here and grows by one per frame in each direction of a connection. */
export const SEQ_FIRST = 1;

export interface Envelope<T> {
  v: number;
  seq: number;
  msg: T;
}

/**
 * Plain MessagePack: no msgpackr records or bundled strings, which carry state between messages
 * and would tie every peer to msgpackr's extensions.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true, bundleStrings: false, moreTypes: false });

const ENVELOPE_KEYS = new Set(['v', 'seq', 'msg']);

/**
 * The envelope {v, seq, msg} checked by hand: it is checked on every frame of every link, and a
 * process whose messages are checked by hand too (a Worker's heartbeat thread) then loads no zod.
 * Returns what is wrong, or null.
 */
function envelopeProblem(x: unknown): string | null {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'not a map';
  for (const k of Object.keys(x)) if (!ENVELOPE_KEYS.has(k)) return `unknown field "${k}"`;
  const e = x as { v?: unknown; seq?: unknown };
  if (typeof e.v !== 'number') return 'v is not a number';
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < SEQ_FIRST) return `seq is not an integer from ${SEQ_FIRST}`;
  return null;
}

/**
 * One connection's codec: it numbers what it encodes and refuses what arrives out of sequence.
 * Make one per connection; the two directions have independent counters.
 */
export interface Codec<T> {
  /** Validates msg against the schema (a bad message is the sender's bug) and packs it. */
  encode(msg: T): Buffer;
  /** Unpacks, checks version and sequence, validates msg. Throws WireError. */
  decode(payload: Uint8Array): T;
}

export interface CodecOptions {
  /** Largest payload encode() may produce; match the frame bound so a frame never fails later. */
  payloadBytesMax?: number;
}

/**
 * Messages whose form on the wire differs from their form in memory (run output: many 1500-byte
 * chunks travel as one buffer and their sizes). The schema checks the wire form; fromWire gets
 * only what passed it.
 */
export interface WireForm<T> {
  schema: MessageCheck<unknown>;
  toWire(msg: T): unknown;
  fromWire(wire: unknown): T;
}

/** A zod issue's shape, as far as the codec reads it. */
export interface CheckIssue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

/**
 * What checks a message: a zod schema, or anything with the same safeParse (a Worker's heartbeat
 * thread checks its few messages by hand, so that it loads no zod).
 */
export interface MessageCheck<T> {
  safeParse(msg: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<CheckIssue> } };
}

/** What a codec checks messages with: a schema of the messages as they are, or a wire form. */
export type MessageSchema<T> = MessageCheck<T> | WireForm<T>;

function formOf<T>(schema: MessageSchema<T>): WireForm<T> {
  if ('toWire' in schema) return schema;
  return { schema, toWire: (msg) => msg, fromWire: (wire) => wire as T };
}

export function createCodec<T>(schema: MessageSchema<T>, options: CodecOptions = {}): Codec<T> {
  const form = formOf(schema);
  const payloadBytesMax = options.payloadBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
  assertFrameBound(payloadBytesMax);
  let sentSeq = SEQ_FIRST - 1;
  let receivedSeq = SEQ_FIRST - 1;
  return {
    encode(msg: T): Buffer {
      const parsed = validateMessage(form.schema, form.toWire(msg), 'outgoing');
      assert.ok(sentSeq < Number.MAX_SAFE_INTEGER, 'seq exhausted'); // 285 years at 1M frames/s
      const payload = packEnvelope({ v: PROTOCOL_VERSION, seq: sentSeq + 1, msg: parsed });
      // Checked before the seq is spent: a refused message must not leave a gap the peer sees.
      if (payload.length > payloadBytesMax) throw payloadTooLarge(payload.length, payloadBytesMax);
      sentSeq += 1;
      return payload;
    },
    decode(payload: Uint8Array): T {
      const envelope = unpackEnvelope(payload);
      checkSequence(envelope.seq, receivedSeq);
      receivedSeq = envelope.seq;
      return form.fromWire(validateMessage(form.schema, envelope.msg, 'incoming'));
    },
  };
}

/** Packs any envelope as is; exported so tests can play a peer of another version. */
export function packEnvelope(envelope: Envelope<unknown>): Buffer {
  return packr.pack(envelope);
}

/** Unpacks and checks the envelope's shape and version; msg is left unvalidated. */
export function unpackEnvelope(payload: Uint8Array): Envelope<unknown> {
  let decoded: unknown;
  try {
    decoded = packr.unpack(payload);
  } catch (err) {
    throw badFrame(`payload is not one MessagePack value (${(err as Error).message})`, err);
  }
  checkVersion(decoded);
  const problem = envelopeProblem(decoded);
  if (problem) throw badFrame(`payload is not an envelope {v, seq, msg}: ${problem}`);
  return decoded as Envelope<unknown>;
}

// Checked before the envelope's shape: a future version may reshape the envelope but keeps `v`,
// and its peer deserves "wrong version", not "bad frame".
function checkVersion(decoded: unknown): void {
  if (typeof decoded !== 'object' || decoded === null || !('v' in decoded)) return;
  const v = (decoded as { v: unknown }).v;
  if (typeof v !== 'number' || v === PROTOCOL_VERSION) return;
  throw new WireError(
    'WIRE_VERSION',
    `peer speaks wire protocol v${v}, this node speaks v${PROTOCOL_VERSION}`,
    'run the same CodeArena version on every lab PC',
  );
}

/** Strictly the next number: over one TLS stream a gap or a repeat can only be a bug or an attack. */
function checkSequence(seq: number, previousSeq: number): void {
  if (seq === previousSeq + 1) return;
  const what = seq <= previousSeq ? 'replayed or reordered' : 'out of order (a frame was lost or skipped)';
  throw new WireError(
    'WIRE_REPLAY',
    `frame seq ${seq} ${what}: expected ${previousSeq + 1}`,
    'the connection is closed; the peer must reconnect',
  );
}

function validateMessage<T>(schema: MessageCheck<T>, msg: unknown, direction: 'incoming' | 'outgoing'): T {
  const result = schema.safeParse(msg);
  if (result.success) return result.data;
  const hint =
    direction === 'incoming'
      ? 'the peer sent a message this node does not understand; check both run the same version'
      : 'this node tried to send a malformed message: a bug in the caller';
  throw new WireError('WIRE_INVALID', `${direction} message invalid: ${describeIssues(result.error)}`, hint);
}

/** "path: message" for the first few issues; enough to find the field without flooding a log line. */
function describeIssues(error: { issues: ReadonlyArray<CheckIssue> }): string {
  const ISSUES_SHOWN_MAX = 3;
  const shown = error.issues.slice(0, ISSUES_SHOWN_MAX).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  const more = error.issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

function payloadTooLarge(payloadBytes: number, payloadBytesMax: number): WireError {
  return new WireError(
    'WIRE_TOO_LARGE',
    `outgoing message of ${payloadBytes} bytes exceeds the frame bound of ${payloadBytesMax} bytes`,
    'split the message (output goes in chunks) or raise frameBytesMax on both sides',
  );
}

function badFrame(message: string, cause?: unknown): WireError {
  return new WireError('WIRE_BAD_FRAME', message, 'the peer is broken or not a CodeArena node; the connection is closed', {
    cause,
  });
}
