import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig, randomSecret, type LabConfigInput, type NodeRole } from '../../src/config/index.js';
import { workerProcessName } from '../../src/agent/address-book.js';
import { addPc, assertLabAddress, LAB_PREFIX, pidsIn, powerOff, sh } from './netns.js';

// The lab itself: the PCs (one network namespace each), the lab config listing them by address,
// their node agents (`codearena node` started with `ip netns exec`), and the client process that
// drives load. Logs go to files in a temporary folder, named on failure.

const CLI = fileURLToPath(new URL('../../../bin/codearena.js', import.meta.url));
const CLIENT = fileURLToPath(new URL('./client.js', import.meta.url));

export interface PcSpec {
  name: string;
  ip: string;
  role: NodeRole;
}

/** Worker processes per Worker host: the machine has 2 cores shared with others, so 2 in all per PC at most. */
export const WORKERS_PER_HOST = 2;

/** The lab's PCs. The client is not a PC of the cluster: it is a student's machine on the same LAN. */
export const LAB_PCS: readonly PcSpec[] = [
  { name: 'gw', ip: `${LAB_PREFIX}.10`, role: 'gateway' },
  { name: 'mon-1', ip: `${LAB_PREFIX}.11`, role: 'monitor' },
  { name: 'mon-2', ip: `${LAB_PREFIX}.12`, role: 'monitor' },
  { name: 'asg-1', ip: `${LAB_PREFIX}.13`, role: 'assigner' },
  { name: 'asg-2', ip: `${LAB_PREFIX}.14`, role: 'assigner' },
  { name: 'wrk-1', ip: `${LAB_PREFIX}.21`, role: 'worker' },
  { name: 'wrk-2', ip: `${LAB_PREFIX}.22`, role: 'worker' },
  { name: 'empty-1', ip: `${LAB_PREFIX}.31`, role: 'empty' },
  { name: 'empty-2', ip: `${LAB_PREFIX}.32`, role: 'empty' },
  // Spares for everything that takes Empty nodes over a whole lab run: the Hydra's refills, the
  // Worker host added while runs stay queued, the replacement of a dead Assigner.
  { name: 'empty-3', ip: `${LAB_PREFIX}.33`, role: 'empty' },
  { name: 'empty-4', ip: `${LAB_PREFIX}.34`, role: 'empty' },
];
export const CLIENT_NS = 'client';
export const CLIENT_IP = `${LAB_PREFIX}.100`;
/** Reserved for the Gateway standby's virtual IP (not configured until the standby exists). */
export const GATEWAY_VIP = `${LAB_PREFIX}.9`;
export const GATEWAY_PORT = 8080;
const NODE_PORT = 7470;

