import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodeArenaError } from '../common/errors.js';
import { cgroupFactory, type RunCgroup } from './cgroups.js';
import { ControlParser, encodeFile, encodePhase, type ControlMessage, type PhaseCommand, type PhaseReport } from './control.js';
import { LANGUAGES } from './languages.js';

/** The unprivileged user a root-run Worker starts sandboxes as (created by scripts/setup.sh). */
export const SANDBOX_USER = 'codearena-sbx';
/** CODEARENA_BWRAP points at another bwrap (tests use it to simulate a broken one). */
const BWRAP = process.env.CODEARENA_BWRAP ?? '/usr/bin/bwrap';
const READY_TIMEOUT_MS = 10_000;
/** After bwrap exits, how long its pipes may take to drain before they are cut. */
const CLOSE_GRACE_MS = 5_000;
/**
 * How long ca-init gets to stop a phase on K and report before bwrap itself is killed. ca-init
 * acts in microseconds; it can only miss this while blocked relaying a pty's output to a host
 * that stopped reading.
 */
const STOP_GRACE_MS = 1_000;

export interface SandboxOptions {
  workDirKb: number;
  tmpDirKb: number;
}

let sandboxIds: { uid: number; gid: number } | null | undefined;

function sandboxIdentity(): { uid: number; gid: number } | null {
  if (sandboxIds !== undefined) return sandboxIds;
  if (process.getuid?.() !== 0) return (sandboxIds = null);
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${SANDBOX_USER}:`));
  if (!line) {
    throw new CodeArenaError(
      'SANDBOX_USER_MISSING',
      `running as root but the unprivileged sandbox user "${SANDBOX_USER}" does not exist`,
      'run scripts/setup.sh as root (it creates the user), or run codearena as a normal user',
    );
  }
  const [, , uid, gid] = line.split(':');
  return (sandboxIds = { uid: Number(uid), gid: Number(gid) });
}

let initPath: string | null = null;

/**
 * ca-init is bound into every sandbox from a root- (or self-) owned cache dir that the sandbox user
 * can traverse: the checkout itself may sit under a home directory the sandbox user cannot enter.
 */
function installedInit(): string {
  if (initPath) return initPath;
  const built = fileURLToPath(new URL('../../native/ca-init', import.meta.url));
  if (!existsSync(built)) {
    throw new CodeArenaError('INIT_MISSING', `sandbox init not built (${built} missing)`, 'run `npm run build`');
  }
  const hash = createHash('sha256').update(readFileSync(built)).digest('hex').slice(0, 16);
  const uid = process.getuid?.() ?? 0;
  const dir = path.join(os.tmpdir(), `codearena-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid) {
    throw new CodeArenaError('INIT_MISSING', `${dir} is not a directory owned by uid ${uid}`, `remove ${dir} and retry`);
  }
  chmodSync(dir, 0o755);
  const target = path.join(dir, `ca-init-${hash}`);
  if (!existsSync(target)) {
    const tmp = `${target}.${process.pid}`;
    copyFileSync(built, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, target);
  }
  return (initPath = target);
}

function bwrapArgs(opts: SandboxOptions, init: string): string[] {
  const args = [
    '--unshare-all', // user, ipc, pid, net, uts, cgroup
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--as-pid-1',
    '--clearenv',
    '--hostname', 'sandbox',
    '--ro-bind', '/usr', '/usr',
    '--symlink', 'usr/lib', '/lib',
    '--symlink', 'usr/lib64', '/lib64',
    '--symlink', 'usr/bin', '/bin',
    '--symlink', 'usr/sbin', '/sbin',
    '--proc', '/proc',
    '--dev', '/dev',
    '--size', String(opts.workDirKb * 1024), '--tmpfs', '/work',
    '--size', String(opts.tmpDirKb * 1024), '--tmpfs', '/tmp',
  ];
  // Language files outside /usr; every sandbox gets them so that a pooled one fits any language.
  // ld.so.cache spares every dynamic program a search of the library path (~4 ms for python3).
  const extra = new Set(['/etc/ld.so.cache', ...LANGUAGES.flatMap((l) => l.readOnlyPaths)]);
  for (const p of extra) if (existsSync(p)) args.push('--ro-bind', p, p);
  args.push('--ro-bind', init, '/.ca-init', '--chdir', '/work', '/.ca-init');
  return args;
}

/** Host pids of every process under pid (itself included), read from /proc. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && i < 64; i++) {
    const p = out[i] as number;
    try {
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/**
 * One bwrap sandbox with ca-init waiting inside. Started ahead (see SandboxPool) or on demand;
 * used for exactly one run: files, an optional capture phase (compile), then one final phase.
 */
