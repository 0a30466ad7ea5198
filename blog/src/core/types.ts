// The blog platform's vocabulary: entities, the hybrid logical clock, every server-to-server
// message, and the events/actions of the two pure cores (L1 = continent, L2 = country).
// Everything that crosses a process boundary is defined here, once; drivers validate at the edge.

/** A server's id in the world file, e.g. "l1-europe" or "l2-fr-1". */
export type ServerId = string;

// ---------------------------------------------------------------------------------------------
// Hybrid logical clock

/**
 * Hybrid logical clock timestamp. Total order: wallMs, then logical, then origin (string order).
 * Only L1s stamp changes (an L2 never commits anything), so `origin` is always an L1's id.
 */
export interface Hlc {
  readonly wallMs: number;
  readonly logical: number;
  readonly origin: ServerId;
}

// ---------------------------------------------------------------------------------------------
// Entities (state-based: every change carries the entity's whole new state)

export interface User {
  readonly id: string; // "u.<requestId of the registration>"
  readonly name: string;
  readonly country: string; // ISO-ish country code of the writer's home, scopes L2 catch-up
  readonly publicationId: string; // the writer's personal publication
  readonly createdMs: number;
}

export interface Publication {
  readonly id: string; // "p.<requestId of the registration>"
  readonly ownerId: string;
  readonly ownerCountry: string;
  /** The slug asked for at registration; never changes. The effective slug may differ (see store). */
  readonly slug: string;
  readonly title: string;
  /** The HLC of the claim; decides which of two same-slug publications keeps the bare slug. */
  readonly claimHlc: Hlc;
}

export interface Blog {
  readonly id: string; // "b.<requestId of the create>"
  readonly authorId: string;
  readonly authorCountry: string;
  readonly publicationId: string;
  readonly title: string;
  readonly body: string;
  /** Image references (URLs of stored images); video is refused at validation. */
  readonly imageRefs: readonly string[];
  readonly createdMs: number;
  readonly updatedMs: number;
}

/** A deleted blog. A tombstone beats every version of the blog, whatever its HLC (delete wins). */
export interface Tombstone {
  readonly blogId: string;
  readonly authorId: string;
  readonly authorCountry: string;
  readonly publicationId: string;
  readonly deletedMs: number;
}

/** One replicated change: an entity's full new state, stamped by the L1 that committed it. */
export type Change =
  | { readonly kind: 'user'; readonly hlc: Hlc; readonly user: User }
  | { readonly kind: 'publication'; readonly hlc: Hlc; readonly publication: Publication }
  | { readonly kind: 'blog'; readonly hlc: Hlc; readonly blog: Blog }
  | { readonly kind: 'tombstone'; readonly hlc: Hlc; readonly tombstone: Tombstone };

/** "user:<id>", "pub:<id>" or "blog:<id>" (a blog and its tombstone share the key). */
export type EntityKey = string;

/** A change as held in a store's log, with the store's local log position. */
export interface LoggedChange {
  readonly seq: number;
  readonly change: Change;
}

/** "This key changed to this HLC" without the body: catch-up sends these for out-of-scope keys. */
export interface StaleNotice {
  readonly key: EntityKey;
  readonly hlc: Hlc;
}

// ---------------------------------------------------------------------------------------------
// Errors with stable codes

export type ErrorCode =
  | 'BAD_REQUEST' // malformed or out-of-bounds field
  | 'BODY_TOO_LARGE' // blog body over bodyBytesMax
  | 'VIDEO_NOT_ALLOWED' // an image reference names a video
  | 'UNKNOWN_USER' // the acting user is not known to this continent (yet)
  | 'NOT_FOUND' // no such blog/user/publication in this view
  | 'NOT_AUTHOR' // update/delete by someone other than the author
  | 'DELETED' // the blog has been deleted (a tombstone exists)
  | 'SLUG_TAKEN' // the publication slug is already claimed in this continent's view
  | 'REQUEST_ID_CONFLICT' // a requestId reused for a different entity/author
  | 'L1_UNREACHABLE' // an L2 refuses writes: its continent server does not answer
  | 'CONTINENT_UNREACHABLE' // a read missed locally and the continent server does not answer
  | 'L1_TIMEOUT' // the continent server did not answer in time: the write MAY have committed; retry with the same requestId
  | 'OVERLOADED' // a bounded queue is full
  | 'CLOCK_SKEW' // a remote HLC is further ahead of local wall time than skewMaxMs
  | 'NOT_PERMITTED'; // a message from a server that may not send it

export interface ErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
}

export class BlogError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BlogError';
  }
}

// ---------------------------------------------------------------------------------------------
// Client requests (to an L2) and replies

export type WriteOp =
  | { readonly op: 'register'; readonly name: string; readonly country: string; readonly slug: string; readonly publicationTitle: string }
  | { readonly op: 'create-blog'; readonly title: string; readonly body: string; readonly imageRefs: readonly string[] }
  | { readonly op: 'update-blog'; readonly blogId: string; readonly title: string; readonly body: string; readonly imageRefs: readonly string[] }
  | { readonly op: 'delete-blog'; readonly blogId: string };

