import { readFileSync, statSync } from 'node:fs';
import { CodeArenaError } from '../common/errors.js';
import { findLanguage, languageForFile } from '../sandbox/languages.js';
import { DEFAULT_LIMITS, SOURCE_BYTES_MAX, validateLimits, type Limits } from '../sandbox/limits.js';
import { startRun, type RunResult } from '../sandbox/runner.js';
import { EXIT_INTERNAL } from './errors.js';

export interface ExecOptions {
  lang?: string;
  stdin?: string;
  timeLimit?: string;
  memoryLimit?: string;
  wallTimeLimit?: string;
  json?: boolean;
}

function readInputFile(file: string, what: string, maxBytes: number): Buffer {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new CodeArenaError('FILE_NOT_FOUND', `${what} "${file}" not found`, 'check the path');
  }
  if (size > maxBytes) {
    throw new CodeArenaError('SOURCE_TOO_LARGE', `${what} "${file}" is ${size} bytes, over the ${maxBytes}-byte cap`, 'use a smaller file');
  }
  return readFileSync(file);
}

function parseNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new CodeArenaError('BAD_LIMIT', `${flag} must be a number, got "${value}"`, `e.g. ${flag} 2`);
  }
  return n;
}

/** Limits from CLI flags (seconds and MB, as a person types them) in the runner's units. */
export function limitsFromFlags(opts: ExecOptions): Limits {
  const seconds = parseNumber(opts.timeLimit, '--time-limit');
  const wall = parseNumber(opts.wallTimeLimit, '--wall-time-limit');
  const mb = parseNumber(opts.memoryLimit, '--memory-limit');
  const partial: Partial<Limits> = {};
  if (seconds !== undefined) {
    partial.cpuTimeMs = seconds * 1000;
    // The wall clock follows the CPU limit unless given: a program may also wait for input.
    partial.wallTimeMs = Math.max(DEFAULT_LIMITS.wallTimeMs, seconds * 3000);
  }
  if (wall !== undefined) partial.wallTimeMs = wall * 1000;
  if (mb !== undefined) partial.memoryKb = mb * 1024;
  try {
    return validateLimits(partial);
  } catch (err) {
    if (err instanceof CodeArenaError) {
      const flag = { cpuTimeMs: '--time-limit', wallTimeMs: '--wall-time-limit', memoryKb: '--memory-limit' };
      let msg = err.message;
      for (const [k, f] of Object.entries(flag)) msg = msg.replace(`limit ${k}`, f);
      throw new CodeArenaError(err.code, msg.replace(/=\S+/, ''), err.hint.replace(/between (\d+) and (\d+)/, (_m, a, b) => (msg.includes('memory') ? `between ${a / 1024} and ${b / 1024} MB` : `between ${a / 1000} and ${b / 1000} seconds`)));
    }
    throw err;
  }
}

/** What the shell sees as the exit code of a run, as if the program had run locally. */
export function exitCodeOf(result: RunResult): number {
  switch (result.status) {
    case 'ok':
    case 'runtime_error':
      if (result.signal) return 128 + result.signal;
      return result.exit_code ?? 1;
    case 'compile_error':
      return 1;
    case 'time_limit':
    case 'wall_time_limit':
      return 124; // as timeout(1)
    case 'memory_limit':
      return 137;
    case 'output_limit':
    case 'killed':
      return 137;
    case 'internal_error':
      return EXIT_INTERNAL;
    default: {
      const never: never = result.status;
      return never;
    }
  }
}

const STATUS_TEXT: Partial<Record<RunResult['status'], (r: RunResult) => string>> = {
  compile_error: () => 'compilation failed',
  time_limit: (r) => `time limit exceeded (CPU ${r.cpu_time_ms} ms)`,
  wall_time_limit: (r) => `wall-clock limit exceeded (${r.wall_time_ms} ms)`,
  memory_limit: (r) => `memory limit exceeded (peak ${r.memory_kb} KB)`,
  output_limit: () => 'output limit exceeded',
  killed: () => 'killed',
  internal_error: (r) => `internal error: ${r.message ?? 'unknown'}`,
};

export async function execCommand(file: string, opts: ExecOptions): Promise<number> {
  const language = opts.lang ? findLanguage(opts.lang) : languageForFile(file);
  const limits = limitsFromFlags(opts);
  const source = readInputFile(file, 'source file', SOURCE_BYTES_MAX);
  const stdinFile = opts.stdin !== undefined ? readInputFile(opts.stdin, 'stdin file', 64 * 1024 * 1024) : undefined;
  const interactive = !opts.json && stdinFile === undefined && process.stdin.isTTY === true;
  const run = startRun({ language, source, interactive, limits, ...(stdinFile ? { stdin: stdinFile } : {}) });

  if (stdinFile === undefined && (!opts.json || process.stdin.isTTY !== true)) {
    // Typed or piped input goes through as it arrives.
    process.stdin.on('data', (d: Buffer) => run.write(d));
    process.stdin.on('end', () => run.endInput());
    process.stdin.on('error', () => run.endInput());
  } else {
    run.endInput();
  }
  const onSignal = () => run.kill();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[], compile: [] as Buffer[] };
  for await (const chunk of run.chunks) {
    if (opts.json) {
      out[chunk.stream].push(chunk.data);
    } else {
      const sink = chunk.stream === 'stdout' ? process.stdout : process.stderr;
      if (!sink.write(chunk.data)) await new Promise((r) => sink.once('drain', r));
    }
  }
  const result = await run.result;
  process.stdin.pause();
  process.stdin.destroy();
  if (opts.json) {
    const text = (bufs: Buffer[]) => Buffer.concat(bufs).toString('utf8');
    const json = {
      status: result.status,
      exit_code: result.exit_code,
      signal: result.signal,
      stdout: text(out.stdout),
      stderr: text(out.stderr),
      compile_output: text(out.compile),
      cpu_time_ms: result.cpu_time_ms,
      wall_time_ms: result.wall_time_ms,
      memory_kb: result.memory_kb,
      language: result.language,
      version: result.version,
      limits_mechanism: result.limits_mechanism,
      ...(result.message ? { message: result.message } : {}),
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
    return 0;
  }
  const text = STATUS_TEXT[result.status]?.(result);
  if (text) process.stderr.write(`codearena: ${text}\n`);
  return exitCodeOf(result);
}
