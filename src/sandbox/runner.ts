import { BoundedQueue } from '../common/bounded-queue.js';
import { CodeArenaError } from '../common/errors.js';
import { cgroupFactory, type LimitsMechanism } from './cgroups.js';
import { CHUNK_BYTES_MAX, Chunker, type Chunk, type StreamName } from './chunker.js';
import type { PhaseCommand, PhaseReport } from './control.js';
import { versionOf, type LanguageSpec } from './languages.js';
import { CompileCache, compileCache } from './compile-cache.js';
import { COMPILE_LIMITS, SOURCE_BYTES_MAX, type Limits } from './limits.js';
import { SandboxProcess, type SandboxPool } from './sandbox-process.js';

import type { RunStatus } from '../protocol/run-status.js';

export type { RunStatus } from '../protocol/run-status.js';

export interface RunResult {
  status: RunStatus;
  exit_code: number | null;
  signal: number | null;
  cpu_time_ms: number;
  wall_time_ms: number;
  memory_kb: number;
  language: string;
  version: string;
  /** Which mechanism held the memory and process caps of this run. */
  limits_mechanism: LimitsMechanism;
  /** Set for internal_error (and compile_error when the compiler itself hit a limit). */
  message?: string;
  /** The compiler ran in this run (false: its build came from the compile cache). Absent: nothing to compile. */
  compiled?: boolean;
}

export interface SourceFile {
  name: string;
  content: Buffer;
}

export interface RunRequest {
  language: LanguageSpec;
  /** The main source file first; its name is chosen by the language registry. */
  source: Buffer;
  /** Extra files placed beside the source (data files, headers). */
  files?: SourceFile[];
  stdin?: Buffer;
  /** Arguments after the program's own command (a judge's checker gets its files' names). */
  args?: string[];
  /** A pseudo-terminal: prompts without newline appear at once; stdout and stderr merge. */
  interactive: boolean;
  limits: Limits;
  pool?: SandboxPool;
  /** Chunks buffered between the runner and its consumer before the program is paused. */
  queueChunksMax?: number;
}

export interface RunHandle {
  /** Output chunks; ends when the run has ended. Consume it, or the program blocks on write. */
  readonly chunks: BoundedQueue<Chunk>;
  /** Sends input to the program (interactive: a line at a time; batch: any bytes). */
  write(data: Buffer | string): void;
  /** End of input: the program reads EOF. */
  endInput(): void;
  kill(): void;
  readonly result: Promise<RunResult>;
}

/**
 * Chunks that may still arrive after the queue reports full: a paused pipe stream keeps reading
 * until its buffer passes its 64 KiB high-water mark, so up to 3 x 64 KiB (a read in flight, the
 * buffer, the read that crossed the mark) lands after "full"; plus the whole capped compile
 * output, which is not paused.
 */
const PAUSED_STREAM_BYTES_MAX = 3 * 64 * 1024;
export const OVERSHOOT_CHUNKS_MAX = Math.ceil(PAUSED_STREAM_BYTES_MAX / CHUNK_BYTES_MAX) + Math.ceil(COMPILE_LIMITS.outputBytesMax / CHUNK_BYTES_MAX);
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const SIGKILL = 9;
/** Extra files with this suffix are data, written after the compile (see phases). */
export const DATA_FILE_SUFFIX = '.data';
/** Name of a cached build's archive while it is unpacked in the work dir. */
const BUILD_TAR = 'ca-build.tar';
const SIGXCPU = 24;
/** After this long past the wall limit the host kills bwrap itself (ca-init normally acts first). */
const WALL_BACKSTOP_MS = 2_000;

export function checkFiles(req: Pick<RunRequest, 'source' | 'files'>): void {
  const total = req.source.length + (req.files ?? []).reduce((n, f) => n + f.content.length, 0);
  if (total > SOURCE_BYTES_MAX) {
    throw new CodeArenaError(
      'SOURCE_TOO_LARGE',
      `source is ${total} bytes, over the ${SOURCE_BYTES_MAX}-byte cap`,
      'send a smaller program',
    );
  }
  const seen = new Set<string>();
  for (const f of req.files ?? []) {
    if (!FILE_NAME.test(f.name)) {
      throw new CodeArenaError('BAD_FILE_NAME', `bad file name "${f.name}"`, 'use letters, digits, "_", "-", "." and no directories');
    }
    if (seen.has(f.name)) throw new CodeArenaError('BAD_FILE_NAME', `file name "${f.name}" appears twice`, 'give every file its own name');
    seen.add(f.name);
  }
}

