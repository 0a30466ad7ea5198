import type { RunBackend } from './backend.js';
import { tokenMatches, type RunRecord, type RunStore } from './run-store.js';

/**
 * One promise per key while it is pending: however many callers ask for the same key, the work is
 * started once; once it settles (either way) the next ask starts it anew. Bounded by the keys in
 * flight, each of which is one pending ask to the backend.
 */
export class SingleFlight<K, V> {
  private readonly pending = new Map<K, Promise<V>>();

  run(key: K, start: () => Promise<V>): Promise<V> {
    let p = this.pending.get(key);
    if (!p) {
      p = start().finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  get size(): number {
    return this.pending.size;
  }
}

/**
 * Finds the run a client resumes: this Gateway's own record, or — for a run another Gateway
 * accepted before a failover — the Assigner holding it hands over its spec, state and every chunk
 * so far (one ask per id, however many clients resume it). Null unless the token is the run's.
 */
export class RunResumer {
  private readonly attaching = new SingleFlight<string, RunRecord | null>();

  constructor(
    private readonly store: RunStore,
    private readonly backend: Pick<RunBackend, 'attach'>,
  ) {}

  async resume(id: string, token: string): Promise<RunRecord | null> {
    const r = this.store.get(id) ?? (await this.adopt(id, token));
    return r && tokenMatches(this.store.key, r.id, token) ? r : null;
  }

  /** Asks in flight (for tests: the dedupe holds one per id). */
  get attachesPending(): number {
    return this.attaching.size;
  }

  private adopt(id: string, token: string): Promise<RunRecord | null> {
    const backend = this.backend;
    // The token is checked before asking, so a guessed id costs the Assigners nothing.
    if (!backend.attach || !tokenMatches(this.store.key, id, token)) return Promise.resolve(null);
    const attach = backend.attach.bind(backend);
    return this.attaching.run(id, async () => {
      let rec: RunRecord | null = null;
      const ok = await attach(id, (found) => {
        rec = this.store.get(id) ?? this.store.create(found.run);
        rec.attempt = Math.max(rec.attempt, found.attempt);
        if (found.phase !== 'queued') rec.started({ worker: found.worker, assigner: found.assigner });
        return rec;
      });
      return ok ? rec : null;
    });
  }
}
