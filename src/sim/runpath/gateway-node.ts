import type { GatewayBoundMessage } from '../../gateway/bound.js';
import type { AcceptedRun, AttachedRun } from '../../gateway/backend.js';
import { RELAY_DEFAULTS, RelayCore, type RelayAction, type RelayOutgoing, type SinkEvent } from '../../gateway/relay-core.js';
import { RunStore, tokenMatches, type RunEvent, type RunRecord } from '../../gateway/run-store.js';

/**
 * The Gateway side of the simulated run path: the real RelayCore (the protocol) and the real
 * RunStore/RunRecord (every chunk kept, resume by last_seq), glued as the real drivers glue them —
 * `act`/`deliver` as in cluster-backend.ts, the client sessions as server.ts's streamSession and
 * adopt(). The glue decides nothing; it is the one file to change when those drivers change.
 * Left out: HTTP/WebSocket framing, the OutputCoalescer (it merges output messages for the wire),
 * quotas and validation (test/gateway covers them).
 */

/** What a client sends on its connection (server.ts ClientMessage, the fields the run path reads). */
export type ClientRequest =
  | { type: 'start'; run: Omit<AcceptedRun, 'id'> }
  | { type: 'resume'; id: string; resume_token: string; last_seq: number }
  | { type: 'stdin'; data: string }
  | { type: 'eof' }
  | { type: 'kill' };

export interface GatewayPorts {
  nowMs(): number;
  /** Calls fn at atMs unless cancelled (the simulator's queue). */
  at(atMs: number, fn: () => void): { cancel(): void };
  sendPeer(to: string, msg: RelayOutgoing): void;
  sendClient(conn: number, event: RunEvent): void;
}

export interface SimGatewayOptions {
  name: string;
  /** Gateway epoch: a Gateway that took over numbers input above the previous one's. */
  epoch: number;
  /** The cluster's resume key (deriveResumeKey): every Gateway checks every token. */
  resumeKey: Buffer;
  monitors: readonly string[];
  assigners: readonly string[];
  /** Retained finished runs (RUNS_RETAINED_MAX in the lab). */
  runsRetainedMax: number;
}

interface Session {
  rec: RunRecord | null;
  unsubscribe: () => void;
  closed: boolean;
}

export class SimGateway {
  readonly core: RelayCore;
  readonly store: RunStore;
  private readonly sinks = new Map<string, RunRecord>();
  /** Sessions whose start waits for the core's accepted/refused (server.ts awaits backend.start). */
  private readonly starting = new Map<string, { conn: number; rec: RunRecord }>();
  /** Resumes waiting for attached/not_attached (server.ts adopt(); one ask per id). */
  private readonly attaching = new Map<string, Array<{ conn: number; token: string; lastSeq: number }>>();
  private readonly sessions = new Map<number, Session>();
  private wake: { atMs: number; timer: { cancel(): void } } | null = null;
  private nextRun = 0;
  private dead = false;

  constructor(
    private readonly opts: SimGatewayOptions,
    private readonly ports: GatewayPorts,
  ) {
    this.core = new RelayCore({ ...RELAY_DEFAULTS, name: opts.name, requestIdPrefix: `${opts.name}e${opts.epoch}`, configMonitors: opts.monitors, configAssigners: opts.assigners });
    this.core.epoch = opts.epoch;
    this.store = new RunStore(opts.runsRetainedMax, () => {}, opts.resumeKey);
    this.apply(this.core.onTick(ports.nowMs()));
  }

  get name(): string {
    return this.opts.name;
  }

  /** The process died: nothing more is sent, no timer fires. */
  crash(): void {
    this.dead = true;
    this.wake?.timer.cancel();
    this.wake = null;
  }

  onPeerMessage(from: string, msg: GatewayBoundMessage): void {
    if (this.dead) return;
    this.apply(this.core.onMessage(from, msg, this.ports.nowMs()));
  }

  onClientOpen(conn: number): void {
    this.sessions.set(conn, { rec: null, unsubscribe: () => {}, closed: false });
  }

  /** The client's socket closed: its listener goes (the run goes on). */
  onClientClose(conn: number): void {
    const s = this.sessions.get(conn);
    if (!s) return;
    s.closed = true;
    s.unsubscribe();
    this.sessions.delete(conn);
  }