/** Starts a run in a sandbox. Errors of the request itself throw before anything starts. */
export function startRun(req: RunRequest): RunHandle {
  checkFiles(req);
  const chunks = new BoundedQueue<Chunk>(req.queueChunksMax ?? 64, OVERSHOOT_CHUNKS_MAX);
  const run = new Run(req, chunks);
  return {
    chunks,
    write: (d) => run.write(typeof d === 'string' ? Buffer.from(d) : d),
    endInput: () => run.endInput(),
    kill: () => run.kill('killed'),
    result: run.result,
  };
}

class Run {
  readonly result: Promise<RunResult>;
  private sandbox: SandboxProcess | null = null;
  private readonly chunker = new Chunker();
  private outputBytes = 0;
  private compileBytes = 0;
  /** The compiler's messages as emitted, kept for the compile cache (bounded by COMPILE_LIMITS). */
  private readonly compileLog: Buffer[] = [];
  private endReason: EndReason | null = null;
  private inputQueue: Buffer[] = [];
  private inputEnded = false;
  private inputBytes = 0;
  private finalStarted = false;
  private paused = false;

  constructor(private readonly req: RunRequest, private readonly chunks: BoundedQueue<Chunk>) {
    this.result = this.execute().finally(() => chunks.close());
  }

  write(data: Buffer): void {
    if (this.inputEnded) return;
    // Bounded: a client typing (or pasting) faster than the program reads cannot grow this forever.
    this.inputBytes += data.length;
    if (this.inputBytes > this.req.limits.outputBytesMax + 1024 * 1024) return;
    if (this.finalStarted && this.sandbox) (this.sandbox.child.stdin as NodeJS.WritableStream).write(data);
    else this.inputQueue.push(data);
  }

  endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    if (this.finalStarted && this.sandbox) (this.sandbox.child.stdin as NodeJS.WritableStream).end();
  }

  kill(reason: EndReason): void {
    this.endReason ??= reason;
    const sb = this.sandbox;
    if (!sb) return;
    if (reason === 'wall_backstop') {
      sb.kill();
      return;
    }
    // Through ca-init, so the run keeps its figures; what the program prints from now on is
    // dropped (onProgramOutput), so paused streams may flow again and nothing waits on them.
    sb.stopPhase();
    if (this.paused) {
      sb.child.stdout?.resume();
      sb.child.stderr?.resume();
    }
  }

  /** A method, not a field test: TypeScript would narrow the field across awaits. */
  private killedByUser(): boolean {
    return this.endReason === 'killed';
  }

  private emit(stream: StreamName, data: Buffer): void {
    for (const c of this.chunker.cut(stream, data)) {
      if (!this.chunks.push(c) && !this.paused) this.pause();
    }
  }

  private pause(): void {
    const sb = this.sandbox;
    if (!sb) return;
    this.paused = true;
    sb.child.stdout?.pause();
    sb.child.stderr?.pause();
    this.chunks.onDrain(() => {
      this.paused = false;
      sb.child.stdout?.resume();
      sb.child.stderr?.resume();
    });
  }

  private onProgramOutput(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.endReason !== null) return;
    const room = this.req.limits.outputBytesMax - this.outputBytes;
    this.outputBytes += data.length;
    if (data.length > room) {
      if (room > 0) this.emit(stream, data.subarray(0, room));
      this.kill('output_limit');
      return;
    }
    this.emit(stream, data);
  }

  private async execute(): Promise<RunResult> {
    const { language, limits } = this.req;
    const version = await versionOf(language);
    const mechanism = cgroupFactory().mechanism;
    const base: RunResult = {
      status: 'internal_error',
      exit_code: null,
      signal: null,
      cpu_time_ms: 0,
      wall_time_ms: 0,
      memory_kb: 0,
      language: language.id,
      version,
      limits_mechanism: mechanism,
    };
    const sbOpts = { workDirKb: limits.workDirKb, tmpDirKb: limits.workDirKb };
    const pool = this.req.pool?.fits(sbOpts) ? this.req.pool : null;
    let sb: SandboxProcess;
    try {
      sb = pool ? await pool.take() : SandboxProcess.start(sbOpts);
      this.sandbox = sb;
      await sb.ready;
    } catch (err) {
      if (err instanceof CodeArenaError) throw err;
      return { ...base, message: (err as Error).message };
    }
    if (this.endReason === 'killed') {
      sb.kill();
      await sb.closed();
      return { ...base, status: 'killed' };
    }
    try {
      return await this.phases(sb, base);
    } catch (err) {
      sb.kill();
      await sb.closed();
      if (this.killedByUser()) return { ...base, status: 'killed' };
      return { ...base, message: (err as Error).message };
    }
  }

  /** Compiles; returns the run's end when it ends here (killed, compile error), else null. */
  private async compile(sb: SandboxProcess, base: RunResult, c: { argv: string[]; env: Record<string, string> }): Promise<RunResult | null> {
    const { limits } = this.req;
    const report = await sb.runPhase(
      {
        mode: 'capture',
        argv: c.argv,
        env: c.env,
        cpuTimeMs: COMPILE_LIMITS.cpuTimeMs,
        wallTimeMs: COMPILE_LIMITS.wallTimeMs,
        addressSpaceKb: 0,
        fileSizeKb: limits.fileSizeKb,
        openFilesMax: 256,
        processesMax: sb.cgroup ? 0 : COMPILE_LIMITS.processesMax,
      },
      (data) => {
        const room = COMPILE_LIMITS.outputBytesMax - this.compileBytes;
        this.compileBytes += data.length;
        if (room > 0) {
          this.compileLog.push(data.subarray(0, room));
          this.emit('compile', data.subarray(0, room));
        }
      },
    );
    if (this.killedByUser()) return this.finish(sb, { ...base, ...measuredFigures(report), status: 'killed' });
    if (report.exitCode !== 0) {
      const why = report.wallLimitHit || report.signal ? 'the compiler was stopped by its limits' : undefined;
      return this.finish(sb, {
        ...base,
        status: 'compile_error',
        compiled: true,
        exit_code: report.exitCode,
        signal: report.signal,
        ...(why ? { message: why } : {}),
      });
    }
    return null;
  }

  /** A helper phase (packing or unpacking a build): small fixed bounds, output to `onOutput`. */
  private helperPhase(sb: SandboxProcess, script: string, onOutput: (d: Buffer) => void): Promise<PhaseReport> {
    return sb.runPhase(
      {
        mode: 'capture',
        argv: ['/bin/sh', '-c', script],
        env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
        cpuTimeMs: 10_000,
        wallTimeMs: 20_000,
        addressSpaceKb: 0,
        fileSizeKb: this.req.limits.fileSizeKb,
        openFilesMax: 64,
        processesMax: sb.cgroup ? 0 : 8,
      },
      onOutput,
    );
  }

  /** Packs what the compile left in the work dir into the cache (best effort: a failure only costs recompiles). */
  private async saveBuild(sb: SandboxProcess, cache: CompileCache, key: string): Promise<void> {
    const parts: Buffer[] = [];
    let bytes = 0;
    const report = await this.helperPhase(sb, `tar -cf - --exclude=${BUILD_TAR} . 2>/dev/null`, (d) => {
      bytes += d.length;
      if (bytes <= cache.opts.artifactBytesMax) parts.push(Buffer.from(d));
    });
    if (report.exitCode === 0 && bytes <= cache.opts.artifactBytesMax) cache.put(key, { tar: Buffer.concat(parts), compileOutput: Buffer.concat(this.compileLog) });
  }

  /** Unpacks a cached build into the work dir, replaying the compiler's messages; false if it failed. */
  private async restoreBuild(sb: SandboxProcess, hit: { tar: Buffer; compileOutput: Buffer }): Promise<boolean> {
    sb.writeFile(BUILD_TAR, hit.tar);
    const report = await this.helperPhase(sb, `tar -xf ${BUILD_TAR} 2>&1 && rm -f ${BUILD_TAR}`, () => {});
    if (report.exitCode !== 0) return false;
    if (hit.compileOutput.length > 0) this.emit('compile', hit.compileOutput);
    return true;
  }

  private async phases(sb: SandboxProcess, baseIn: RunResult): Promise<RunResult> {
    let base = baseIn;
    const { language, limits } = this.req;
    const sourceName = language.sourceFile(this.req.source.toString('utf8'));
    // Files named *.data (a judge checker's input and answer) reach the work dir only after the
    // compile: the compiler cannot see them, so they rightly stay out of the compile cache's key.
    const isData = (f: SourceFile) => f.name.endsWith(DATA_FILE_SUFFIX);
    const buildFiles = (this.req.files ?? []).filter((f) => !isData(f));
    for (const f of buildFiles) sb.writeFile(f.name, f.content);
    sb.writeFile(sourceName, this.req.source);
    const cg = sb.cgroup;
    const procs = Math.max(limits.processesMax, language.processesMin);

    let compiled: boolean | undefined;
    if (language.compile) {
      cg?.setLimits({ memoryKb: COMPILE_LIMITS.memoryKb, processesMax: COMPILE_LIMITS.processesMax + 1 });
      const c = language.compile(sourceName);
      // Batch runs share builds: a judge's tests carry the same source (see compile-cache.ts).
      const cache = this.req.interactive ? null : compileCache();
      const key = cache
        ? CompileCache.key({ language: language.id, compileArgv: c.argv, files: [{ name: sourceName, content: this.req.source }, ...buildFiles] })
        : '';
      const release = cache ? await cache.claim(key) : () => {};
      try {
        const hit = cache?.get(key);
        if (cache && hit && (await this.restoreBuild(sb, hit))) {
          cache.stats.hits++;
          compiled = false;
        } else {
          if (cache) cache.stats.compiles++;
          compiled = true;
          const ended = await this.compile(sb, base, c);
          if (ended) return ended;
          if (cache) await this.saveBuild(sb, cache, key);
        }
      } finally {
        release();
      }
      if (this.killedByUser()) return this.finish(sb, { ...base, status: 'killed' });
      base = { ...base, compiled };
    }
    for (const f of this.req.files ?? []) if (isData(f)) sb.writeFile(f.name, f.content);

    cg?.setLimits({ memoryKb: limits.memoryKb, processesMax: procs + 1 });
    const oomBefore = cg?.oomKills() ?? 0;
    const r = language.run(sourceName, limits.memoryKb);
    const phase: PhaseCommand = {
      mode: this.req.interactive ? 'pty' : 'pipes',
      argv: [...r.argv, ...(this.req.args ?? [])],
      env: r.env,
      cpuTimeMs: limits.cpuTimeMs,
      wallTimeMs: limits.wallTimeMs,
      addressSpaceKb: !cg && language.addressSpaceLimit ? limits.memoryKb : 0,
      fileSizeKb: limits.fileSizeKb,
      openFilesMax: limits.openFilesMax,
      processesMax: cg ? 0 : procs,
    };
    sb.child.stdout?.on('data', (d: Buffer) => this.onProgramOutput('stdout', d));
    sb.child.stderr?.on('data', (d: Buffer) => this.onProgramOutput('stderr', d));
    const backstop = setTimeout(() => this.kill('wall_backstop'), limits.wallTimeMs + WALL_BACKSTOP_MS);
    // The host's own figures, used only when ca-init could not report (bwrap killed from outside).
    const startedMs = performance.now();
    const cpuBeforeUs = cg?.cpuUsageUs() ?? 0;
    const reportP = sb.runPhase(phase);
    this.finalStarted = true;
    const stdin = sb.child.stdin as NodeJS.WritableStream;
    if (this.req.stdin) stdin.write(this.req.stdin);
    for (const b of this.inputQueue.splice(0)) stdin.write(b);
    if (this.inputEnded || !this.req.interactive) stdin.end();
    let report: PhaseReport | null = null;
    try {
      report = await reportP;
    } catch {
      // Killed from outside (kill, output limit, backstop): the reason is in endReason.
    }
    // Read before closed(): that removes the cgroup.
    const oom = (cg?.oomKills() ?? 0) > oomBefore;
    const hostFigures: HostFigures = {
      wall_time_ms: Math.round(performance.now() - startedMs),
      cpu_time_ms: cg ? Math.round(Math.max(0, cg.cpuUsageUs() - cpuBeforeUs) / 1000) : 0,
      memory_kb: cg?.peakMemoryKb() ?? 0,
    };
    await sb.closed();
    clearTimeout(backstop);
    return this.finish(sb, classifyRun({ base, report, oom, endReason: this.endReason, limits, hostFigures }));
  }

  private async finish(sb: SandboxProcess, result: RunResult): Promise<RunResult> {
    sb.kill();
    await sb.closed();
    return result;
  }
}

