import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { CodeArenaError } from '../common/errors.js';
import { GATEWAY_PORT_DEFAULT, labConfigShape, NODE_PORT_DEFAULT } from './schema.js';

// `codearena init`: a commented example config for a small lab, with a fresh secret. The values
// shown are the schema's own defaults (read from it, so the example cannot drift from them).

/** 32 random bytes: 256 bits, 43 base64url characters, above the 32-character minimum. */
const SECRET_RANDOM_BYTES = 32;
const TOKEN_RANDOM_BYTES = 24;

export function randomSecret(): string {
  return randomBytes(SECRET_RANDOM_BYTES).toString('base64url');
}

export interface ExampleOptions {
  secret: string;
  /** The example user's API token; random when not given. */
  token?: string;
}

/** The example lab as commented YAML. Strings are JSON-quoted (valid YAML) so no secret can parse as a number. */
export function renderExampleConfig({ secret, token = randomBytes(TOKEN_RANDOM_BYTES).toString('base64url') }: ExampleOptions): string {
  const s = labConfigShape.shape;
  const roles = s.roles.parse(undefined);
  const heartbeat = s.heartbeat.parse(undefined);
  const psi = s.psi.parse(undefined);
  const workers = s.workers.parse(undefined);
  const { limitsMax: max, limitsDefault: def, sourceBytesMax } = s.sandbox.parse(undefined);
  const queue = s.queue.parse(undefined);
  return `# CodeArena lab config: one file for the whole lab; every lab PC's agent reads the same file
# (codearena node --config lab.yaml). Unknown fields are errors, so a typo cannot pass unnoticed.

cluster:
  # Shown in logs, metrics and the dashboard.
  name: lab-a
  # Every internal link is encrypted and authenticated with a key derived from this secret
  # (TLS-PSK); a PC without it gets nothing. Keep this file readable only by the CodeArena account
  # (chmod 600), or move the secret to its own file and write "secretFile: lab.secret" instead
  # (a relative path starts at this file's folder).
  secret: ${JSON.stringify(secret)}

gateway:
  # The lab PC (a node name below) that serves clients: HTTP API, WebSocket runs, web client.
  host: pc-01
  port: ${GATEWAY_PORT_DEFAULT}
  # A free address on the lab subnet: the serving Gateway adds it to the interface holding its own
  # address (same prefix) and the standby (a Monitor) takes it over with gratuitous ARP when the
  # Gateway PC dies, so clients keep one address. Needs CAP_NET_ADMIN (root, or setcap) and
  # iputils-arping; without the capability the agent logs one error line and serves on its own
  # address only. Uncomment to enable.
  # virtualIp: 192.168.10.250
  # Port the standby serves on after a takeover (default: port). Without a virtualIp, clients list
  # both addresses: codearena run --gateway http://192.168.10.11:8080,http://192.168.10.12:8080
  # standbyPort: ${GATEWAY_PORT_DEFAULT}

# Every lab PC. port is the internal protocol port (default ${NODE_PORT_DEFAULT}). role pins a PC to one
# role; leave it out and the Monitors' leader assigns roles, which is what lets the cluster heal.
nodes:
  - { name: pc-01, address: 192.168.10.11, port: ${NODE_PORT_DEFAULT}, role: gateway }
  - { name: pc-02, address: 192.168.10.12, port: ${NODE_PORT_DEFAULT}, role: monitor }
  - { name: pc-03, address: 192.168.10.13, port: ${NODE_PORT_DEFAULT}, role: monitor }
  - { name: pc-04, address: 192.168.10.14, port: ${NODE_PORT_DEFAULT}, role: assigner }
  - { name: pc-05, address: 192.168.10.15, port: ${NODE_PORT_DEFAULT}, role: assigner }
  - { name: pc-06, address: 192.168.10.16, port: ${NODE_PORT_DEFAULT}, role: worker }
  - { name: pc-07, address: 192.168.10.17, port: ${NODE_PORT_DEFAULT}, role: worker }
  - { name: pc-08, address: 192.168.10.18, port: ${NODE_PORT_DEFAULT}, role: worker }
  - { name: pc-09, address: 192.168.10.19, port: ${NODE_PORT_DEFAULT} }   # unpinned: starts Empty, promoted when a PC dies

# Minimum count of each role; when a PC dies, an Empty one is promoted to restore them.
roles:
  monitorsMin: ${roles.monitorsMin}      # at least 2: one Monitor would be a single point of failure
  assignersMin: ${roles.assignersMin}     # even, at least 2: Assigners replicate runs in buddy pairs
  workerHostsMin: ${roles.workerHostsMin}
  orderRetryMs: ${roles.orderRetryMs}   # a node still in its old role this long after an order is ordered again

heartbeat:
  intervalMs: ${heartbeat.intervalMs}       # faster finds failures sooner but costs Monitor traffic
  missedLimit: ${heartbeat.missedLimit}        # missed in a row before a node is dead
  gatewayIntervalMs: ${heartbeat.gatewayIntervalMs} # the Gateway is watched faster: failover within about a second

# Linux CPU pressure (PSI): the share of the window in which some task waited for a CPU.
psi:
  acceptBelow: ${psi.acceptBelow}    # Workers accept runs only below this: the person at the PC comes first
  pauseAbove: ${psi.pauseAbove}     # above this, batch runs are paused or moved elsewhere
  windowMs: ${psi.windowMs}

workers:
  perHostMax: ${workers.perHostMax}  # "cores" = each PC's own core count; a number leaves cores to its user
  slotsPerWorker: ${workers.slotsPerWorker}   # one run per Worker keeps timings fair for judging

# Per-run sandbox limits: the most a run may ask for, and what it gets by default.
sandbox:
  limitsMax:
    cpuTimeMs: ${max.cpuTimeMs}
    wallTimeMs: ${max.wallTimeMs}
    memoryKb: ${max.memoryKb}
    outputBytesMax: ${max.outputBytesMax}
    processesMax: ${max.processesMax}
    fileSizeKb: ${max.fileSizeKb}
    openFilesMax: ${max.openFilesMax}
    workDirKb: ${max.workDirKb}
  limitsDefault:
    cpuTimeMs: ${def.cpuTimeMs}
    wallTimeMs: ${def.wallTimeMs}
    memoryKb: ${def.memoryKb}
    outputBytesMax: ${def.outputBytesMax}
    processesMax: ${def.processesMax}
    fileSizeKb: ${def.fileSizeKb}
    openFilesMax: ${def.openFilesMax}
    workDirKb: ${def.workDirKb}
  sourceBytesMax: ${sourceBytesMax}

queue:
  runsMax: ${queue.runsMax}   # runs waiting for a Worker; past it clients get 503 instead of a long wait
  offerRetryMs: ${queue.offerRetryMs}   # every Worker refused a run: it is offered around again after this

# API tokens. Keep auth on: the Gateway is reachable by everyone on the lab network.
auth:
  enabled: true
  tokens:
    - { token: ${JSON.stringify(token)}, user: teacher, concurrentRunsMax: 8 }
`;
}

export interface WriteExampleOptions {
  force?: boolean;
  secret?: string;
}

/** Writes the example (mode 600: it holds the secret); refuses to overwrite unless force. */
export function writeExampleConfig(filePath: string, { force = false, secret = randomSecret() }: WriteExampleOptions = {}): void {
  try {
    writeFileSync(filePath, renderExampleConfig({ secret }), { mode: 0o600, flag: force ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CodeArenaError('BAD_CONFIG', `${filePath} already exists`, 'pass --force to overwrite it, or choose another path with --out');
    }
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CodeArenaError('BAD_CONFIG', `cannot write ${filePath} (${code})`, 'check that its folder exists and is writable');
  }
  // An overwritten file keeps its old mode; the secret must not stay world-readable.
  chmodSync(filePath, 0o600);
}
