import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Per-run memory and pids caps. RLIMIT_NPROC counts every process of the real user, so it is shared
 * by all sandboxes of one Worker host; only a cgroup per run caps one run without touching its
 * neighbours. Where no cgroup is writable the caller falls back to rlimits and says so.
 */
export type LimitsMechanism = 'cgroup-v2' | 'cgroup-v1' | 'rlimit';

export interface CgroupLimits {
  memoryKb: number;
  processesMax: number;
}

export interface RunCgroup {
  readonly mechanism: 'cgroup-v1' | 'cgroup-v2';
  setLimits(limits: CgroupLimits): void;
  /** Moves a process (not its existing children) into the group. */
  addProcess(pid: number): void;
  /** Kernel OOM kills in this group so far. */
  oomKills(): number;
  /** Fork attempts refused by the pids cap so far. */
  pidsRefused(): number;
  /** Peak memory of the group so far in KB (0 where the kernel does not keep it). */
  peakMemoryKb(): number;
  /** CPU time of the group so far in microseconds (0 where it is not accounted: v1 without cpuacct). */
  cpuUsageUs(): number;
  remove(): void;
}

export interface CgroupFactory {
  readonly mechanism: LimitsMechanism;
  /** Why a cgroup could not be used, when it could not. */
  readonly reason: string;
  create(name: string): RunCgroup | null;
}

interface Mount {
  point: string;
  fstype: string;
  superOptions: string[];
}

function readMounts(): Mount[] {
  const out: Mount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    out.push({ point: left[4] ?? '', fstype: right[0] ?? '', superOptions: (right[2] ?? '').split(',') });
  }
  return out;
}

/** "controller" -> path of this process's cgroup in that v1 hierarchy; "" key -> v2 path. */
function ownCgroups(): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const ctl of (m[1] as string).split(',')) map.set(ctl, m[2] as string);
  }
  return map;
}

function readNumberField(file: string, field: string): number {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k === field) return Number(v) || 0;
    }
  } catch {
    // The group is gone or the field is not there on this kernel: nothing counted.
  }
  return 0;
}

