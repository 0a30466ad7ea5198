import { readFileSync } from 'node:fs';

/**
 * Short-window pressure (PSI) of this machine, for admission: Linux's `avg10` is a 10-second
 * average and lags by seconds, so the sampler differences the cumulative `total` counters
 * (microseconds stalled) over its own window instead.
 *
 * Whose pressure: the machine's. With cgroup v2 the owner's part could be read from its own
 * cgroup's pressure files; on a v1 host (like the CI machine) only the system-wide files exist, so
 * the Worker's own sandboxed runs count too — they run at nice 19 and idle I/O priority, so they
 * add little "some" pressure to others. `pressureRoot` points at another directory for that case.
 */
export interface Pressure {
  cpu: number;
  memory: number;
  io: number;
}

export interface PsiOptions {
  /** Directory holding cpu, memory, io files in /proc/pressure format. */
  pressureRoot?: string;
  /** Test hook: a JSON file {"cpu":0.9,...} whose values override what is measured. */
  overrideFile?: string;
  /**
   * A cgroup v2 directory holding CodeArena's own processes: its pressure is subtracted, so the
   * figure is the PC owner's, not the Worker's own runs'. Only a lower bound of the owner's:
   * "some" pressure does not subtract, and CodeArena's nice-19 runs are stalled exactly while the
   * owner's programs run, so on a busy PC the two cancel (measured: `npm run bench -- seated`).
   */
  excludeGroup?: string;
  /**
   * A cgroup v2 directory holding the PC owner's processes (`user.slice` on a systemd PC, see
   * accounting.ts ownerGroupDir): its own pressure is the owner's, read directly; preferred over
   * the machine's minus excludeGroup's whenever its files can be read.
   */
  ownerGroup?: string;
  /** The window the pressure is measured over: short enough to react in seconds, long enough
   * not to flap on one busy scheduler tick. Default 2 s. */
  windowMs?: number;
}

/** Samples kept for the window: one per ping at most, 4 per second. */
const SAMPLES_MAX = 256;

const RESOURCES = ['cpu', 'memory', 'io'] as const;

function readTotalUs(file: string): number | null {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null; // no PSI on this kernel: pressure counts as 0
  }
}

export class PsiSampler {
  private samples: Array<{ atMs: number; totals: Record<string, number | null> }> = [];
  private current: Pressure = { cpu: 0, memory: 0, io: 0 };
  private readonly root: string;

  constructor(private readonly opts: PsiOptions = {}) {
    this.root = opts.pressureRoot ?? '/proc/pressure';
  }

  /** Takes a sample; the pressure is the stalled share of the time over the last window. */
  sample(nowMs: number): Pressure {
    const totals: Record<string, number | null> = {};
    for (const r of RESOURCES) {
      const owner = this.opts.ownerGroup ? readTotalUs(`${this.opts.ownerGroup}/${r}.pressure`) : null;
      if (owner !== null) {
        totals[r] = owner;
        continue;
      }
      const all = readTotalUs(`${this.root}/${r}`);
      const ours = this.opts.excludeGroup ? readTotalUs(`${this.opts.excludeGroup}/${r}.pressure`) : 0;
      // "some" is the time at least one task stalled: the owner's share is at least all − ours.
      totals[r] = all === null ? null : all - (ours ?? 0);
    }
    const windowMs = this.opts.windowMs ?? 2_000;
    // Keep the newest sample that is at least a window old as the window's start.
    while (this.samples.length > 1 && (this.samples[1] as { atMs: number }).atMs <= nowMs - windowMs) this.samples.shift();
    if (this.samples.length >= SAMPLES_MAX) this.samples.shift();
    const first = this.samples[0];
    if (first && nowMs > first.atMs) {
      const spanUs = (nowMs - first.atMs) * 1000;
      const share = (r: string) => {
        const a = first.totals[r];
        const b = totals[r];
        if (a == null || b == null) return 0;
        return Math.min(1, Math.max(0, (b - a) / spanUs));
      };
      this.current = { cpu: share('cpu'), memory: share('memory'), io: share('io') };
    }
    this.samples.push({ atMs: nowMs, totals });
    return this.read();
  }

  /** The latest figure, with the test override applied. */
  read(): Pressure {
    if (!this.opts.overrideFile) return this.current;
    try {
      const o = JSON.parse(readFileSync(this.opts.overrideFile, 'utf8')) as Partial<Pressure>;
      return { cpu: o.cpu ?? this.current.cpu, memory: o.memory ?? this.current.memory, io: o.io ?? this.current.io };
    } catch {
      return this.current;
    }
  }
}

/** The highest of the three: any stalled resource means the person at the PC is waiting. */
export function worstPressure(p: Pressure): number {
  return Math.max(p.cpu, p.memory, p.io);
}
