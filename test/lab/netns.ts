import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

// Network-namespace plumbing for the failover lab: one bridge in the lab's own (outer) network
// namespace, one namespace per lab PC attached to it by a veth, and the faults the lab injects
// (power-off, partition). Everything here shells out to `ip`; nothing here opens a socket.
//
// Safety: these helpers must only ever run inside the lab's outer namespace (main.ts checks that
// before calling any of them), because the machine's root namespace routes the lab's addresses
// (198.18.0.0/15) out to the real network.

/** The lab's subnet: 198.18.0.0/15 is reserved for benchmarking (RFC 2544); we use one /24 of it. */
export const LAB_PREFIX = '198.18.0';
export const LAB_MASK = 24;
export const BRIDGE = 'ca-lab0';

/** Every address the lab uses must be inside 198.18.0.0/15: a guard against a typo sending traffic elsewhere. */
export function assertLabAddress(ip: string): void {
  const m = /^198\.(18|19)\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) throw new Error(`lab: ${ip} is outside 198.18.0.0/15; refusing to use it`);
}

/** Runs a command and returns its stdout; throws with its stderr on failure. */
export function sh(cmd: string, args: string[], timeoutMs = 10_000): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** The same, without blocking the event loop (the harness keeps timing other things meanwhile). */
export function shAsync(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** This process's network namespace, as the kernel names it (net:[inode]). */
export function currentNetns(): string {
  return readlinkSync('/proc/self/ns/net');
}

/**
 * Makes `ip netns add` work inside the lab's private mount namespace: a tmpfs of our own on
 * /run/netns, so the lab's namespace files never appear in (or collide with) the machine's.
 */
export function privateNetnsDir(): void {
  sh('mount', ['--make-rprivate', '/']);
  mkdirSync('/run/netns', { recursive: true });
  sh('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=755', 'codearena-lab-netns', '/run/netns']);
}

export function createBridge(): void {
  sh('ip', ['link', 'set', 'lo', 'up']);
  sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  // No STP and no forwarding delay: a veth brought back up forwards at once, like a switch port.
  sh('ip', ['link', 'set', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
}

/** The bridge-side end of a PC's veth (at most 15 characters, as Linux requires). */
export function vethOf(ns: string): string {
  const name = `v-${ns}`;
  if (name.length > 15) throw new Error(`lab: namespace name ${ns} is too long for a veth name`);
  return name;
}

/** A lab PC: its own network namespace, eth0 on the bridge with one address, loopback up, no default route. */
export function addPc(ns: string, ip: string): void {
  assertLabAddress(ip);
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', vethOf(ns), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  sh('ip', ['link', 'set', vethOf(ns), 'master', BRIDGE, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', ns, 'addr', 'add', `${ip}/${LAB_MASK}`, 'dev', 'eth0']);
  sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  const routes = sh('ip', ['-n', ns, 'route', 'show', 'default']).trim();
  if (routes !== '') throw new Error(`lab: ${ns} has a default route (${routes}); refusing to go on`);
}

/** The MAC address of a PC's eth0. */
export function macOf(ns: string): string {
  const out = sh('ip', ['-n', ns, '-o', 'link', 'show', 'eth0']);
  const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
  if (!m) throw new Error(`lab: no MAC on ${ns}'s eth0: ${out}`);
  return m[1] as string;
}

/** A partition of one PC: its port on the "switch" goes down (or comes back). */
export function setLink(ns: string, up: boolean): Promise<string> {
  return shAsync('ip', ['link', 'set', vethOf(ns), up ? 'up' : 'down']);
}

export interface ArpEntry {
  ip: string;
  mac: string | null;
  state: string;
}

/**
 * The ARP (neighbour) entry a namespace holds for an address, e.g. the client's entry for the
 * Gateway's virtual IP: after a Gateway failover it must name the standby's MAC (gratuitous ARP).
 * Null when there is no entry.
 */
export async function arpEntry(ns: string, ip: string): Promise<ArpEntry | null> {
  assertLabAddress(ip);
  const out = (await shAsync('ip', ['-n', ns, 'neigh', 'show', ip])).trim();
  if (out === '') return null;
  // e.g. "198.18.0.10 dev eth0 lladdr 3a:…:01 REACHABLE" or "198.18.0.10 dev eth0 FAILED"
  const mac = /lladdr ([0-9a-f:]{17})/.exec(out)?.[1] ?? null;
  const state = out.split(/\s+/).at(-1) ?? '';
  return { ip, mac, state };
}

/** Process ids whose network namespace is `ns` (`ip netns pids`). */
export function pidsIn(ns: string): number[] {
  return sh('ip', ['netns', 'pids', ns])
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Every descendant of the given processes (sandboxes live in namespaces of their own but are still a PC's). */
function withDescendants(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const all = new Set<number>();
  const todo = [...roots];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    if (all.has(p)) continue;
    all.add(p);
    todo.push(...(children.get(p) ?? []));
  }
  return [...all];
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // gone already
    }
  }
}

/**
 * Power-off of a lab PC: every process in its namespace (and their descendants) is stopped first,
 * so none can react (a Worker host restarting its Workers), then SIGKILLed. Returns how many
 * processes were killed; retries until the namespace is empty or `timeoutMs` passes.
 */
export async function powerOff(ns: string, timeoutMs = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const killed = new Set<number>();
  for (;;) {
    const pids = withDescendants(pidsIn(ns));
    if (pids.length === 0) return killed.size;
    if (Date.now() > deadline) throw new Error(`lab: ${ns} still has processes after power-off: ${pids.join(' ')}`);
    signalAll(pids, 'SIGSTOP');
    signalAll(pids, 'SIGKILL');
    for (const p of pids) killed.add(p);
    await new Promise((r) => setTimeout(r, 50));
  }
}
