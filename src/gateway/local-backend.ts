import { availableLanguages, type LanguageInfo } from '../sandbox/languages.js';
import { unmeasuredResult } from '../protocol/run-wire.js';
import { sandboxRequestOf } from '../protocol/run-spec.js';
import { startRun, type RunHandle } from '../sandbox/runner.js';
import { SandboxPool } from '../sandbox/sandbox-process.js';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import type { ClusterView } from './api-types.js';
import { QueueFullError, type AcceptedRun, type RunBackend, type RunSink } from './backend.js';

interface Waiting {
  run: AcceptedRun;
  sink: RunSink;
}

/**
 * Runs the Gateway's runs in this machine's sandbox, `slots` at a time, with a bounded wait queue.
 * The single-machine backend; the lab's runs go through Assigners and Workers instead.
 */
export class LocalBackend implements RunBackend {
  private readonly running = new Map<string, RunHandle>();
  private readonly queue: Waiting[] = [];
  private readonly pending = new Map<string, { input: string[]; ended: boolean; killed: boolean }>();
  private readonly pool: SandboxPool;

  constructor(private readonly opts: { slots: number; queueMax: number; name?: string }) {
    this.pool = new SandboxPool({ workDirKb: DEFAULT_LIMITS.workDirKb, tmpDirKb: DEFAULT_LIMITS.workDirKb, size: Math.min(2, opts.slots) });
    this.pool.refill();
  }

  async start(run: AcceptedRun, sink: RunSink): Promise<void> {
    if (this.running.size < this.opts.slots) return this.launch(run, sink);
    if (this.queue.length >= this.opts.queueMax) throw new QueueFullError(`run queue is full (${this.opts.queueMax} waiting)`);
    this.queue.push({ run, sink });
    this.pending.set(run.id, { input: [], ended: false, killed: false });
    sink.queued(this.queue.length);
  }

  private launch(run: AcceptedRun, sink: RunSink): void {
    const handle = startRun({ ...sandboxRequestOf(run), pool: this.pool });
    this.running.set(run.id, handle);
    const early = this.pending.get(run.id);
    this.pending.delete(run.id);
    for (const line of early?.input ?? []) handle.write(line);
    if (early?.ended || !run.interactive) handle.endInput();
    if (early?.killed) handle.kill();
    sink.started({ worker: this.opts.name ?? 'local', assigner: null });
    void (async () => {
      for await (const c of handle.chunks) sink.output({ seq: c.seq, stream: c.stream, data: Buffer.from(c.data) });
      const result = await handle.result.catch((err: Error) => unmeasuredResult('internal_error', run.language, err.message));
      this.running.delete(run.id);
      sink.exit(result);
      this.next();
    })();
  }

  private next(): void {
    while (this.running.size < this.opts.slots && this.queue.length > 0) {
      const w = this.queue.shift() as Waiting;
      this.queue.forEach((q, i) => q.sink.queued(i + 1));
      const p = this.pending.get(w.run.id);
      if (p?.killed) {
        this.pending.delete(w.run.id);
        w.sink.exit(unmeasuredResult('killed', w.run.language));
        continue;
      }
      this.launch(w.run, w.sink);
    }
  }

  write(id: string, data: string): void {
    const h = this.running.get(id);
    if (h) h.write(data);
    else this.pending.get(id)?.input.push(data);
  }

  endInput(id: string): void {
    const h = this.running.get(id);
    if (h) h.endInput();
    else {
      const p = this.pending.get(id);
      if (p) p.ended = true;
    }
  }

  kill(id: string): void {
    const h = this.running.get(id);
    if (h) return h.kill();
    const p = this.pending.get(id);
    if (!p) return;
    p.killed = true;
    const i = this.queue.findIndex((w) => w.run.id === id);
    if (i >= 0) {
      const [w] = this.queue.splice(i, 1);
      this.pending.delete(id);
      if (w) w.sink.exit(unmeasuredResult('killed', w.run.language));
    }
  }

  languages(): Promise<LanguageInfo[]> {
    return availableLanguages();
  }

  cluster(): ClusterView {
    return {
      nodes: [{ name: this.opts.name ?? 'local', address: '127.0.0.1', pid: process.pid, role: 'worker', state: 'alive', load: null, runs: this.running.size }],
      queue_length: this.queue.length,
      leader: null,
      term: 0,
    };
  }

  queueLength(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    for (const h of this.running.values()) h.kill();
    await this.pool.stop();
  }
}