  onClientMessage(conn: number, m: ClientRequest): void {
    const s = this.sessions.get(conn);
    if (this.dead || !s) return;
    switch (m.type) {
      case 'start': {
        if (s.rec) return this.error(conn, 'ALREADY_STARTED', 'this connection already has a run; open another');
        const run: AcceptedRun = { ...m.run, id: `${this.opts.name}.${++this.nextRun}` };
        const rec = this.store.create(run);
        this.starting.set(run.id, { conn, rec });
        this.sinks.set(run.id, rec);
        this.apply(this.core.submit(run, this.ports.nowMs()));
        return;
      }
      case 'resume': {
        const known = this.store.get(m.id);
        if (known) return this.attachSession(conn, known, m.resume_token, m.last_seq);
        if (!tokenMatches(this.store.key, m.id, m.resume_token)) return this.error(conn, 'NOT_FOUND', 'no run with that id and resume token');
        const waiting = this.attaching.get(m.id);
        if (waiting) {
          waiting.push({ conn, token: m.resume_token, lastSeq: m.last_seq });
          return;
        }
        this.attaching.set(m.id, [{ conn, token: m.resume_token, lastSeq: m.last_seq }]);
        this.apply(this.core.attach(m.id, this.ports.nowMs()));
        return;
      }
      case 'stdin':
      case 'eof':
      case 'kill': {
        const r = s.rec;
        if (!r) return this.error(conn, 'NO_RUN', `"${m.type}" before "start" or "resume"`);
        if (r.finished) return;
        if (m.type === 'stdin') this.apply(this.core.input(r.id, { type: 'run_input', data: m.data }));
        else if (m.type === 'eof') this.apply(this.core.input(r.id, { type: 'run_eof' }));
        else this.apply(this.core.kill(r.id));
        return;
      }
      default: {
        const never: never = m;
        throw new Error(`unhandled client message ${JSON.stringify(never)}`);
      }
    }
  }

  private error(conn: number, code: string, message: string): void {
    this.ports.sendClient(conn, { type: 'error', code, message });
  }

  /** server.ts: unsubscribe the session's old run, then send what last_seq lacks and follow. */
  private attachSession(conn: number, rec: RunRecord, token: string, lastSeq: number): void {
    const s = this.sessions.get(conn);
    if (!s || s.closed) return;
    if (!tokenMatches(this.store.key, rec.id, token)) return this.error(conn, 'NOT_FOUND', 'no run with that id and resume token');
    s.unsubscribe();
    s.rec = rec;
    s.unsubscribe = rec.subscribe((e) => this.ports.sendClient(conn, e), lastSeq);
  }

  /** cluster-backend.ts apply(): the actions, then one wake timer at the core's next deadline. */
  private apply(actions: RelayAction[]): void {
    if (this.dead) return;
    for (const a of actions) this.act(a);
    this.schedule();
  }

  private act(a: RelayAction): void {
    switch (a.kind) {
      case 'send':
        this.ports.sendPeer(a.to, a.msg);
        return;
      case 'deliver':
        return this.deliver(a.id, a.event);
      case 'accepted': {
        const st = this.starting.get(a.id);
        this.starting.delete(a.id);
        if (!st) return;
        // server.ts: the start resolves, 'accepted' goes out, then the session follows the record.
        this.ports.sendClient(st.conn, { type: 'accepted', id: a.id, resume_token: st.rec.token });
        this.attachSession(st.conn, st.rec, st.rec.token, -1);
        return;
      }
      case 'refused': {
        this.sinks.delete(a.id);
        const st = this.starting.get(a.id);
        this.starting.delete(a.id);
        if (!st) return;
        this.store.drop(st.rec);
        this.error(st.conn, a.code, a.message);
        return;
      }
      case 'attached': {
        const waiting = this.attaching.get(a.id);
        this.attaching.delete(a.id);
        if (!waiting) return;
        this.sinks.set(a.id, this.adopt(a.found));
        const rec = this.store.get(a.id) as RunRecord;
        for (const w of waiting) this.attachSession(w.conn, rec, w.token, w.lastSeq);
        return;
      }
      case 'not_attached': {
        const waiting = this.attaching.get(a.id) ?? [];
        this.attaching.delete(a.id);
        for (const w of waiting) this.error(w.conn, 'NOT_FOUND', 'no run with that id and resume token');
        return;
      }
      case 'note':
        return;
      default: {
        const never: never = a;
        return never;
      }
    }
  }

  /** server.ts adopt(): the record of a run another Gateway accepted. */
  private adopt(found: AttachedRun): RunRecord {
    const rec = this.store.get(found.run.id) ?? this.store.create(found.run);
    rec.attempt = Math.max(rec.attempt, found.attempt);
    if (found.phase !== 'queued') rec.started({ worker: found.worker, assigner: found.assigner });
    return rec;
  }

  /** cluster-backend.ts deliver(). */
  private deliver(id: string, e: SinkEvent): void {
    const sink = this.sinks.get(id);
    if (!sink) return;
    switch (e.kind) {
      case 'queued':
        return sink.queued(e.position);
      case 'started':
        return sink.started({ worker: e.worker, assigner: e.assigner });
      case 'output':
        return sink.output({ seq: e.chunk.seq, stream: e.chunk.stream, data: Buffer.from(e.chunk.data.buffer, e.chunk.data.byteOffset, e.chunk.data.byteLength) });
      case 'restarted':
        return sink.restarted(e.attempt);
      case 'reassigned':
        return sink.reassigned(e.assigner);
      case 'exit':
        this.sinks.delete(id);
        return sink.exit(e.result);
      default: {
        const never: never = e;
        return never;
      }
    }
  }

  private schedule(): void {
    const atMs = this.core.nextWakeMs();
    if (atMs === null || (this.wake && this.wake.atMs <= atMs)) return;
    this.wake?.timer.cancel();
    const timer = this.ports.at(Math.max(atMs, this.ports.nowMs()), () => {
      this.wake = null;
      this.apply(this.core.onTick(this.ports.nowMs()));
    });
    this.wake = { atMs, timer };
  }
}
