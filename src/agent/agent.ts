import os from 'node:os';
import { listenForMembers, memberLinks } from './links.js';
import path from 'node:path';
import { ClusterNode } from '../cluster/node.js';
import { deadBoundMs } from '../cluster/timing.js';
import type { Listener } from '../wire/index.js';
import type { Role } from '../cluster/messages.js';
import { loadConfig, type LabConfig, type NodeConfig } from '../config/index.js';
import { CodeArenaError } from '../common/errors.js';
import { availableLanguages } from '../sandbox/languages.js';
import { AddressBook } from './address-book.js';
import { ClusterDriver, osRandom, StateFile } from './driver.js';
import { everyBeat } from '../common/beat.js';
import { createLogger } from './log.js';
import type { WireMessage } from './wire-messages.js';
import { routeOf } from './routes.js';
import type { AgentContext, PressureSamplerFactory, RoleService, RoleServiceFactory, StandingService, StandingServiceFactory } from './context.js';

export type { AgentContext, PressureSampler, PressureSamplerFactory, RoleService, RoleServiceFactory, StandingService, StandingServiceFactory } from './context.js';

export interface AgentOptions {
  configPath?: string;
  config?: LabConfig;
  name?: string;
  /** Where persistent protocol state lives; default $XDG_STATE_HOME or ~/.local/state. */
  stateDir?: string;
  /** The role's services (the composition root, src/roles/, passes them). */
  services?: RoleServiceFactory;
  /** What every agent runs beside its role: the Gateway standby protocol (src/roles/gateway.ts). */
  standing?: StandingServiceFactory;
  /** The PC's pressure for the load this node reports; none: it reports no pressure. */
  pressure?: PressureSamplerFactory;
}

export interface AgentHandle {
  name: string;
  role: string;
  listener: Listener;
  driver: ClusterDriver;
  stop(): Promise<void>;
}

/** Runs queued at the Assigners this long: the Monitor leader makes one more Worker host. */
const ELASTIC_GROW_AFTER_MS = 10_000;
/** No run held anywhere this long: one Worker host made for load goes back to Empty. */
const ELASTIC_SHRINK_AFTER_MS = 60_000;
/** How often the agent samples PSI and tells its node the load. */
const LOAD_SAMPLE_MS = 500;

/** The cluster role a configured role runs as: the Gateway's PC is a member like any other. */
function clusterRole(role: string): Role {
  return role === 'gateway' ? 'empty' : (role as Role);
}

/** The lab config pairs its pinned Assigners in the order listed: 1st with 2nd, 3rd with 4th… */
export function configBuddy(config: LabConfig, name: string): string | null {
  const pinned = config.nodes.filter((n) => n.role === 'assigner').map((n) => n.name);
  const i = pinned.indexOf(name);
  if (i < 0) return null;
  return pinned[i % 2 === 0 ? i + 1 : i - 1] ?? null;
}

function pickSelf(config: LabConfig, name: string | undefined): NodeConfig {
  const wanted = name ?? os.hostname();
  const self = config.nodes.find((n) => n.name === wanted);
  if (!self) {
    throw new CodeArenaError('BAD_CONFIG', `node "${wanted}" is not in the config (nodes: ${config.nodes.map((n) => n.name).join(', ')})`, 'pass --name with one of them');
  }
  return self;
}

