import {
  ANSWER_BYTES_MAX,
  ANSWER_ITEMS_MAX,
  ReplicaItemSchema,
  type JudgeReplicaMessage,
  type ReplicaItem,
  type ReplicaTestResult,
} from './replica-messages.js';

/**
 * Both sides of the standby's copy of the judge's submissions and batches (replica-messages.ts
 * says why it is a pulled journal). No timers or sockets here: the failover service calls tick()
 * on its timer and hands messages in.
 */

/** An entry of the Gateway's journal: a reference to something immutable the judge holds. */
export type JournalEntry =
  | { seq: number; kind: 'sub'; id: string }
  | { seq: number; kind: 'batch'; id: string }
  | { seq: number; kind: 'test'; id: string; index: number; withCompile: boolean };

type NewEntry = { kind: 'sub'; id: string } | { kind: 'batch'; id: string } | { kind: 'test'; id: string; index: number; withCompile: boolean };

/**
 * The serving Gateway's side: a numbered list of entries; what an entry names is read from the
 * judge when an answer is built (it never changes once journaled). Entries of submissions and
 * batches the judge dropped are skipped, and compacted away once they are most of the list, so the
 * journal is bounded by what the judge holds (its own bounds: service.ts JUDGE_BOUNDS).
 */
export class JudgeJournal {
  private entries: JournalEntry[] = [];
  private seq = 0;
  private dead = 0;

  constructor(readonly gen: string) {}

  get lastSeq(): number {
    return this.seq;
  }

  get length(): number {
    return this.entries.length;
  }

  append(e: NewEntry): void {
    this.entries.push({ ...e, seq: ++this.seq } as JournalEntry);
  }

  /** The judge dropped `count` entries' subjects; compact once they are over half the list. */
  forgot(count: number, alive: (e: JournalEntry) => boolean): void {
    this.dead += count;
    if (this.dead > 1_000 && this.dead * 2 > this.entries.length) {
      this.entries = this.entries.filter(alive);
      this.dead = 0;
    }
  }

  /**
   * The answer to a standby's ask: entries after its position (all of them if its copy is of
   * another journal), as items `build` makes of them (null: dropped meanwhile, skipped), until
   * ANSWER_BYTES_MAX of JSON or ANSWER_ITEMS_MAX items. An item the wire schema would refuse is
   * skipped rather than sent: a refused frame closes the link, which also carries the heartbeats.
   */
  answer(self: string, ask: Extract<JudgeReplicaMessage, { type: 'judge_log_ask' }>, build: (e: JournalEntry) => ReplicaItem | null): { message: Extract<JudgeReplicaMessage, { type: 'judge_log' }>; refused: number } {
    const reset = ask.gen !== this.gen || ask.after > this.seq;
    const after = reset ? 0 : ask.after;
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.entries[mid] as JournalEntry).seq <= after) lo = mid + 1;
      else hi = mid;
    }
    const items: ReplicaItem[] = [];
    let bytes = 0;
    let upto = this.seq;
    let more = false;
    let refused = 0;
    for (let k = lo; k < this.entries.length; k++) {
      const e = this.entries[k] as JournalEntry;
      const item = build(e);
      if (item) {
        if (!ReplicaItemSchema.safeParse(item).success) {
          refused++;
          continue;
        }
        const size = Buffer.byteLength(JSON.stringify(item));
        if (items.length > 0 && (bytes + size > ANSWER_BYTES_MAX || items.length >= ANSWER_ITEMS_MAX)) {
          upto = (this.entries[k - 1] as JournalEntry).seq;
          more = true;
          break;
        }
        items.push(item);
        bytes += size;
      }
    }
    return { message: { type: 'judge_log', from: self, gen: this.gen, reset, after, upto, more, items }, refused };
  }
}

/** What the standby keeps of one submission. */
export interface ReplicaSubmission {
  spec: Extract<ReplicaItem, { kind: 'sub' }>;
  results: Map<number, ReplicaTestResult>;
  compiles: number;
  compileOutput: string;
  finishedAt: string | null;
  bytes: number;
}

export interface ReplicaBounds {
  /** Submissions held (finished and not). */
  submissionsMax: number;
  /** Bytes of their files together. */
  filesBytesMax: number;
  batchesMax: number;
}

/** An ask that got no answer this long is sent again (the Gateway died, or the answer was lost). */
export const ASK_TIMEOUT_MS = 5_000;

/**
 * The standby's side: a copy of the Gateway's journal, applied as it arrives, bounded as the
 * Gateway's judge is. Over a bound (which a Gateway within its own bounds never reaches) the oldest
 * finished submissions go first; an item that still does not fit is dropped and counted — that
 * submission would not survive a failover, and the failover service logs it.
 */