/** A write as the client sends it; `userId` is the authenticated acting user (absent for register). */
export interface WriteRequest {
  readonly requestId: string; // client-chosen, 8..64 of [A-Za-z0-9_-]; a retry reuses it
  readonly userId: string | null;
  readonly write: WriteOp;
}

export type ReadRequest =
  | { readonly op: 'get-blog'; readonly blogId: string }
  | { readonly op: 'get-profile'; readonly userId: string }
  | { readonly op: 'get-publication'; readonly slug: string }
  | { readonly op: 'list-recent'; readonly limit: number }
  | { readonly op: 'list-by-author'; readonly userId: string; readonly limit: number }
  | { readonly op: 'list-by-publication'; readonly publicationId: string; readonly limit: number }
  | { readonly op: 'search'; readonly text: string; readonly limit: number };

export type ClientRequest =
  | { readonly kind: 'write'; readonly request: WriteRequest }
  | { readonly kind: 'read'; readonly request: ReadRequest };

export type ReadSource = 'cache' | 'store' | 'l1';

export type ClientReply =
  | { readonly ok: true; readonly kind: 'written'; readonly changes: readonly Change[] }
  | { readonly ok: true; readonly kind: 'blog'; readonly blog: Blog; readonly source: ReadSource }
  | { readonly ok: true; readonly kind: 'profile'; readonly user: User; readonly blogCount: number; readonly source: ReadSource }
  | { readonly ok: true; readonly kind: 'publication'; readonly publication: Publication; readonly effectiveSlug: string }
  | { readonly ok: true; readonly kind: 'blogs'; readonly blogs: readonly Blog[] }
  | { readonly ok: false; readonly error: ErrorInfo };

// ---------------------------------------------------------------------------------------------
// Server-to-server messages (one union; the edge checks the shared secret and the sender's role)

/** L2 -> its L1 */
export type L2ToL1 =
  | { readonly type: 'write'; readonly corrId: number; readonly request: WriteRequest }
  | { readonly type: 'fetch'; readonly corrId: number; readonly key: EntityKey }
  | { readonly type: 'heartbeat'; readonly syncedSeq: number; readonly reads: readonly ReadCount[] }
  | {
      readonly type: 'catchup-request';
      readonly corrId: number;
      readonly phase: 'log' | 'most-read';
      readonly afterSeq: number;
      readonly country: string;
      /** Full changes still allowed in this catch-up (the L2 counts down; bounds the transfer). */
      readonly fullChangesLeft: number;
      /** Keys the L2 holds in an older version (from notices): send them in full. */
      readonly wantKeys: readonly EntityKey[];
    };

/** L1 -> one of its L2s */
export type L1ToL2 =
  /** The write is committed at the L1 (a registration commits two changes: user and publication). */
  | { readonly type: 'write-ack'; readonly corrId: number; readonly changes: readonly Change[] }
  | { readonly type: 'write-refuse'; readonly corrId: number; readonly error: ErrorInfo }
  | { readonly type: 'fetch-reply'; readonly corrId: number; readonly key: EntityKey; readonly change: Change | null }
  | { readonly type: 'heartbeat-ack'; readonly headSeq: number }
  /** Changes the L1 applied at log positions (afterSeq, toSeq]; contiguous, so a gap is visible. */
  | { readonly type: 'push'; readonly afterSeq: number; readonly toSeq: number; readonly changes: readonly Change[] }
  | {
      readonly type: 'catchup-page';
      readonly corrId: number;
      readonly phase: 'log' | 'most-read';
      readonly afterSeq: number;
      readonly toSeq: number;
      readonly changes: readonly Change[];
      readonly notices: readonly StaleNotice[];
      readonly done: boolean;
    };

/** L1 <-> L1 */
export type L1ToL1 =
  | {
      readonly type: 'batch';
      readonly batchId: number;
      /**
       * The HLC of the sender's own change that left its outbox for this peer just before this
       * batch's first (or, for a process's first batch, the highest HLC in its store then): every
       * change the sender stamped after `after`, up to this batch's last, is in this batch, so the
       * receiver can extend what it knows it holds from the sender (see `SyncKnown`). Absent: no
       * claim (an older peer, a forged test message).
       */
      readonly after?: Hlc;
      readonly changes: readonly Change[];
    }
  | { readonly type: 'batch-ack'; readonly batchId: number }
  | { readonly type: 'batch-refuse'; readonly batchId: number; readonly error: ErrorInfo }
  /**
   * "Send me what you applied after your log position afterSeq" (afterSeq = my checkpoint for you),
   * "except my own changes and what `known` says I already hold".
   */
  | {
      readonly type: 'sync-request';
      readonly round: number;
      readonly afterSeq: number;
      readonly pageChangesMax: number;
      readonly known?: readonly SyncKnown[];
    }
  | {
      readonly type: 'sync-page';
      readonly round: number;
      readonly afterSeq: number;
      /** The last log position examined (entries skipped as already held count as examined). */
      readonly toSeq: number;
      readonly changes: readonly Change[];
      readonly done: boolean;
      /**
       * On the last page only: the sender's clock. Every change it ever stamped is, by then, in
       * its log up to toSeq or replaced there, so the requester holds them all (or their winners).
       */
      readonly covered?: Hlc;
    };

