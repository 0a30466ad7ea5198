import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

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

/** A pressure file is two lines of ~60 characters; a cgroup's adds nothing longer. */
const PRESSURE_FILE_BYTES_MAX = 512;
/** A file that could not be opened (no PSI, no such cgroup yet) is tried again this much later. */
const REOPEN_AFTER_MS = 10_000;

/**
 * Pressure files held open and read from the start each sample (one pread instead of open, read
 * and close, and none of readFileSync's option handling: the sample runs on every node twice a
 * second, and on a Monitor it was ~8% of its idle CPU). The kernel renders the file anew on each
 * read from offset 0, so an open descriptor always reads the current figures.
 */
class PressureFiles {
  private readonly fds = new Map<string, number | { retryAtMs: number }>();
  private readonly buf = Buffer.alloc(PRESSURE_FILE_BYTES_MAX);

  /** The `some` line's cumulative stall in microseconds; null when the file cannot be read. */
  totalUs(file: string, nowMs: number): number | null {
    let fd = this.fds.get(file);
    if (fd === undefined || (typeof fd === 'object' && nowMs >= fd.retryAtMs)) {
      try {
        fd = openSync(file, 'r');
      } catch {
        fd = { retryAtMs: nowMs + REOPEN_AFTER_MS }; // no PSI on this kernel, or no such group: 0
      }
      this.fds.set(file, fd);
    }
    if (typeof fd === 'object') return null;
    try {
      const n = readSync(fd, this.buf, 0, this.buf.length, 0);
      const m = /^some .*total=(\d+)/m.exec(this.buf.toString('latin1', 0, n));
      return m ? Number(m[1]) : null;
    } catch {
      try {
        closeSync(fd); // the group went away: open it again later
      } catch {
        // already gone
      }
      this.fds.set(file, { retryAtMs: nowMs + REOPEN_AFTER_MS });
      return null;
    }
  }
}

export class PsiSampler {
  private samples: Array<{ atMs: number; totals: Record<string, number | null> }> = [];
  private current: Pressure = { cpu: 0, memory: 0, io: 0 };
  private readonly root: string;
  private readonly files = new PressureFiles();

  constructor(private readonly opts: PsiOptions = {}) {
    this.root = opts.pressureRoot ?? '/proc/pressure';
  }

  /** Takes a sample; the pressure is the stalled share of the time over the last window. */
  sample(nowMs: number): Pressure {
    const totals: Record<string, number | null> = {};
    for (const r of RESOURCES) {
      const owner = this.opts.ownerGroup ? this.files.totalUs(`${this.opts.ownerGroup}/${r}.pressure`, nowMs) : null;
      if (owner !== null) {
        totals[r] = owner;
        continue;
      }
      const all = this.files.totalUs(`${this.root}/${r}`, nowMs);
      const ours = this.opts.excludeGroup ? this.files.totalUs(`${this.opts.excludeGroup}/${r}.pressure`, nowMs) : 0;
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