function readNumber(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function removeDir(dir: string): void {
  // A group empties a moment after its last process is reaped; retry briefly.
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}

class V1Group implements RunCgroup {
  readonly mechanism = 'cgroup-v1' as const;
  constructor(private readonly memoryDir: string, private readonly pidsDir: string) {}

  setLimits(limits: CgroupLimits): void {
    const bytes = String(limits.memoryKb * 1024);
    writeFileSync(path.join(this.memoryDir, 'memory.swappiness'), '0');
    // Raise order matters in v1: memsw must stay >= limit, so write both in the safe order.
    const memsw = path.join(this.memoryDir, 'memory.memsw.limit_in_bytes');
    const hasMemsw = existsSync(memsw);
    const current = Number(readFileSync(path.join(this.memoryDir, 'memory.limit_in_bytes'), 'utf8'));
    if (hasMemsw && limits.memoryKb * 1024 > current) writeFileSync(memsw, bytes);
    writeFileSync(path.join(this.memoryDir, 'memory.limit_in_bytes'), bytes);
    if (hasMemsw) writeFileSync(memsw, bytes);
    writeFileSync(path.join(this.pidsDir, 'pids.max'), String(limits.processesMax));
  }

  addProcess(pid: number): void {
    writeFileSync(path.join(this.memoryDir, 'cgroup.procs'), String(pid));
    writeFileSync(path.join(this.pidsDir, 'cgroup.procs'), String(pid));
  }

  oomKills(): number {
    return readNumberField(path.join(this.memoryDir, 'memory.oom_control'), 'oom_kill');
  }

  pidsRefused(): number {
    return readNumberField(path.join(this.pidsDir, 'pids.events'), 'max');
  }

  peakMemoryKb(): number {
    return Math.round(readNumber(path.join(this.memoryDir, 'memory.max_usage_in_bytes')) / 1024);
  }

  cpuUsageUs(): number {
    return 0;
  }

  remove(): void {
    removeDir(this.memoryDir);
    removeDir(this.pidsDir);
  }
}

class V2Group implements RunCgroup {
  readonly mechanism = 'cgroup-v2' as const;
  constructor(private readonly dir: string) {}

  setLimits(limits: CgroupLimits): void {
    writeFileSync(path.join(this.dir, 'memory.max'), String(limits.memoryKb * 1024));
    try {
      writeFileSync(path.join(this.dir, 'memory.swap.max'), '0');
    } catch {
      // No swap accounting on this host: memory.max alone holds.
    }
    writeFileSync(path.join(this.dir, 'pids.max'), String(limits.processesMax));
  }

  addProcess(pid: number): void {
    writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  oomKills(): number {
    return readNumberField(path.join(this.dir, 'memory.events'), 'oom_kill');
  }

  pidsRefused(): number {
    return readNumberField(path.join(this.dir, 'pids.events'), 'max');
  }

  peakMemoryKb(): number {
    // memory.peak exists from Linux 5.19.
    return Math.round(readNumber(path.join(this.dir, 'memory.peak')) / 1024);
  }

  cpuUsageUs(): number {
    return readNumberField(path.join(this.dir, 'cpu.stat'), 'usage_usec');
  }

  remove(): void {
    removeDir(this.dir);
  }
}

const RLIMIT_ONLY = (reason: string): CgroupFactory => ({ mechanism: 'rlimit', reason, create: () => null });

function tryV1(mounts: Mount[], own: Map<string, string>, tag: string): CgroupFactory | string {
  const dirFor = (ctl: string): string | null => {
    const m = mounts.find((x) => x.fstype === 'cgroup' && x.superOptions.includes(ctl));
    const rel = own.get(ctl);
    return m && rel !== undefined ? path.join(m.point, rel, tag) : null;
  };
  const memBase = dirFor('memory');
  const pidsBase = dirFor('pids');
  if (!memBase || !pidsBase) return 'no cgroup v1 memory and pids hierarchies';
  try {
    mkdirSync(memBase, { recursive: true });
    mkdirSync(pidsBase, { recursive: true });
  } catch (err) {
    return `cgroup v1 not writable (${(err as NodeJS.ErrnoException).code})`;
  }
  return {
    mechanism: 'cgroup-v1',
    reason: '',
    create(name: string): RunCgroup | null {
      const memoryDir = path.join(memBase, name);
      const pidsDir = path.join(pidsBase, name);
      mkdirSync(memoryDir);
      mkdirSync(pidsDir);
      return new V1Group(memoryDir, pidsDir);
    },
  };
}

function tryV2(mounts: Mount[], own: Map<string, string>, tag: string): CgroupFactory | string {
  const mount = mounts.find((x) => x.fstype === 'cgroup2');
  const rel = own.get('');
  if (!mount || rel === undefined) return 'no cgroup v2 mount';
  const ownDir = path.join(mount.point, rel);
  let controllers: string[];
  try {
    controllers = readFileSync(path.join(ownDir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  } catch {
    return 'cgroup v2: own group unreadable';
  }
  if (!controllers.includes('memory') || !controllers.includes('pids')) {
    return 'cgroup v2 delegates no memory and pids controllers here (run the node under `systemd-run --user --scope -p Delegate=yes`)';
  }
  // "No internal processes": this process moves into a leaf of its own before the controllers can
  // be enabled for the runs' groups beside it.
  const runs = path.join(ownDir, tag);
  try {
    const self = path.join(ownDir, `${tag}-supervisor`);
    mkdirSync(self, { recursive: true });
    writeFileSync(path.join(self, 'cgroup.procs'), String(process.pid));
    writeFileSync(path.join(ownDir, 'cgroup.subtree_control'), '+memory +pids');
    mkdirSync(runs, { recursive: true });
    writeFileSync(path.join(runs, 'cgroup.subtree_control'), '+memory +pids');
  } catch (err) {
    return `cgroup v2 not writable (${(err as NodeJS.ErrnoException).code})`;
  }
  return {
    mechanism: 'cgroup-v2',
    reason: '',
    create(name: string): RunCgroup | null {
      const dir = path.join(runs, name);
      mkdirSync(dir);
      return new V2Group(dir);
    },
  };
}

let cached: CgroupFactory | null = null;

/**
 * Picks the per-run cap mechanism once per process: v2 where delegated, v1 where writable, else
 * rlimits. CODEARENA_CGROUP=off forces rlimits (tests of the fallback use it).
 */
export function cgroupFactory(): CgroupFactory {
  if (cached) return cached;
  const forced = process.env.CODEARENA_CGROUP ?? 'auto';
  if (forced === 'off') return (cached = RLIMIT_ONLY('cgroups turned off by CODEARENA_CGROUP=off'));
  const tag = `codearena-${process.pid}`;
  let mounts: Mount[];
  let own: Map<string, string>;
  try {
    mounts = readMounts();
    own = ownCgroups();
  } catch {
    return (cached = RLIMIT_ONLY('cannot read /proc/self/cgroup'));
  }
  const reasons: string[] = [];
  for (const attempt of [tryV2, tryV1]) {
    const r = attempt(mounts, own, tag);
    if (typeof r !== 'string') {
      cached = r;
      process.once('exit', () => cleanupTag(mounts, own, tag));
      return r;
    }
    reasons.push(r);
  }
  return (cached = RLIMIT_ONLY(reasons.join('; ')));
}

function cleanupTag(mounts: Mount[], own: Map<string, string>, tag: string): void {
  const dirs: string[] = [];
  for (const m of mounts) {
    if (m.fstype === 'cgroup') {
      for (const ctl of ['memory', 'pids']) {
        const rel = own.get(ctl);
        if (m.superOptions.includes(ctl) && rel !== undefined) dirs.push(path.join(m.point, rel, tag));
      }
    } else if (m.fstype === 'cgroup2' && own.get('') !== undefined) {
      dirs.push(path.join(m.point, own.get('') as string, tag));
    }
  }
  for (const dir of dirs) {
    try {
      for (const child of readdirSync(dir, { withFileTypes: true })) {
        if (child.isDirectory()) removeDir(path.join(dir, child.name));
      }
      removeDir(dir);
    } catch {
      // Already gone.
    }
  }
}