export class JudgeReplica {
  private gen: string | null = null;
  private after = 0;
  private asked: { to: string; atMs: number } | null = null;
  readonly subs = new Map<string, ReplicaSubmission>();
  readonly batches = new Map<string, Extract<ReplicaItem, { kind: 'batch' }>>();
  private filesBytes = 0;
  /** Items dropped for want of room (tests, logs). */
  dropped = 0;
  /** Items applied (tests, logs). */
  applied = 0;

  constructor(
    private readonly self: string,
    private readonly send: (to: string, msg: JudgeReplicaMessage) => void,
    private readonly bounds: ReplicaBounds,
  ) {}

  /** Where the copy ends: the journal's identity and the last entry applied. */
  get position(): { gen: string | null; after: number } {
    return { gen: this.gen, after: this.after };
  }

  get bytes(): number {
    return this.filesBytes;
  }

  /** On the standby's timer: ask the Gateway (the epoch's holder) for what follows, one ask at a time. */
  tick(gateway: string | null, nowMs: number): void {
    if (!gateway || gateway === this.self) return;
    if (this.asked && this.asked.to === gateway && nowMs - this.asked.atMs < ASK_TIMEOUT_MS) return;
    this.ask(gateway, nowMs);
  }

  private ask(to: string, nowMs: number): void {
    this.asked = { to, atMs: nowMs };
    this.send(to, { type: 'judge_log_ask', from: this.self, gen: this.gen, after: this.after });
  }

  /** Forgets everything (no longer standby, or the copy was adopted by this node's own Gateway). */
  clear(): void {
    this.gen = null;
    this.after = 0;
    this.asked = null;
    this.subs.clear();
    this.batches.clear();
    this.filesBytes = 0;
  }

  /** An answer from `from`. Returns the problem ids its submissions need (the caller checks it has them). */
  receive(from: string, msg: Extract<JudgeReplicaMessage, { type: 'judge_log' }>, nowMs: number): string[] {
    if (!this.asked || this.asked.to !== from) return []; // not the Gateway asked: stale
    if (msg.reset) {
      const asked = this.asked;
      this.clear();
      this.asked = asked;
      this.gen = msg.gen;
    } else if (msg.gen !== this.gen || msg.after !== this.after) return []; // a duplicate or an old answer
    const problems = new Set<string>();
    for (const item of msg.items) {
      if (this.apply(item)) this.applied++;
      else this.dropped++;
      if (item.kind === 'sub') problems.add(item.problem_id);
    }
    this.after = msg.upto;
    this.asked = null;
    if (msg.more) this.ask(from, nowMs);
    return [...problems];
  }

  private apply(item: ReplicaItem): boolean {
    switch (item.kind) {
      case 'sub': {
        if (this.subs.has(item.id)) return true;
        const bytes = item.files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
        if (!this.makeRoom(bytes)) return false;
        this.subs.set(item.id, { spec: item, results: new Map(), compiles: 0, compileOutput: '', finishedAt: null, bytes });
        this.filesBytes += bytes;
        return true;
      }
      case 'batch': {
        if (this.batches.size >= this.bounds.batchesMax) {
          // The oldest batch whose submissions are all finished (or gone) makes room.
          const old = [...this.batches.values()].find((b) => b.subs.every((id) => this.finished(id)));
          if (!old) return false;
          this.batches.delete(old.id);
        }
        this.batches.set(item.id, item);
        return true;
      }
      case 'test': {
        const s = this.subs.get(item.sub);
        if (!s || item.index >= s.spec.tests) return false;
        s.results.set(item.index, item.result);
        s.compiles = Math.max(s.compiles, item.compiles);
        if (item.compile_output) s.compileOutput = item.compile_output;
        if (item.finished_at) s.finishedAt = item.finished_at;
        return true;
      }
      default: {
        const never: never = item;
        throw new Error(`unhandled ${JSON.stringify(never)}`);
      }
    }
  }

  private finished(id: string): boolean {
    const s = this.subs.get(id);
    return !s || s.results.size >= s.spec.tests;
  }

  /** Drops the oldest finished submissions until one more of `bytes` fits; false if it cannot. */
  private makeRoom(bytes: number): boolean {
    const fits = () => this.subs.size < this.bounds.submissionsMax && this.filesBytes + bytes <= this.bounds.filesBytesMax;
    if (fits()) return true;
    for (const [id, s] of this.subs) {
      if (s.results.size < s.spec.tests) continue;
      this.subs.delete(id);
      this.filesBytes -= s.bytes;
      if (fits()) return true;
    }
    return false;
  }
}
