// The shape of every server-to-server message, checked once at the edge (after the signature):
// a peer with the secret but a bug must not get malformed data into a core or a database. The
// content rules (lengths of titles, video refused...) are the cores' (core/validate.ts); this only
// checks types and bounds every array and string.
import { z } from 'zod';
import type { Message } from '../core/types.js';

/** No message carries more than this many changes, notices, keys or read counts. */
export const WIRE_ITEMS_MAX = 2_000;
const STR_MAX = 1_000;
/** A sync request's `known` has one entry per origin L1: seven in the design, a few more allowed. */
const KNOWN_ORIGINS_MAX = 64;
/** A blog body is bounded by the cores' content limits; this is only the wire's outer bound. */
const BODY_CHARS_MAX = 1_048_576;

const str = z.string().max(STR_MAX);
const int = z.number().int().safe();
const nat = int.min(0);
const hlc = z.strictObject({ wallMs: nat, logical: nat, origin: str });
const user = z.strictObject({ id: str, name: str, country: str, publicationId: str, createdMs: nat });
const publication = z.strictObject({ id: str, ownerId: str, ownerCountry: str, slug: str, title: str, claimHlc: hlc });
const blog = z.strictObject({
  id: str,
  authorId: str,
  authorCountry: str,
  publicationId: str,
  title: str,
  body: z.string().max(BODY_CHARS_MAX),
  imageRefs: z.array(str).max(100),
  createdMs: nat,
  updatedMs: nat,
});
const tombstone = z.strictObject({ blogId: str, authorId: str, authorCountry: str, publicationId: str, deletedMs: nat });
const change = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('user'), hlc, user }),
  z.strictObject({ kind: z.literal('publication'), hlc, publication }),
  z.strictObject({ kind: z.literal('blog'), hlc, blog }),
  z.strictObject({ kind: z.literal('tombstone'), hlc, tombstone }),
]);
const changes = z.array(change).max(WIRE_ITEMS_MAX);
const errorInfo = z.strictObject({ code: str, message: z.string().max(10_000) });
const writeOp = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('register'), name: str, country: str, slug: str, publicationTitle: str }),
  z.strictObject({ op: z.literal('create-blog'), title: str, body: z.string().max(BODY_CHARS_MAX), imageRefs: z.array(str).max(100) }),
  z.strictObject({ op: z.literal('update-blog'), blogId: str, title: str, body: z.string().max(BODY_CHARS_MAX), imageRefs: z.array(str).max(100) }),
  z.strictObject({ op: z.literal('delete-blog'), blogId: str }),
]);
const writeRequest = z.strictObject({ requestId: str, userId: str.nullable(), write: writeOp });
const phase = z.enum(['log', 'most-read']);

const messageSchema = z.discriminatedUnion('type', [
  // L2 -> L1
  z.strictObject({ type: z.literal('write'), corrId: nat, request: writeRequest }),
  z.strictObject({ type: z.literal('fetch'), corrId: nat, key: str }),
  z.strictObject({ type: z.literal('heartbeat'), syncedSeq: nat, reads: z.array(z.strictObject({ blogId: str, count: nat })).max(WIRE_ITEMS_MAX) }),
  z.strictObject({
    type: z.literal('catchup-request'),
    corrId: nat,
    phase,
    afterSeq: nat,
    country: str,
    fullChangesLeft: nat,
    wantKeys: z.array(str).max(WIRE_ITEMS_MAX),
  }),
  // L1 -> L2
  z.strictObject({ type: z.literal('write-ack'), corrId: nat, changes }),
  z.strictObject({ type: z.literal('write-refuse'), corrId: nat, error: errorInfo }),
  z.strictObject({ type: z.literal('fetch-reply'), corrId: nat, key: str, change: change.nullable() }),
  z.strictObject({ type: z.literal('heartbeat-ack'), headSeq: nat }),
  z.strictObject({ type: z.literal('push'), afterSeq: nat, toSeq: nat, changes }),
  z.strictObject({
    type: z.literal('catchup-page'),
    corrId: nat,
    phase,
    afterSeq: nat,
    toSeq: nat,
    changes,
    notices: z.array(z.strictObject({ key: str, hlc })).max(WIRE_ITEMS_MAX),
    done: z.boolean(),
  }),
  // L1 <-> L1
  z.strictObject({ type: z.literal('batch'), batchId: nat, after: hlc.optional(), changes }),
  z.strictObject({ type: z.literal('batch-ack'), batchId: nat }),
  z.strictObject({ type: z.literal('batch-refuse'), batchId: nat, error: errorInfo }),
  z.strictObject({
    type: z.literal('sync-request'),
    round: nat,
    afterSeq: nat,
    pageChangesMax: nat,
    known: z.array(z.strictObject({ origin: str, hlc })).max(KNOWN_ORIGINS_MAX).optional(),
  }),
  z.strictObject({ type: z.literal('sync-page'), round: nat, afterSeq: nat, toSeq: nat, changes, done: z.boolean(), covered: hlc.optional() }),
]);

/** One POST carries a few messages to one peer (its answers come back in the reply, same shape). */
export const envelopeSchema = z.strictObject({ messages: z.array(messageSchema).max(64) });
export const ENVELOPE_MESSAGES_MAX = 64;

export type WireCheck = { ok: true; messages: Message[] } | { ok: false; message: string };

export function parseEnvelope(raw: unknown): WireCheck {
  const r = envelopeSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    return { ok: false, message: `malformed server-to-server message at ${i?.path.join('.') ?? '?'}: ${i?.message ?? 'invalid'}` };
  }
  // The schema mirrors core/types.ts; error codes are checked as strings (a newer peer may know more).
  return { ok: true, messages: r.data.messages as unknown as Message[] };
}
