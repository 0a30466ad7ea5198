import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { DEFAULT_LIMITS, MAX_LIMITS, SOURCE_BYTES_MAX, type Limits } from '../sandbox/limits.js';
import { PEER_NAME_PATTERN, SECRET_CHARS_MIN } from '../wire/psk.js';
import { WORKERS_PER_HOST_LIMIT } from './workers-per-host.js';

// The lab config: one YAML or JSON file for the whole lab, read by every node agent. Every field
// says what it trades off and why its default is what it is. Objects are strict: a misspelt field
// is an error, not a silently ignored setting. Cross-field rules, and `labConfigSchema` (this
// shape followed by them), live in checks.ts, which builds on this file (not the other way round).

export const NODE_ROLES = ['monitor', 'assigner', 'worker', 'empty', 'gateway'] as const;
export type NodeRole = (typeof NODE_ROLES)[number];

/** A campus is ~600 PCs; the bound is a typo guard, not a design limit. */
export const NODES_MAX = 2_000;
export { WORKERS_PER_HOST_LIMIT };
export const AUTH_TOKENS_MAX = 10_000;
export const AUTH_TOKEN_CHARS_MIN = 16;

/** Same port on every PC, so a lab config differs per node only in addresses. Unprivileged. */
export const NODE_PORT_DEFAULT = 7470;
/** Unprivileged, so the agent needs no root; the usual alternative HTTP port. */
export const GATEWAY_PORT_DEFAULT = 8080;

const port = z.int().min(1).max(65535, { error: 'must be a TCP port, 1..65535' });