export async function startNodeAgent(opts: AgentOptions): Promise<AgentHandle> {
  const config = opts.config ?? loadConfig(opts.configPath as string);
  const self = pickSelf(config, opts.name);
  const role = self.role ?? 'empty';
  const log = createLogger(self.name);
  const book = new AddressBook(config);
  const stateDir = opts.stateDir ?? path.join(process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state'), 'codearena', config.cluster.name);
  const stateFile = new StateFile(path.join(stateDir, `${self.name}.json`));
  const languages = (await availableLanguages()).map((l) => l.id);
  const configNames = new Set(config.nodes.map((n) => n.name));
  const node = new ClusterNode({
    config: {
      name: self.name,
      pid: process.pid,
      role: clusterRole(role),
      buddy: configBuddy(config, self.name),
      seedMonitors: config.nodes.filter((n) => n.role === 'monitor').map((n) => n.name),
      labNodes: config.nodes.map((n) => n.name),
      languages: role === 'worker' ? languages : [],
      strength: {
        assignersMin: config.roles.assignersMin,
        nonPromotable: new Set([config.gateway.host]),
        orderRetryMs: config.roles.orderRetryMs,
        // Longer than the dead bound: an Assigner still booting is late, not missing.
        settleMs: 2 * deadBoundMs({ missedLimit: config.heartbeat.missedLimit, heartbeatIntervalMs: config.heartbeat.intervalMs }),
        workerHostsMin: config.roles.workerHostsMin,
        isHost: (n) => configNames.has(n),
        pinnedWorkerHosts: new Set(config.nodes.filter((n) => n.role === 'worker').map((n) => n.name)),
        growAfterMs: ELASTIC_GROW_AFTER_MS,
        shrinkAfterMs: ELASTIC_SHRINK_AFTER_MS,
      },
      timing: { heartbeatIntervalMs: config.heartbeat.intervalMs, missedLimit: config.heartbeat.missedLimit },
    },
    persisted: stateFile.load(),
    rng: osRandom,
    nowMs: Math.floor(performance.now()),
  });
  let service: RoleService | null = null;
  /** The previous role's service while it hands its work on (an Assigner made a Monitor). */
  let draining: RoleService | null = null;
  let standing: StandingService | null = null;
  // Every message goes where its type's row in the routing table (routes.ts) says.
  const dispatch = (from: string, msg: WireMessage): void | Promise<void> => {
    const routed = routeOf(msg);
    switch (routed.route) {
      case 'cluster':
        return driver.receive(from, routed.msg);
      case 'gateway_standby':
      case 'gateway_data':
      case 'judge_sync':
        return standing?.receive(from, routed);
      case 'gateway_else_role': {
        // What a Gateway receives goes to the Gateway API where this node serves it (or holds it
        // warm); elsewhere it is a role's (run_output from a Worker to its Assigner).
        const gateway = standing?.gateway();
        if (gateway) return gateway.handle(from, routed.msg);
        return (service ?? draining)?.handle(from, routed.msg);
      }
      case 'table_request': {
        const t = driver.table();
        if (t) peers.send(from, { type: 'table_reply', from: self.name, requestId: routed.msg.requestId, leader: t.leader, term: t.term, rows: t.rows });
        return;
      }
      case 'role':
        return (service ?? draining)?.handle(from, routed.msg);
      default: {
        const never: never = routed;
        return never;
      }
    }
  };
  const peers = memberLinks({ config, name: self.name, book, log, dispatch });
  const driver = new ClusterDriver(node, peers, stateFile, log);
  const listener = await listenForMembers({ config, name: self.name, book, log, dispatch, host: self.address, port: self.port, replies: peers });
  driver.start();
  const pressure = opts.pressure?.(config, self) ?? null;
  // On the wall-clock beat (src/common/beat.ts), so the sample shares the wake-up of the node's
  // heartbeat (same period) instead of waking the process on its own phase.
  const loadTimer = everyBeat(LOAD_SAMPLE_MS, () => {
    const p = pressure?.sample(Math.floor(performance.now())) ?? { cpu: 0, memory: 0, io: 0 };
    driver.setLoad({ psiCpu: p.cpu, psiMemory: p.memory, psiIo: p.io, slotsFree: 0, slotsBusy: 0, ...service?.load?.() });
  }, { unref: false });
  const ctx: AgentContext = { config, configPath: opts.configPath ?? null, stateDir, self, book, peers, driver, log };
  let currentRole = role;
  service = (await opts.services?.(role, ctx)) ?? null;
  // Every agent runs the Gateway standby protocol: the configured Gateway serves through it, a
  // Monitor may be standby and take over; for other nodes it stays idle.
  standing = opts.standing?.(ctx, stateFile) ?? null;
  // A term-stamped order changed this node's role: swap the role's services, no restart.
  let switching = Promise.resolve();
  driver.onNote = (n) => {
    if (n.kind !== 'role_changed') return;
    switching = switching.then(async () => {
      const old = service;
      service = null;
      if (old?.drain) {
        // Messages for the old role still reach it while it hands its work on.
        draining = old;
        await old.drain();
        draining = null;
      }
      await old?.stop();
      currentRole = n.to;
      service = (await opts.services?.(n.to, ctx)) ?? null;
      log.info({ event: 'role', role: n.to, term: n.term }, `now ${n.to} (order of term ${n.term})`);
    });
  };
  log.info({ event: 'started', role, port: self.port }, `node ${self.name} started as ${role}`);
  return {
    name: self.name,
    get role() {
      return currentRole;
    },
    listener,
    driver,
    async stop() {
      loadTimer.cancel();
      await draining?.stop(); // ends a hand-off in progress
      await switching;
      driver.stop();
      await standing?.stop();
      await service?.stop();
      peers.close();
      await listener.close();
    },
  };
}