export function pc(name: string): PcSpec {
  const p = LAB_PCS.find((x) => x.name === name);
  if (!p) throw new Error(`lab: no PC named ${name}`);
  return p;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** The harness's end of the client process: JSON-line requests with a deadline each. */
export class ClientLink {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(gatewayUrl: string, token: string, logFile: string, dieAfterMs: number) {
    const log = openSync(logFile, 'a');
    this.child = spawn('ip', ['netns', 'exec', CLIENT_NS, process.execPath, CLIENT, '--gateway', gatewayUrl, '--token', token, '--die-after-ms', String(dieAfterMs)], {
      stdio: ['pipe', 'pipe', log],
    });
    closeSync(log);
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let m: { id: number; ok: boolean; result?: unknown; error?: string };
      try {
        m = JSON.parse(line) as typeof m;
      } catch {
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error ?? 'client error'));
    });
    this.child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`lab client exited (${code ?? signal})`));
      }
      this.pending.clear();
    });
  }

  call<T>(op: string, args: unknown, timeoutMs: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`lab client: "${op}" got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin?.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  stop(): void {
    this.child.stdin?.end();
    setTimeout(() => this.child.kill('SIGKILL'), 1_000).unref();
  }
}

export class Lab {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-netlab-'));
  readonly configFile = path.join(this.dir, 'lab.json');
  readonly stateDir = path.join(this.dir, 'state');
  readonly psiDir = path.join(this.dir, 'psi');
  readonly token = randomBytes(18).toString('base64url');
  readonly agents = new Map<string, ChildProcess>();
  client!: ClientLink;

  constructor(private readonly opts: { realPsi: boolean; clientDieAfterMs: number }) {
    chmodSync(this.dir, 0o700);
    mkdirSync(this.stateDir);
    mkdirSync(this.psiDir);
  }

  get gatewayUrl(): string {
    return `http://${GATEWAY_VIP}:${GATEWAY_PORT}`;
  }

  /** The namespaces and the config; nothing runs yet. */
  build(): void {
    for (const p of LAB_PCS) addPc(p.name, p.ip);
    addPc(CLIENT_NS, CLIENT_IP);
    const config: LabConfigInput = {
      cluster: { name: 'lab', secret: randomSecret() },
      // Clients use the virtual IP: the Gateway holds it, the standby takes it over (gratuitous ARP).
      gateway: { host: 'gw', port: GATEWAY_PORT, virtualIp: GATEWAY_VIP },
      nodes: LAB_PCS.map((p) => ({ name: p.name, address: p.ip, port: NODE_PORT, role: p.role })),
      workers: { perHostMax: WORKERS_PER_HOST, slotsPerWorker: 1 },
      queue: { runsMax: 64 },
      auth: { enabled: true, tokens: [{ token: this.token, user: 'lab-client', concurrentRunsMax: 64 }] },
    };
    for (const n of config.nodes) assertLabAddress(n.address);
    writeFileSync(this.configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
    loadConfig(this.configFile); // refuse a bad config here, with its own message, not in nine PCs
    if (!this.opts.realPsi) {
      // The machine's PSI is system-wide and shared with other developers' work: pin every
      // possible Worker's pressure at 0 so the lab measures failover, not the neighbours' builds.
      for (const p of LAB_PCS) {
        for (let i = 0; i < WORKERS_PER_HOST; i++) writeFileSync(path.join(this.psiDir, `${workerProcessName(p.name, i)}.json`), JSON.stringify({ cpu: 0, memory: 0, io: 0 }));
      }
    }
  }

  /** Starts (or restarts, after a power-off) one PC's node agent inside its namespace. */
  startAgent(name: string): void {
    this.off.delete(name);
    const log = openSync(path.join(this.dir, `${name}.log`), 'a');
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (!this.opts.realPsi) env.CODEARENA_PSI_OVERRIDE_DIR = this.psiDir;
    const child = spawn('ip', ['netns', 'exec', name, process.execPath, CLI, 'node', '--config', this.configFile, '--name', name, '--state-dir', this.stateDir], {
      stdio: ['ignore', log, log],
      env,
    });
    closeSync(log);
    child.on('error', () => {});
    this.agents.set(name, child);
  }

  startAll(): void {
    for (const p of LAB_PCS) this.startAgent(p.name);
    this.client = new ClientLink(this.gatewayUrl, this.token, path.join(this.dir, 'client.log'), this.opts.clientDieAfterMs);
  }

  /** SIGKILLs every process of the PC: what switching it off does. Returns how many. */
  /** PCs powered off and not switched on again since. */
  readonly off = new Set<string>();

  powerOff(name: string): Promise<number> {
    this.off.add(name);
    return powerOff(name);
  }

  /** Stops everything: agents get SIGTERM and a grace period, then every namespace is emptied by SIGKILL. */
  async stop(): Promise<void> {
    this.client?.stop();
    for (const c of this.agents.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const deadline = Date.now() + 4_000;
    while (Date.now() < deadline && LAB_PCS.some((p) => safePids(p.name) > 0)) await new Promise((r) => setTimeout(r, 100));
    for (const ns of [...LAB_PCS.map((p) => p.name), CLIENT_NS]) {
      try {
        await powerOff(ns);
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // the outer namespace's end removes what is left
      }
    }
  }

  /** The last lines of every log, for a failure report. */
  logTails(lines = 15): string {
    if (!existsSync(this.dir)) return '';
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.log'))
      .sort()
      .map((f) => {
        const text = readFileSync(path.join(this.dir, f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
        return `--- ${path.join(this.dir, f)} (last ${lines} lines)\n${text}`;
      })
      .join('\n');
  }

  removeFiles(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function safePids(ns: string): number {
  try {
    return pidsIn(ns).length;
  } catch {
    return 0;
  }
}
