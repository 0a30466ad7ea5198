import { processWallOffsetMs, type BeatGrid } from '../common/beat.js';
import { randomUUID } from 'node:crypto';
import type { AgentContext } from '../agent/context.js';
import type { Logger } from '../agent/log.js';
import { realClock, type Clock, type Timer } from '../common/clock.js';
import type { Transport } from '../common/transport.js';
import { availableLanguages, type LanguageInfo } from '../sandbox/languages.js';
import type { ClusterView, NodeView } from './api-types.js';
import type { GatewayBoundMessage } from './bound.js';
import { RELAY_DEFAULTS, RelayCore, type RefusalCode, type RelayAction, type RelayNote, type RelayOutgoing, type SinkEvent } from './relay-core.js';
import { AssignerTimeoutError, NoCapacityError, QueueFullError, type AcceptedRun, type AttachedRun, type RunBackend, type RunSink } from './backend.js';

/**
 * What ClusterBackend uses of its node: narrow ports, so tests and the simulator pass small real
 * objects. The agent builds them from its context (backendPorts).
 */
export interface ClusterBackendPorts {
  /** This Gateway's name (the `from` of what it sends). */
  self: string;
  /** The config's Monitors and Assigners: asked while no Monitor's table is known. */
  configMonitors: string[];
  configAssigners: string[];
  /** The links to members (only sending: the relay streams nothing to them). */
  links: Pick<Transport<RelayOutgoing>, 'send'>;
  /** Where a member listens, for the dashboard (null: not known). */
  resolve(name: string): { host: string; port: number } | null;
  log: Logger;
  /** The wall-clock beat grid of the relay's table refresh (real time only; tests leave it out). */
  grid?: BeatGrid;
}

/** The ports of a node's Gateway, from its agent context. */
export function backendPorts(ctx: AgentContext): ClusterBackendPorts {
  return {
    self: ctx.self.name,
    configMonitors: ctx.config.nodes.filter((n) => n.role === 'monitor').map((n) => n.name),
    configAssigners: ctx.config.nodes.filter((n) => n.role === 'assigner').map((n) => n.name),
    links: ctx.peers,
    resolve: (name) => ctx.book.resolve(name),
    log: ctx.log,
    grid: { wallOffsetMs: processWallOffsetMs },
  };
}

/**
 * The lab's backend: a Monitor names the least-loaded Assigner, the run goes there, and the
 * Assigner streams it back. The protocol is RelayCore's; this driver owns what it must not: the
 * links (a Transport), one wake timer at the core's next deadline, the callers' promises and the
 * runs' sinks.
 */
export class ClusterBackend implements RunBackend {
  private readonly core: RelayCore;
  private readonly sinks = new Map<string, RunSink>();
  private readonly starts = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  private readonly attaches = new Map<string, { resolve: (found: boolean) => void; adopt: (found: AttachedRun) => RunSink }>();
  private wake: { atMs: number; timer: Timer } | null = null;
  /** Actions being done (apply), and those queued behind them by a call back in. */
  private readonly pending: RelayAction[] = [];
  private applying = false;
  private closed = false;
  private localLanguages: LanguageInfo[] = [];
  /** The Gateway standby this Gateway heartbeats to (set by the failover service; for the dashboard). */
  standby: string | null = null;
  /** Set when this Gateway steps down: closing must not kill the runs the next Gateway attaches. */
  keepRunsOnClose = false;

  /** `clock`: real time with ref'd timers by default, since start() and attach() wait on them. */
  constructor(
    private readonly ports: ClusterBackendPorts,
    private readonly clock: Clock = realClock({ unref: false }),
  ) {
    this.core = new RelayCore({
      ...RELAY_DEFAULTS,
      name: ports.self,
      requestIdPrefix: randomUUID().slice(0, 8),
      configMonitors: ports.configMonitors,
      configAssigners: ports.configAssigners,
      grid: ports.grid ?? null,
    });
    this.apply(this.core.onTick(this.clock.nowMs()));
    void availableLanguages().then((l) => (this.localLanguages = l));
  }

  /** The Gateway epoch this backend serves under (set when the API starts serving). */
  get epoch(): number {
    return this.core.epoch;
  }

  set epoch(epoch: number) {
    this.core.epoch = epoch;
  }

  /** Messages for the Gateway: Monitors' answers and the runs' streams from Assigners. */
  handle(from: string, msg: GatewayBoundMessage): void {
    this.apply(this.core.onMessage(from, msg, this.clock.nowMs()));
  }