/**
 * "I hold every change `origin` stamped with an HLC <= `hlc` that `origin` still holds, or a
 * change that beats it": learnt from contiguous batches and from completed sync pulls.
 */
export interface SyncKnown {
  readonly origin: ServerId;
  readonly hlc: Hlc;
}

export type Message = L2ToL1 | L1ToL2 | L1ToL1;
export type MessageType = Message['type'];

export interface ReadCount {
  readonly blogId: string;
  readonly count: number;
}

// ---------------------------------------------------------------------------------------------
// Core events and actions

export type L1Timer =
  | { readonly kind: 'batch-flush'; readonly peer: ServerId }
  | { readonly kind: 'batch-retry'; readonly peer: ServerId; readonly batchId: number }
  | { readonly kind: 'sync-round' }
  | { readonly kind: 'sync-page-timeout'; readonly peer: ServerId };

export type L2Timer =
  | { readonly kind: 'heartbeat' }
  | { readonly kind: 'request-timeout'; readonly corrId: number }
  | { readonly kind: 'catchup-timeout'; readonly corrId: number };

export type CoreTimer = L1Timer | L2Timer;

export type L1Event =
  | { readonly type: 'start' }
  | { readonly type: 'message'; readonly from: ServerId; readonly msg: L2ToL1 | L1ToL1 }
  | { readonly type: 'timer'; readonly timer: L1Timer };

export type L2Event =
  | { readonly type: 'start' }
  | { readonly type: 'client'; readonly clientReqId: number; readonly request: ClientRequest }
  | { readonly type: 'message'; readonly from: ServerId; readonly msg: L1ToL2 }
  | { readonly type: 'timer'; readonly timer: L2Timer };

/** Numbers the driver turns into Prometheus metrics; the cores never touch prom-client. */
export type MetricEvent =
  | { readonly name: 'changes_committed'; readonly count: number }
  | { readonly name: 'changes_propagated'; readonly peer: ServerId; readonly count: number }
  | { readonly name: 'batch_sent'; readonly peer: ServerId; readonly changes: number }
  | { readonly name: 'batch_dropped'; readonly peer: ServerId; readonly changes: number }
  | { readonly name: 'sync_page'; readonly peer: ServerId; readonly changes: number }
  | { readonly name: 'sync_round_done'; readonly peer: ServerId }
  | { readonly name: 'replication_lag_ms'; readonly peer: ServerId; readonly lagMs: number }
  | { readonly name: 'cache_hit' }
  | { readonly name: 'cache_miss' }
  | { readonly name: 'catchup_page'; readonly changes: number; readonly notices: number }
  | { readonly name: 'refused'; readonly code: ErrorCode };

export type Action =
  | { readonly type: 'send'; readonly to: ServerId; readonly msg: Message }
  | { readonly type: 'reply'; readonly clientReqId: number; readonly reply: ClientReply }
  /** Arm (or re-arm: same timerKey replaces) a timer that fires at local wall time atMs. */
  | { readonly type: 'set-timer'; readonly timer: CoreTimer; readonly atMs: number }
  | { readonly type: 'cancel-timer'; readonly timer: CoreTimer }
  | { readonly type: 'metric'; readonly metric: MetricEvent }
  /** Something an operator should see (the driver logs it with pino). */
  | { readonly type: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly code: string; readonly message: string };

/** The identity of a timer: a set-timer with the same key replaces the pending one. */
export function timerKey(timer: CoreTimer): string {
  switch (timer.kind) {
    case 'batch-flush':
    case 'sync-page-timeout':
      return `${timer.kind}:${timer.peer}`;
    case 'batch-retry':
      return `${timer.kind}:${timer.peer}:${timer.batchId}`;
    case 'sync-round':
    case 'heartbeat':
      return timer.kind;
    case 'request-timeout':
    case 'catchup-timeout':
      return `${timer.kind}:${timer.corrId}`;
    default:
      return assertNever(timer);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}

export function entityKey(change: Change): EntityKey {
  switch (change.kind) {
    case 'user':
      return `user:${change.user.id}`;
    case 'publication':
      return `pub:${change.publication.id}`;
    case 'blog':
      return `blog:${change.blog.id}`;
    case 'tombstone':
      return `blog:${change.tombstone.blogId}`;
    default:
      return assertNever(change);
  }
}

/** The home country of whoever wrote the change: scopes an L2's catch-up to its region. */
export function changeCountry(change: Change): string {
  switch (change.kind) {
    case 'user':
      return change.user.country;
    case 'publication':
      return change.publication.ownerCountry;
    case 'blog':
      return change.blog.authorCountry;
    case 'tombstone':
      return change.tombstone.authorCountry;
    default:
      return assertNever(change);
  }
}

/**
 * First id of a process's correlation/batch ids: ms since the epoch x 1000, so ids of a restarted
 * process start past every id the previous one used (unless it used over 1,000 per ms of its life).
 */
export function idBase(nowMs: number): number {
  return Math.max(1, Math.floor(nowMs)) * 1000;
}
