import type { RunEvent } from '../../gateway/run-store.js';
import type { ClientRequest } from './gateway-node.js';
import type { ClientPlan } from './scenario.js';

/**
 * A client of the simulated run path, as the web page and the CLI behave: it starts a run on a
 * WebSocket, types its lines, reads output, and when its connection breaks it opens another to
 * whichever Gateway serves now and resumes with the last seq it has. It never types a line twice
 * (a lost keystroke is the Gateway's to keep, not the client's to guess), and it kills a run that
 * has not ended within its patience, again after every resume, as the sandbox's wall clock would.
 */

/** A run that has not ended this long after acceptance is killed (DEFAULT_LIMITS' 30 s wall time). */
export const PATIENCE_MS = 30_000;
/** A resume answered NOT_FOUND is tried again this often (the new Gateway may still be asking), this many times. */
const RESUME_RETRY_MS = 500;
const RESUME_TRIES_MAX = 40;
/** No Gateway serving yet (a failover under way): try to connect again after this. */
const CONNECT_RETRY_MS = 200;

/** A chunk as the client holds it. */
export interface ViewChunk {
  seq: number;
  stream: string;
  data: Buffer;
}

export interface ClientWorld {
  nowMs(): number;
  at(atMs: number, fn: () => void): void;
  /** Opens a connection to the Gateway serving now (null: none serves); events arrive via onEvent. */
  connect(client: SimClient): number | null;
  send(conn: number, req: ClientRequest): void;
  /** How long this client takes to see that a broken connection is broken (its pings go unanswered). */
  noticeMs(): number;
  violation(kind: string, client: SimClient, message: string): void;
}

/** One reading of the run's stream (the client's own, or a later fresh re-read). */
interface Reader {
  conn: number | null;
  lastSeq: number;
  view: ViewChunk[];
  exits: number;
  status: string | null;
  /** Something arrived on this connection since it resumed: the session follows the run. */
  attached: boolean;
  resumeTries: number;
  /** Its resumes were answered NOT_FOUND RESUME_TRIES_MAX times: it stopped asking. */
  gaveUp: boolean;
}

function reader(): Reader {
  return { conn: null, lastSeq: -1, view: [], exits: 0, status: null, attached: false, resumeTries: 0, gaveUp: false };
}

export class SimClient {
  id: string | null = null;
  token: string | null = null;
  /** starting: no answer yet; refused: not accepted (not in the contract); lost: the answer was lost with its connection. */
  phase: 'waiting' | 'starting' | 'refused' | 'lost' | 'accepted' | 'done' = 'waiting';
  acceptedAtMs = -1;
  exitAtMs = -1;
  readonly main: Reader = reader();
  reread: Reader | null = null;

  /** Nothing more will happen on this client's side (the simulation may settle and stop). */
  get settled(): boolean {
    if (this.phase === 'refused' || this.phase === 'lost') return true;
    if (this.phase !== 'done') return false;
    if (this.plan.rereadAfterMs === null) return true;
    return this.reread !== null && (this.reread.exits > 0 || this.reread.gaveUp);
  }
  private linesSent = 0;
  private eofSent = false;
  private wantKill = false;

  constructor(
    readonly plan: ClientPlan,
    private readonly world: ClientWorld,
  ) {}

  get name(): string {
    return this.plan.name;
  }

  get label(): string {
    return `${this.plan.name}${this.id ? ` (run ${this.id})` : ''}`;
  }

  /** Starts the run: its program travels in its source, its limits are the defaults. */
  begin(): void {
    const conn = this.world.connect(this);
    if (conn === null) return this.world.at(this.world.nowMs() + CONNECT_RETRY_MS, () => this.begin());
    this.phase = 'starting';
    this.main.conn = conn;
    this.world.send(conn, {
      type: 'start',
      run: {
        user: this.plan.name,
        language: 'python',
        files: [{ name: 'main.py', content: JSON.stringify(this.plan.program) }],
        main: 'main.py',
        stdin: '',
        interactive: this.plan.interactive,
        limits: { cpuTimeMs: 5_000, wallTimeMs: 30_000, memoryKb: 262_144, outputBytesMax: 4 * 1024 * 1024, processesMax: 32, fileSizeKb: 16_384, openFilesMax: 64, workDirKb: 65_536 },
      },
    });
  }

  /** The client's connection `conn` broke; it notices a little later. */
  cut(conn: number): void {
    for (const r of [this.main, this.reread]) {
      if (!r || r.conn !== conn) continue;
      r.conn = null;
      r.attached = false;
      this.world.at(this.world.nowMs() + this.world.noticeMs(), () => this.reconnect(r));
    }
  }