export class SandboxProcess {
  readonly child: ChildProcess;
  readonly cgroup: RunCgroup | null;
  readonly ready: Promise<void>;
  private readonly parser = new ControlParser();
  private pendingExit: ((r: PhaseReport) => void) | null = null;
  private onOutput: ((data: Buffer) => void) | null = null;
  private failure: string | null = null;
  private failureListeners: Array<(why: string) => void> = [];
  private stderrTail = '';
  exited = false;

  static start(opts: SandboxOptions): SandboxProcess {
    return new SandboxProcess(opts);
  }

  private constructor(opts: SandboxOptions) {
    const ids = sandboxIdentity();
    const init = installedInit();
    if (!existsSync(BWRAP)) {
      throw new CodeArenaError('BWRAP_MISSING', 'bubblewrap (bwrap) is not installed', 'apt-get install bubblewrap (or run scripts/setup.sh as root)');
    }
    const factory = cgroupFactory();
    this.cgroup = factory.create(`sb-${process.pid}-${nextId++}`);
    this.child = spawn(BWRAP, bwrapArgs(opts, init), {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: {},
      ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
    const ctl = this.child.stdio[4] as NodeJS.ReadableStream;
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail('sandbox did not start in time');
      }, READY_TIMEOUT_MS);
      this.failureListeners.push((why) => {
        clearTimeout(timer);
        reject(this.startError(why));
      });
      ctl.on('data', (data: Buffer) => {
        let msgs: ControlMessage[];
        try {
          msgs = this.parser.feed(data);
        } catch (err) {
          this.fail((err as Error).message);
          return;
        }
        for (const m of msgs) {
          if (m.kind === 'ready') {
            clearTimeout(timer);
            this.isReady = true;
            try {
              this.joinCgroup();
            } catch (err) {
              this.fail(`cannot move the sandbox into its cgroup: ${(err as Error).message}`);
              return;
            }
            resolve();
          } else this.handle(m);
        }
      });
    });
    this.ready.catch(() => {});
    // Before the final phase stderr is bwrap's own; keep its tail to explain a failed start.
    this.child.stderr?.on('data', (d: Buffer) => {
      if (!this.finalPhaseStarted) this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    this.child.on('error', (err) => this.fail(err.message));
    this.closedPromise = new Promise<void>((resolve) =>
      this.child.once('close', () => {
        resolve();
        // Removing a v1 memory cgroup takes milliseconds: keep it off the run's critical path.
        setImmediate(() => this.cgroup?.remove());
      }),
    );
    this.child.on('exit', () => {
      this.exited = true;
      // 'close' waits until every pipe is read to its end. fd 3 is only ever written, and before
      // the final phase nobody reads the program's streams: end those now, or 'close' never comes.
      (this.child.stdio[3] as { destroy(): void } | null)?.destroy();
      if (!this.finalPhaseStarted) for (const s of [this.child.stdout, this.child.stderr]) s?.destroy();
      // A consumer that stopped reading must not hold the sandbox open forever either.
      setTimeout(() => {
        for (const s of this.child.stdio) (s as { destroy?: () => void } | null)?.destroy?.();
      }, CLOSE_GRACE_MS).unref();
    });
    // 'close' comes after stderr is drained, so bwrap's own complaint is in the tail by then.
    this.child.on('close', () => {
      if (this.pendingExit || !this.isReady) this.fail(this.stderrTail.trim() || 'sandbox ended without a report');
    });
    (this.child.stdin as NodeJS.WritableStream).on('error', () => {});
    (this.child.stdio[3] as NodeJS.WritableStream).on('error', () => {});
  }

  finalPhaseStarted = false;
  private isReady = false;
  private readonly closedPromise: Promise<void>;

  private joinCgroup(): void {
    if (!this.cgroup || !this.child.pid) return;
    // ca-init waits for commands, so the tree (bwrap, ca-init) is still; later forks inherit.
    for (const pid of processTree(this.child.pid)) this.cgroup.addProcess(pid);
  }

  private startError(why: string): CodeArenaError {
    if (/setting up uid map|No permissions to creat|Operation not permitted|user namespace/i.test(why)) {
      return new CodeArenaError(
        'USERNS_DISABLED',
        `bwrap cannot create a user namespace (${why.split('\n')[0]})`,
        'enable unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000',
      );
    }
    return new CodeArenaError('SANDBOX_FAILED', `sandbox failed to start: ${why.split('\n')[0]}`, 'see `codearena languages` and scripts/setup.sh');
  }

  private handle(m: ControlMessage): void {
    switch (m.kind) {
      case 'ready':
        return;
      case 'output':
        this.onOutput?.(m.data);
        return;
      case 'exit': {
        const done = this.pendingExit;
        this.pendingExit = null;
        done?.(m.report);
        return;
      }
      case 'error':
        this.fail(`sandbox init: ${m.message}`);
        return;
      default: {
        const never: never = m;
        throw new Error(`unhandled ${JSON.stringify(never)}`);
      }
    }
  }

  private fail(why: string): void {
    if (this.failure) return;
    this.failure = why;
    for (const fn of this.failureListeners) fn(why);
    this.failureListeners = [];
    this.kill();
  }

  private sendControl(buf: Buffer): void {
    (this.child.stdio[3] as NodeJS.WritableStream).write(buf);
  }

  writeFile(name: string, content: Buffer, mode = 0o644): void {
    this.sendControl(encodeFile(name, content, mode));
  }

  /**
   * Runs one phase and resolves with ca-init's report. Capture-mode output arrives via onOutput;
   * pipe and pty output on the child's stdout/stderr. Rejects if the sandbox dies without a report.
   */
  runPhase(cmd: PhaseCommand, onOutput?: (data: Buffer) => void): Promise<PhaseReport> {
    if (cmd.mode !== 'capture') this.finalPhaseStarted = true;
    return new Promise<PhaseReport>((resolve, reject) => {
      if (this.failure) return reject(new Error(this.failure));
      this.onOutput = onOutput ?? null;
      this.pendingExit = resolve;
      this.failureListeners.push((why) => reject(new Error(why)));
      this.sendControl(encodePhase(cmd));
    });
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /**
   * Stops the running phase through ca-init, which kills the program and still reports its CPU
   * time, wall time and peak memory; bwrap is killed if no report comes within STOP_GRACE_MS.
   * Before the sandbox is ready (or after it ended) it is killed at once.
   */
  stopPhase(): void {
    if (this.exited) return;
    if (!this.isReady || !this.pendingExit) {
      this.kill();
      return;
    }
    this.sendControl(Buffer.from('K\n'));
    setTimeout(() => this.kill(), STOP_GRACE_MS).unref();
  }

  /** Resolves once bwrap has exited and every stdio stream is closed (nothing of the run is left). */
  closed(): Promise<void> {
    return this.closedPromise;
  }
}

let nextId = 0;

/**
 * Kills sandboxes left behind by a Worker that was killed while one was starting. bwrap's outer
 * process dies with its parent, but a child it had already cloned into the new namespaces, still
 * waiting for its user-ID map, is orphaned there for good. Such a process is a bwrap whose command
 * is ca-init and whose parent is gone (ppid 1); a sandbox in use always has its outer bwrap as parent.
 * Returns the PIDs it killed. `procDir` is for tests.
 */
export function killOrphanSandboxes(procDir = '/proc'): number[] {
  const killed: number[] = [];
  let pids: string[];
  try {
    pids = readdirSync(procDir).filter((d) => /^\d+$/.test(d));
  } catch {
    return killed;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(path.join(procDir, pid, 'stat'), 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== 1) continue;
      const argv = readFileSync(path.join(procDir, pid, 'cmdline'), 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') !== 'bwrap' || argv[argv.length - 2] !== '/.ca-init') continue;
      process.kill(Number(pid), 'SIGKILL');
      killed.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return killed;
}

/** Keeps a few sandboxes started ahead so a run does not wait for bwrap's namespace set-up. */
export class SandboxPool {
  private readonly idle: SandboxProcess[] = [];
  private stopped = false;

  constructor(private readonly opts: SandboxOptions & { size: number }) {}

  /**
   * A ready sandbox: a pooled one when there is one. The pool refills once the taken sandbox has
   * ended, so starting its replacement does not compete with the run for the CPU.
   */
  async take(): Promise<SandboxProcess> {
    while (this.idle.length > 0) {
      const sb = this.idle.shift() as SandboxProcess;
      if (!sb.exited) {
        try {
          await sb.ready;
          void sb.closed().then(() => this.refill());
          return sb;
        } catch {
          // That one died while waiting; try the next.
        }
      }
    }
    const sb = SandboxProcess.start(this.opts);
    void sb.closed().then(() => this.refill());
    await sb.ready;
    return sb;
  }

  fits(opts: SandboxOptions): boolean {
    return opts.workDirKb === this.opts.workDirKb && opts.tmpDirKb === this.opts.tmpDirKb;
  }

  refill(): void {
    if (this.stopped) return;
    setImmediate(() => {
      while (!this.stopped && this.idle.length < this.opts.size) {
        try {
          const sb = SandboxProcess.start(this.opts);
          this.idle.push(sb);
        } catch {
          return; // start errors surface on the next take()
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = this.idle.splice(0);
    for (const sb of all) sb.kill();
    await Promise.all(all.map((sb) => sb.closed()));
  }
}
