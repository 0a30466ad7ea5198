// Real servers as real processes on loopback, for the end-to-end tests: start, kill -9, stop,
// freeze (SIGSTOP) and restart any server of a generated world, each with its own SQLite file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localWorldYaml } from '../../src/world/local.js';
import { loadWorld, urlOf, type ContinentName, type World } from '../../src/world/world.js';

const CLI = fileURLToPath(new URL('../../../bin/blog.js', import.meta.url));

/**
 * Ports a test may use: [base, base + 200), claimed with a lock file named after it in the same
 * folder and with the same scheme as the repository's own test helpers (test/helpers/ports.ts),
 * so blog tests and local-cloud tests running side by side never share a range.
 */
const PORT_RANGE_WIDTH = 200;
const PORT_RANGES = Math.floor((32_768 - 20_000) / PORT_RANGE_WIDTH);
export function claimPortRange(): number {
  const dir = path.join(os.tmpdir(), 'codearena-test-ports');
  mkdirSync(dir, { recursive: true });
  const start = Math.floor(Math.random() * PORT_RANGES);
  for (let i = 0; i < PORT_RANGES; i++) {
    const base = 20_000 + ((start + i) % PORT_RANGES) * PORT_RANGE_WIDTH;
    const lock = path.join(dir, String(base));
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
    } catch {
      if (alive(Number(readFileSync(lock, 'utf8')))) continue;
      writeFileSync(lock, String(process.pid));
    }
    process.once('exit', () => rmSync(lock, { force: true }));
    return base;
  }
  throw new Error(`all ${PORT_RANGES} test port ranges are claimed (see ${dir})`);
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface TestWorldOptions {
  l2Continents: ContinentName[];
  intervals: Record<string, number>;
  bodyBytesMax?: number;
}

export class TestWorld {
  readonly dir: string;
  readonly world: World;
  readonly worldFile: string;
  private readonly procs = new Map<string, ChildProcess>();

  constructor(opts: TestWorldOptions) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'blog-e2e-'));
    this.worldFile = path.join(this.dir, 'world.yaml');
    const worldOpts = { basePort: claimPortRange(), l2Continents: opts.l2Continents, intervals: opts.intervals };
    writeFileSync(this.worldFile, localWorldYaml(opts.bodyBytesMax === undefined ? worldOpts : { ...worldOpts, bodyBytesMax: opts.bodyBytesMax }));
    this.world = loadWorld(this.worldFile);
  }

  url(name: string): string {
    const s = this.world.servers.find((x) => x.name === name);
    if (s === undefined) throw new Error(`no server ${name} in the test world`);
    return urlOf(s);
  }

  logOf(name: string): string {
    try {
      return readFileSync(path.join(this.dir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /**
   * Starts the named servers and waits until each answers /healthz: the L1s first, so an L2 hears
   * from its L1 at once (a slow machine could otherwise show it an L1 that is not there yet).
   */
  async start(...names: string[]): Promise<void> {
    const l1s = names.filter((n) => this.world.servers.find((s) => s.name === n)?.kind === 'l1');
    const l2s = names.filter((n) => !l1s.includes(n));
    if (l1s.length > 0) await this.spawnAll(l1s);
    if (l2s.length > 0) await this.spawnAll(l2s);
  }

  private async spawnAll(names: string[]): Promise<void> {
    for (const name of names) {
      const log = openSync(path.join(this.dir, `${name}.log`), 'a');
      const child = spawn(process.execPath, [CLI, 'node', '--world', this.worldFile, '--name', name, '--data', this.dir], {
        stdio: ['ignore', log, log],
      });
      this.procs.set(name, child);
    }
    await Promise.all(names.map((n) => this.waitHealthy(n)));
  }

  private async waitHealthy(name: string): Promise<void> {
    // Generous: on a machine loaded ten times over a Node process can take half a minute to start.
    const deadline = Date.now() + 90_000;
    const child = this.procs.get(name);
    while (Date.now() < deadline) {
      if (child !== undefined && child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${this.logOf(name).slice(-3000)}`);
      try {
        const r = await fetch(`${this.url(name)}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (r.ok) return;
      } catch {
        // not up yet
      }
      await sleep(100);
    }
    throw new Error(`${name} not healthy within 90 s:\n${this.logOf(name).slice(-3000)}`);
  }

  signal(name: string, sig: NodeJS.Signals): void {
    const child = this.procs.get(name);
    if (child === undefined || child.pid === undefined) throw new Error(`${name} is not running`);
    process.kill(child.pid, sig);
  }

  /** kill -9: no chance to flush or say goodbye. */
  async kill9(name: string): Promise<void> {
    const child = this.procs.get(name);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await gone;
    this.procs.delete(name);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.procs.keys()].map(async (name) => {
        const child = this.procs.get(name);
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGCONT');
        child.kill('SIGKILL');
        await gone;
      }),
    );
    this.procs.clear();
  }

  cleanup(): void {
    if (process.env['BLOG_E2E_KEEP'] === '1') {
      process.stderr.write(`blog e2e: kept ${this.dir}\n`);
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last === undefined ? '' : ` (last error: ${String(last)})`}`);
}

export interface HttpReply {
  status: number;
  body: any;
  headers: Headers;
}

export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpReply> {
  const init: RequestInit = { method, headers: { ...headers }, signal: AbortSignal.timeout(15_000) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: r.status, body: parsed, headers: r.headers };
}