  private reconnect(r: Reader): void {
    if (this.id === null) {
      // The answer to the start went down with the connection: the run may or may not have been
      // taken, and without its id nobody can ask. A real client would start another run.
      if (this.phase === 'starting') this.phase = 'lost';
      return;
    }
    if (r.exits > 0 || r.conn !== null) return;
    const conn = this.world.connect(this);
    if (conn === null) return this.world.at(this.world.nowMs() + CONNECT_RETRY_MS, () => this.reconnect(r));
    r.conn = conn;
    this.world.send(conn, { type: 'resume', id: this.id as string, resume_token: this.token as string, last_seq: r.lastSeq });
  }

  onEvent(conn: number, e: RunEvent): void {
    const r = this.main.conn === conn ? this.main : this.reread?.conn === conn ? this.reread : null;
    if (!r) return;
    if (e.type === 'error') return this.onError(r, e.code);
    if (e.type === 'accepted') {
      if (r !== this.main || this.phase !== 'starting') return this.world.violation('protocol', this, `unexpected accepted for ${e.id}`);
      this.id = e.id;
      this.token = e.resume_token;
      this.phase = 'accepted';
      this.acceptedAtMs = this.world.nowMs();
      this.main.attached = true;
      if (this.plan.killAfterMs !== null) this.world.at(this.acceptedAtMs + this.plan.killAfterMs, () => this.kill());
      this.world.at(this.acceptedAtMs + PATIENCE_MS, () => this.kill());
      this.scheduleLine();
      return;
    }
    const wasAttached = r.attached;
    r.attached = true;
    if (r === this.main && !wasAttached) this.afterResume();
    switch (e.type) {
      case 'queued':
      case 'started':
        return;
      case 'restarted':
        // A batch run's Worker was lost: what it printed is void, the next attempt starts from 0.
        r.view = [];
        r.lastSeq = -1;
        return;
      case 'output':
        if (r.exits > 0) return this.world.violation('after_exit', this, `chunk ${e.seq} after the exit`);
        if (e.seq !== r.lastSeq + 1) {
          return this.world.violation(e.seq <= r.lastSeq ? 'duplicate' : 'gap', this, `chunk ${e.seq} after ${r.lastSeq}${r === this.reread ? ' (re-read)' : ''}`);
        }
        r.lastSeq = e.seq;
        r.view.push({ seq: e.seq, stream: e.stream, data: e.data });
        return;
      case 'exit':
        r.exits++;
        if (r.exits > 1) return this.world.violation('two_exits', this, `a second exit (${e.result.status} after ${r.status})`);
        r.status = e.result.status;
        if (r === this.main) this.finished();
        return;
      default: {
        const never: never = e;
        throw new Error(`unhandled event ${JSON.stringify(never)}`);
      }
    }
  }

  private onError(r: Reader, code: string): void {
    if (r === this.main && this.phase === 'starting') {
      this.phase = 'refused';
      return;
    }
    if (code === 'NOT_FOUND' && r.conn !== null && r.exits === 0) {
      // The new Gateway did not find the run (yet): ask again on a fresh connection, a bounded number of times.
      if (++r.resumeTries > RESUME_TRIES_MAX) {
        r.gaveUp = true;
        return;
      }
      r.conn = null;
      this.world.at(this.world.nowMs() + RESUME_RETRY_MS, () => this.reconnect(r));
      return;
    }
    // NO_RUN: input that overtook the resume's adoption; the client re-sends after the next event.
  }

  private finished(): void {
    this.phase = 'done';
    this.exitAtMs = this.world.nowMs();
    if (this.plan.rereadAfterMs !== null) this.world.at(this.exitAtMs + this.plan.rereadAfterMs, () => this.startReread());
  }

  /** A fresh reader (another tab, a GET after the fact): it must read the same run. */
  private startReread(): void {
    this.reread = reader();
    this.reconnect(this.reread);
  }

  /** A resumed session follows the run again: what the user did meanwhile goes now. */
  private afterResume(): void {
    if (this.wantKill) this.sendNow({ type: 'kill' });
    this.scheduleLine();
  }

  private sendNow(req: ClientRequest): boolean {
    if (this.main.conn === null || !this.main.attached || this.phase !== 'accepted') return false;
    this.world.send(this.main.conn, req);
    return true;
  }

  private scheduleLine(): void {
    if (!this.plan.interactive || this.eofSent) return;
    this.world.at(this.world.nowMs() + this.plan.lineGapMs, () => this.typeLine());
  }

  private typeLine(): void {
    if (this.phase !== 'accepted' || this.eofSent) return;
    const line = this.plan.lines[this.linesSent];
    // Typed while the connection is down: the user waits for it to come back (afterResume).
    if (!this.sendNow(line === undefined ? { type: 'eof' } : { type: 'stdin', data: line })) return;
    if (line === undefined) this.eofSent = true;
    else this.linesSent++;
    this.scheduleLine();
  }

  private kill(): void {
    if (this.phase !== 'accepted') return;
    this.wantKill = true;
    this.sendNow({ type: 'kill' });
  }
}