/** Node names are also their PSK identity on the wire, so the wire's rule applies. */
const nodeName = z
  .string()
  .regex(PEER_NAME_PATTERN, { error: 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit' });

const HOSTNAME_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** An IPv4 address, or a hostname whose last label is not all digits ("10.0.0" is a typo, not a name). */
function isAddress(text: string): boolean {
  if (isIPv4(text)) return true;
  const labels = text.split('.');
  return text.length <= 253 && labels.every((l) => HOSTNAME_LABEL.test(l)) && !/^\d+$/.test(labels.at(-1) ?? '');
}

const address = z.string().refine(isAddress, { error: 'must be an IPv4 address or a hostname' });

const cluster = z.strictObject({
  /** Shown in logs, metrics and the dashboard; tells two labs' clusters apart. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'must be 1-63 lowercase letters, digits or "-"' }),
  /**
   * The shared secret every internal link is keyed from (TLS-PSK). Inline is simplest; a separate
   * secretFile lets the config itself be shared or committed. Exactly one of the two.
   */
  secret: z.string().min(SECRET_CHARS_MIN, { error: `must have at least ${SECRET_CHARS_MIN} characters` }).optional(),
  /** Path of a file holding the secret, relative to the config file's folder. */
  secretFile: z.string().min(1).optional(),
});

const gateway = z.strictObject({
  /** Name of the node (a lab PC) that runs the active Gateway. */
  host: nodeName,
  /** HTTP + WebSocket port clients use. */
  port: port.default(GATEWAY_PORT_DEFAULT),
  /**
   * An IPv4 address the standby takes over (gratuitous ARP) when the Gateway dies, so clients
   * keep one address. Without it, failover still happens but clients must know the standby's address.
   */
  virtualIp: z.ipv4().optional(),
  /** Port the standby serves on after takeover; defaults to `port`, which is right with a virtualIp. */
  standbyPort: port.optional(),
});

const node = z.strictObject({
  name: nodeName,
  /** Where other nodes reach it: a fixed IPv4 address avoids depending on the lab's DNS. */
  address,
  /** Internal protocol port (TLS-PSK). */
  port: port.default(NODE_PORT_DEFAULT),
  /**
   * Pins the node to one role. Unpinned nodes get roles from the Monitors' leader, which is what
   * lets the cluster heal; pin only what must stay put (the Gateway PC, a PC nobody sits at).
   */
  role: z.enum(NODE_ROLES).optional(),
});

const roles = z.strictObject({
  /** Monitors hold the table of who is alive; two is the least that survives losing one. */
  monitorsMin: z.int().min(2, { error: 'must be at least 2 — one Monitor is a single point of failure' }).max(99).default(2),
  /** Assigners work in buddy pairs (each replicates its runs to the other), so the count is even. */
  assignersMin: z
    .int()
    .min(2, { error: 'must be at least 2 — Assigners work in buddy pairs' })
    .max(1_000)
    .refine((n) => n % 2 === 0, { error: 'must be even — Assigners work in buddy pairs; use 2, 4, 6…' })
    .default(2),
  /** PCs running Workers; more is more capacity, and Empty nodes are promoted when load rises. */
  workerHostsMin: z.int().min(1, { error: 'must be at least 1 — with no Worker host nothing runs' }).max(NODES_MAX).default(1),
  /**
   * A node the Monitor leader ordered to a role and that still shows its old one this long after
   * is ordered again (or another is picked). 5 s is ten heartbeats: an order in flight, or a node
   * busy switching services, is not doubled; a lost order costs seconds, not minutes.
   */
  orderRetryMs: z.int().min(100).max(600_000).default(5_000),
});

const heartbeat = z.strictObject({
  /** Faster detects failures sooner but costs traffic at every Monitor; 500 ms is cheap on a LAN. */
  intervalMs: z.int().min(50).max(10_000).default(500),
  /** Missed intervals before a node is declared dead: 5 (the user's number) rides out a GC pause. */
  missedLimit: z.int().min(2).max(50).default(5),
  /** The Gateway is watched faster so the standby takes over within about a second. */
  gatewayIntervalMs: z.int().min(20).max(10_000).default(100),
});

const fraction = z.number().gt(0).max(1, { error: 'must be a fraction in (0, 1]' });

const psi = z.strictObject({
  /**
   * A Worker accepts runs only while its PC's CPU pressure (share of the window some task was
   * stalled) is below this. Lower is kinder to the person at the PC, higher uses the lab more.
   */
  acceptBelow: fraction.default(0.6),
  /** Above this the Worker pauses or ends low-priority batch runs: the PC's user comes first. */
  pauseAbove: fraction.default(0.9),
  /** The pressure window: 2 s reacts to a user sitting down without flapping on one spike. */
  windowMs: z.int().min(500).max(60_000).default(2_000),
});

const workers = z.strictObject({
  /**
   * Worker processes per PC. "cores" (the default) means the host's own core count, resolved on
   * each PC since lab PCs differ; a number caps it to leave cores to the PC's user.
   */
  perHostMax: z.union([z.int().min(1).max(WORKERS_PER_HOST_LIMIT), z.literal('cores')]).default('cores'),
  /** Concurrent runs per Worker: 1 keeps one run per core, so timings stay fair for judging. */
  slotsPerWorker: z.int().min(1).max(16).default(1),
});

/** One limit: at least 1, at most the sandbox's hard cap (src/sandbox/limits.ts). */
function limit(key: keyof Limits, fallback: number) {
  return z.int().min(1).max(MAX_LIMITS[key], { error: `must be at most ${MAX_LIMITS[key]}, the sandbox's hard cap` }).default(fallback);
}

function limits(defaults: Readonly<Limits>) {
  return z.strictObject({
    cpuTimeMs: limit('cpuTimeMs', defaults.cpuTimeMs),
    wallTimeMs: limit('wallTimeMs', defaults.wallTimeMs),
    memoryKb: limit('memoryKb', defaults.memoryKb),
    outputBytesMax: limit('outputBytesMax', defaults.outputBytesMax),
    processesMax: limit('processesMax', defaults.processesMax),
    fileSizeKb: limit('fileSizeKb', defaults.fileSizeKb),
    openFilesMax: limit('openFilesMax', defaults.openFilesMax),
    workDirKb: limit('workDirKb', defaults.workDirKb),
  });
}

const sandbox = z.strictObject({
  /** The most a run may ask for. Lower them on small PCs: 8 runs × memoryKb must fit in RAM. */
  limitsMax: limits(MAX_LIMITS).prefault({}),
  /** What a run gets when it asks for nothing; the sandbox's defaults explain each value. */
  limitsDefault: limits(DEFAULT_LIMITS).prefault({}),
  /** Largest source a run may carry (all files): bounds Gateway memory and the wire's frames. */
  sourceBytesMax: z.int().min(1).max(SOURCE_BYTES_MAX, { error: `must be at most ${SOURCE_BYTES_MAX}` }).default(SOURCE_BYTES_MAX),
});

const queue = z.strictObject({
  /** Runs waiting for a Worker; past it the Gateway answers 503 rather than queue for minutes. */
  runsMax: z.int().min(1).max(100_000).default(256),
  /**
   * When every Worker refused a queued run (all busy or under pressure), the Assigner offers it
   * around again after this. Shorter finds a freed slot sooner, at more offers per waiting run;
   * 250 ms is half a heartbeat, so a slot freed in between is used before the next load report.
   */
  offerRetryMs: z.int().min(10).max(60_000).default(250),
});

const token = z.strictObject({
  /** Bearer token a client sends; long and random, since the lab network is shared with students. */
  token: z.string().min(AUTH_TOKEN_CHARS_MIN, { error: `must have at least ${AUTH_TOKEN_CHARS_MIN} characters` }).max(256),
  user: z.string().min(1).max(64),
  /** Runs this user may have at once: one student cannot fill the lab. */
  concurrentRunsMax: z.int().min(1).max(1_000).default(4),
});

const auth = z.strictObject({
  /** On by default: the Gateway is reachable by every student on the network. */
  enabled: z.boolean().default(true),
  tokens: z.array(token).max(AUTH_TOKENS_MAX).default([]),
});

/** The file's shape, field by field. */
export const labConfigShape = z.strictObject({
  cluster,
  gateway,
  nodes: z.array(node).min(1, { error: 'list at least one node' }).max(NODES_MAX),
  roles: roles.prefault({}),
  heartbeat: heartbeat.prefault({}),
  psi: psi.prefault({}),
  workers: workers.prefault({}),
  sandbox: sandbox.prefault({}),
  queue: queue.prefault({}),
  auth: auth.prefault({}),
});

export type LabConfigInput = z.input<typeof labConfigShape>;
export type ParsedLabConfig = z.output<typeof labConfigShape>;
export type NodeConfig = ParsedLabConfig['nodes'][number];

type DeepReadonly<T> = T extends (infer E)[]
  ? ReadonlyArray<DeepReadonly<E>>
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The loaded config: the secret is resolved (from secretFile if given) and everything is frozen. */
export type LabConfig = DeepReadonly<
  Omit<ParsedLabConfig, 'cluster'> & { cluster: { name: string; secret: string; secretFile?: string } }
>;

// workersPerHost lives in workers-per-host.ts (no zod: a Worker's heartbeat thread uses it).
export { workersPerHost } from './workers-per-host.js';
