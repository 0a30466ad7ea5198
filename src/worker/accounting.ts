import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Puts this process (and so everything it starts: Worker processes, sandboxes) into a cgroup v2
 * group of CodeArena's own, for pressure accounting only: PSI is kept per v2 group even where no
 * controller is delegated, so the PC owner's pressure is the machine's minus CodeArena's.
 * Returns the group's directory, or null where no v2 hierarchy is writable (then Workers count all
 * of the machine's pressure, their own runs included, and say so in the log).
 */
export function accountingDir(cluster: string): string | null {
  const mount = v2Mount();
  return mount ? path.join(mount, `codearena-${cluster}`) : null;
}

/** Where the cgroup v2 hierarchy is mounted, or null. */
function v2Mount(): string | null {
  try {
    return (
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' - '))
        .find(([, right]) => right?.startsWith('cgroup2 '))?.[0]
        ?.split(' ')[4] ?? null
    );
  } catch {
    return null;
  }
}

/**
 * The cgroup v2 group the PC owner's sessions live in: `user.slice` (systemd-logind puts every
 * login session there; CodeArena's processes leave it for their accounting group), if the kernel
 * keeps pressure files for it. Null elsewhere (a cgroup-v1 or hybrid host like the CI machine, where
 * the v2 hierarchy holds no sessions). `v2Root` is for tests.
 */
export function ownerGroupDir(v2Root: string | null = v2Mount()): string | null {
  if (!v2Root) return null;
  const dir = path.join(v2Root, 'user.slice');
  try {
    readFileSync(path.join(dir, 'cpu.pressure'), 'utf8');
    return dir;
  } catch {
    return null;
  }
}

export function joinAccountingGroup(cluster: string, name: string): string | null {
  try {
    const clusterDir = accountingDir(cluster);
    if (!clusterDir) return null;
    const dir = path.join(clusterDir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'cgroup.procs'), String(process.pid));
    return clusterDir;
  } catch {
    return null;
  }
}

/** Removes a cluster's accounting groups that no process uses any more (busy ones stay). */
export function removeAccountingGroups(clusterDir: string): void {
  try {
    for (const child of readdirSync(clusterDir, { withFileTypes: true })) {
      if (child.isDirectory()) rmdirQuiet(path.join(clusterDir, child.name));
    }
    rmdirQuiet(clusterDir);
  } catch {
    // gone already
  }
}

function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // still in use (EBUSY) or gone
  }
}