/** Why the host ended a run before the program did. */
export type EndReason = 'killed' | 'output_limit' | 'wall_backstop';

/**
 * The host's measure of a final phase: wall clock from its start, CPU time and peak memory of the
 * run's cgroup (0 without one). Coarser than ca-init's (the cgroup holds the sandbox's own
 * processes too), so only used when ca-init did not report.
 */
export interface HostFigures {
  cpu_time_ms: number;
  wall_time_ms: number;
  memory_kb: number;
}

function measuredFigures(report: PhaseReport): Pick<RunResult, 'exit_code' | 'signal' | 'cpu_time_ms' | 'wall_time_ms' | 'memory_kb'> {
  return {
    exit_code: report.exitCode,
    signal: report.signal,
    cpu_time_ms: Math.round(report.cpuUs / 1000),
    wall_time_ms: Math.round(report.wallUs / 1000),
    memory_kb: report.maxRssKb,
  };
}

/**
 * A run's terminal status and figures from what is known at its end. Pure, so that every terminal
 * status is unit-tested with its figures. Every status keeps the figures measured: ca-init's
 * report when there is one (a stop by the host goes through ca-init, which still reports), else
 * the host's own.
 */
export function classifyRun(input: {
  base: RunResult;
  report: PhaseReport | null;
  oom: boolean;
  endReason: EndReason | null;
  limits: Pick<Limits, 'cpuTimeMs' | 'wallTimeMs' | 'memoryKb'>;
  hostFigures: HostFigures;
}): RunResult {
  const { base, report, oom, endReason, limits, hostFigures } = input;
  const r: RunResult = { ...base, ...(report ? measuredFigures(report) : hostFigures) };
  if (endReason === 'killed') return { ...r, status: 'killed' };
  if (endReason === 'output_limit') return { ...r, status: 'output_limit' };
  if (endReason === 'wall_backstop' || report?.wallLimitHit) {
    return { ...r, status: 'wall_time_limit', wall_time_ms: Math.max(r.wall_time_ms, limits.wallTimeMs) };
  }
  if (!report) return { ...r, message: 'the sandbox ended without a report' };
  if (oom) return { ...r, status: 'memory_limit' };
  if (report.signal === SIGXCPU || (report.signal === SIGKILL && r.cpu_time_ms >= limits.cpuTimeMs) || r.cpu_time_ms > limits.cpuTimeMs) {
    return { ...r, status: 'time_limit' };
  }
  // Without a cgroup, RLIMIT_AS makes allocations fail; a program that dies near the cap ran out.
  // A SIGKILL at the cgroup cap whose OOM count we could not read is the same story.
  const nearCap = r.memory_kb >= limits.memoryKb * 0.9;
  if ((report.signal || report.exitCode) && nearCap) {
    return { ...r, status: 'memory_limit' };
  }
  if (report.signal || report.exitCode !== 0) return { ...r, status: 'runtime_error' };
  return { ...r, status: 'ok' };
}
