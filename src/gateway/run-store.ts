import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RunStatusName, RunView, ServerMessage } from './api-types.js';
import type { AcceptedRun, BackendResult, OutputChunk, RunSink } from './backend.js';

/** Finished runs kept for GET and resume; the oldest finished go first past this. */
export const RUNS_RETAINED_MAX = 2000;
/** Compile messages kept per run, beside the run's own output limit. */
const COMPILE_BYTES_MAX = 64 * 1024;

/** What a run tells its listeners: the client messages, with output still as raw bytes. */
export type RunEvent = Exclude<ServerMessage, { type: 'output' }> | { type: 'output'; stream: OutputChunk['stream']; seq: number; data: Buffer };
type Listener = (event: RunEvent) => void;

/**
 * One run as the Gateway holds it: every chunk (up to the run's output limit) so a client that
 * reconnects gets exactly the rest, the result once there is one, and the live listeners.
 */
/** A run's resume token: HMAC-SHA256 of its id, so any Gateway holding the key can check it. */
export function resumeToken(key: Buffer, id: string): string {
  return createHmac('sha256', key).update(id).digest('base64url');
}

export function tokenMatches(key: Buffer, id: string, token: string): boolean {
  const want = Buffer.from(resumeToken(key, id));
  const got = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

export class RunRecord implements RunSink {
  readonly createdAt = new Date();
  status: RunStatusName = 'queued';
  queuePosition = 0;
  worker: string | null = null;
  assigner: string | null = null;
  result: BackendResult | null = null;
  finishedAt: Date | null = null;
  private readonly chunks: OutputChunk[] = [];
  private outputBytes = 0;
  private compileBytes = 0;
  private nextSeq = 0;
  /** 1 for the first placement; higher when a lost Worker's batch run started again. */
  attempt = 1;
  /** Chunks that never arrived (a sequence number skipped); 0 unless a link failed. */
  gaps = 0;
  private readonly listeners = new Set<Listener>();
  private readonly waiters: Array<() => void> = [];

  constructor(readonly run: AcceptedRun, readonly token: string, private readonly onFinish: (r: RunRecord) => void) {}

  get id(): string {
    return this.run.id;
  }

  get finished(): boolean {
    return this.result !== null;
  }

  queued(position: number): void {
    this.queuePosition = position;
    this.broadcast({ type: 'queued', position });
  }

  started(info: { worker: string | null; assigner: string | null }): void {
    this.status = 'running';
    this.worker = info.worker;
    this.assigner = info.assigner;
    this.broadcast({ type: 'started', worker: info.worker });
  }

  output(chunk: OutputChunk): void {
    // A backend that replays (after a failover) may send what we have: keep exactly one of each.
    if (chunk.seq < this.nextSeq) return;
    // A gap means a link lost chunks upstream; what arrived is still delivered, in order.
    this.gaps += chunk.seq - this.nextSeq;
    this.nextSeq = chunk.seq + 1;
    const cap = chunk.stream === 'compile' ? COMPILE_BYTES_MAX - this.compileBytes : this.run.limits.outputBytesMax - this.outputBytes;
    if (cap <= 0) return; // the runner caps too; this is the Gateway's own bound
    const data = chunk.data.length > cap ? chunk.data.subarray(0, cap) : chunk.data;
    if (chunk.stream === 'compile') this.compileBytes += data.length;
    else this.outputBytes += data.length;
    const kept = { ...chunk, data };
    this.chunks.push(kept);
    this.broadcast({ type: 'output', stream: kept.stream, seq: kept.seq, data: kept.data });
  }

  reassigned(assigner: string): void {
    this.assigner = assigner;
  }

  restarted(attempt: number): void {
    if (this.result) return;
    this.chunks.length = 0;
    this.nextSeq = 0;
    this.outputBytes = 0;
    this.compileBytes = 0;
    this.status = 'queued';
    this.attempt = attempt;
    this.broadcast({ type: 'restarted', attempt });
  }

  exit(result: BackendResult): void {
    if (this.result) return; // exactly one terminal status
    this.result = result;
    this.status = result.status;
    this.finishedAt = new Date();
    this.broadcast({ type: 'exit', result: this.streamView() });
    for (const w of this.waiters.splice(0)) w();
    this.onFinish(this);
  }

  /** Sends what a client with `lastSeq` lacks, then keeps it informed until it unsubscribes. */
  subscribe(listener: Listener, from: number): () => void {
    // A client's last seq names a chunk of the attempt it saw, and seqs start again at each: past
    // the first, it may be an earlier attempt's (the restart went out while it was away). It hears
    // of the restart and gets this attempt whole; one that saw it already just gets it again.
    const restarted = this.attempt > 1 && from >= 0;
    if (restarted) listener({ type: 'restarted', attempt: this.attempt });
    const lastSeq = restarted ? -1 : from;
    // A run may start before its client subscribes (the Worker was free): the client still learns it.
    if (this.status === 'running' && !this.result) listener({ type: 'started', worker: this.worker });
    for (const c of this.chunks) {
      if (c.seq > lastSeq) listener({ type: 'output', stream: c.stream, seq: c.seq, data: c.data });
    }
    if (this.result) {
      listener({ type: 'exit', result: this.streamView() });
      return () => {};
    }
    if (this.status === 'queued' && this.queuePosition > 0) listener({ type: 'queued', position: this.queuePosition });
    // Chunks replayed into the record later (a run adopted after a Gateway failover) may be ones
    // this client already has — of this attempt: after a restart every chunk is new.
    let after = lastSeq;
    const filtered: Listener = (e) => {
      if (e.type === 'restarted') after = -1;
      if (e.type !== 'output' || e.seq > after) listener(e);
    };
    this.listeners.add(filtered);
    return () => this.listeners.delete(filtered);
  }

  done(): Promise<void> {
    if (this.result) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private broadcast(msg: RunEvent): void {
    for (const l of this.listeners) l(msg);
    if (msg.type === 'exit') this.listeners.clear();
  }

  /** One stream's bytes as kept, undecoded (the peers' dialects send them base64 or decode them their way). */
  bytes(stream: OutputChunk['stream']): Buffer {
    return Buffer.concat(this.chunks.filter((c) => c.stream === stream).map((c) => c.data));
  }

  private text(pred: (c: OutputChunk) => boolean): string {
    return Buffer.concat(this.chunks.filter(pred).map((c) => c.data)).toString('utf8');
  }

  /**
   * The result as a stream's last message: the output already went out as chunks, so it is not
   * repeated (a 100 MB run would otherwise end with a 100 MB message).
   */
  streamView(): RunView {
    return { ...this.view(false), stdout: '', stderr: '', compile_output: '' };
  }

  view(withOutput = true): RunView {
    const r = this.result;
    return {
      id: this.id,
      status: this.status,
      language: this.run.language,
      version: r?.version || null,
      stdout: withOutput ? this.text((c) => c.stream === 'stdout') : '',
      stderr: withOutput ? this.text((c) => c.stream === 'stderr') : '',
      compile_output: withOutput ? this.text((c) => c.stream === 'compile') : '',
      exit_code: r?.exit_code ?? null,
      signal: r?.signal ?? null,
      cpu_time_ms: r ? r.cpu_time_ms : null,
      wall_time_ms: r ? r.wall_time_ms : null,
      memory_kb: r ? r.memory_kb : null,
      worker: this.worker,
      assigner: this.assigner,
      created_at: this.createdAt.toISOString(),
      finished_at: this.finishedAt?.toISOString() ?? null,
      ...(r?.message ? { message: r.message } : {}),
    };
  }
}

export class RunStore {
  private readonly runs = new Map<string, RunRecord>();
  private readonly finishedOrder: string[] = [];
  private readonly activeByUser = new Map<string, number>();

  /** Resume tokens are keyed with this: the cluster's (deriveResumeKey), else one per process. */
  readonly key: Buffer;

  constructor(private readonly retainedMax = RUNS_RETAINED_MAX, private readonly onFinish: (r: RunRecord) => void = () => {}, key?: Buffer) {
    this.key = key ?? randomBytes(32);
  }

  /** A new run, or (after a Gateway failover) one an Assigner still holds and this Gateway adopts. */
  create(run: AcceptedRun): RunRecord {
    const rec = new RunRecord(run, resumeToken(this.key, run.id), (r) => this.finish(r));
    this.runs.set(run.id, rec);
    this.activeByUser.set(run.user, (this.activeByUser.get(run.user) ?? 0) + 1);
    return rec;
  }

  /** Forgets a run that never started (the backend refused it). */
  drop(rec: RunRecord): void {
    this.runs.delete(rec.id);
    this.decrement(rec.run.user);
  }

  get(id: string): RunRecord | undefined {
    return this.runs.get(id);
  }

  active(user: string): number {
    return this.activeByUser.get(user) ?? 0;
  }

  private decrement(user: string): void {
    const n = (this.activeByUser.get(user) ?? 1) - 1;
    if (n <= 0) this.activeByUser.delete(user);
    else this.activeByUser.set(user, n);
  }

  private finish(rec: RunRecord): void {
    this.decrement(rec.run.user);
    this.finishedOrder.push(rec.id);
    while (this.finishedOrder.length > this.retainedMax) this.runs.delete(this.finishedOrder.shift() as string);
    this.onFinish(rec);
  }
}