  start(run: AcceptedRun, sink: RunSink): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.sinks.set(run.id, sink);
      this.starts.set(run.id, { resolve, reject });
      this.apply(this.core.submit(run, this.clock.nowMs()));
    });
  }

  attach(id: string, adopt: (found: AttachedRun) => RunSink): Promise<boolean> {
    if (this.attaches.has(id)) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.attaches.set(id, { resolve, adopt });
      this.apply(this.core.attach(id, this.clock.nowMs()));
    });
  }

  write(id: string, data: string): void {
    this.apply(this.core.input(id, { type: 'run_input', data }));
  }

  endInput(id: string): void {
    this.apply(this.core.input(id, { type: 'run_eof' }));
  }

  kill(id: string): void {
    this.apply(this.core.kill(id));
  }

  async languages(): Promise<LanguageInfo[]> {
    const offered = new Set((this.core.tableView()?.rows ?? []).filter((r) => r.role === 'worker' && r.status === 'alive').flatMap((r) => r.languages));
    // Versions come from this machine's probe: lab PCs share one image. With no Worker up yet,
    // list what the image has; runs wait in the queue until a Worker comes.
    return offered.size === 0 ? this.localLanguages : this.localLanguages.filter((l) => offered.has(l.id));
  }

  queueLength(): number {
    return this.core.queueLength();
  }

  cluster(): ClusterView {
    const table = this.core.tableView();
    const runsOn = this.core.runsOn();
    const nodes: NodeView[] = (table?.rows ?? []).map((r) => {
      const endpoint = this.ports.resolve(r.name);
      const isGateway = r.name === this.ports.self;
      // A Worker's load only from its own Monitor (see WorkerLoads); null until it has answered.
      const load = r.role === 'worker' ? this.core.workerLoad(r.name) : r.load;
      // A Worker's busy slots are a heartbeat old; the runs this Gateway saw start there are not.
      const runs = r.role === 'worker' ? Math.max(load?.slotsBusy ?? 0, runsOn.get(r.name) ?? 0) : runsOn.get(r.name) ?? 0;
      return {
        name: r.name,
        address: endpoint ? `${endpoint.host}:${endpoint.port}` : '',
        pid: r.pid ?? (isGateway ? process.pid : null),
        role: isGateway ? 'gateway' : (r.role as NodeView['role']),
        state: r.status,
        load: load ? { psi_cpu: load.psiCpu, psi_memory: load.psiMemory, psi_io: load.psiIo, slots_free: load.slotsFree, slots_busy: load.slotsBusy } : null,
        runs,
      };
    });
    return { nodes, queue_length: this.core.queueLength(), leader: table?.leader ?? null, term: table?.term ?? 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.apply(this.core.close(this.keepRunsOnClose));
    this.closed = true;
    this.wake?.timer.cancel();
    this.wake = null;
  }

  /**
   * Does what the core asked, then sets the wake timer to its next deadline. A sink or a link that
   * calls back in while this runs (an in-memory transport answering at once) queues its actions
   * behind these, so each run's events keep the order the core gave them.
   */
  private apply(actions: RelayAction[]): void {
    this.pending.push(...actions);
    if (this.applying) return;
    this.applying = true;
    try {
      for (let i = 0; i < this.pending.length; i++) this.act(this.pending[i] as RelayAction);
    } finally {
      this.pending.length = 0;
      this.applying = false;
    }
    this.schedule();
  }

  private act(a: RelayAction): void {
    switch (a.kind) {
      case 'send':
        this.ports.links.send(a.to, a.msg);
        return;
      case 'deliver':
        return this.deliver(a.id, a.event);
      case 'accepted':
        this.starts.get(a.id)?.resolve();
        this.starts.delete(a.id);
        return;
      case 'refused':
        this.sinks.delete(a.id);
        this.starts.get(a.id)?.reject(startError(a.code, a.message));
        this.starts.delete(a.id);
        return;
      case 'attached': {
        const waiting = this.attaches.get(a.id);
        this.attaches.delete(a.id);
        if (!waiting) return;
        // The sink exists before the Assigner's replayed chunks (next on the same link) arrive.
        this.sinks.set(a.id, waiting.adopt(a.found));
        waiting.resolve(true);
        return;
      }
      case 'not_attached':
        this.attaches.get(a.id)?.resolve(false);
        this.attaches.delete(a.id);
        return;
      case 'note':
        return this.log(a.note);
      default: {
        const never: never = a;
        return never;
      }
    }
  }

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

  private log(n: RelayNote): void {
    switch (n.what) {
      case 'gap':
        return this.ports.log.warn({ event: 'gap', run: n.run, after: n.afterSeq }, `run ${n.run}: chunks after ${n.afterSeq} missing; asking assigner ${n.assigner} again`);
      case 'takeover':
        return this.ports.log.info({ event: 'takeover', run: n.run, from: n.from, to: n.to }, `run ${n.run} taken over by assigner ${n.to}`);
      case 'input_dropped':
        return this.ports.log.warn({ event: 'input_dropped', run: n.run }, `run ${n.run}: over ${n.inputsMax} input lines or ${n.bytesMax} bytes; input dropped`);
      case 'monitor_silent':
        return this.ports.log.debug({ event: 'monitor_silent', monitor: n.monitor }, `monitor ${n.monitor} did not name an assigner in time; asking the next`);
      default: {
        const never: never = n;
        return never;
      }
    }
  }

  /** One timer, at the core's earliest deadline; one that fires early (a deadline went away) just sets the next.
   * Not rounded here: the core puts its periodic table refresh on the beat grid itself, and its
   * other deadlines (a Monitor's or an Assigner's answer) are one-off and exact. */
  private schedule(): void {
    if (this.closed) return;
    const atMs = this.core.nextWakeMs();
    if (atMs === null || (this.wake && this.wake.atMs <= atMs)) return;
    this.wake?.timer.cancel();
    const timer = this.clock.after(Math.max(0, atMs - this.clock.nowMs()), () => {
      this.wake = null;
      this.apply(this.core.onTick(this.clock.nowMs()));
    });
    this.wake = { atMs, timer };
  }
}

function startError(code: RefusalCode, message: string): Error {
  switch (code) {
    case 'QUEUE_FULL':
      return new QueueFullError(message);
    case 'NO_CAPACITY':
      return new NoCapacityError(message);
    case 'ASSIGNER_TIMEOUT':
      return new AssignerTimeoutError(message);
    default: {
      const never: never = code;
      return never;
    }
  }
}
