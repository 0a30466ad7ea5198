import { constants as osConstants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { findLanguage, type LanguageInfo } from '../../sandbox/languages.js';
import type { RunSpec } from '../api-types.js';
import type { RunEvent, RunRecord } from '../run-store.js';
import { argsProblem, isGatewayFailure, runToEnd, utf8OrNull, versionNumber, type GatewayCore, type GatewayUser, type RunExtras } from './common.js';

/**
 * Piston v2 (engineer-man/piston): POST /api/v2/execute, GET /api/v2/runtimes and the interactive
 * WebSocket /api/v2/connect, translated onto this Gateway's runs.
 */

/** Piston's runtime names and aliases for what we run (as its packages name them). */
const PISTON_RUNTIMES: ReadonlyArray<{ id: string; language: string; aliases: string[]; runtime?: string }> = [
  { id: 'c', language: 'c', aliases: ['gcc'], runtime: 'gcc' },
  { id: 'cpp', language: 'c++', aliases: ['cpp', 'g++'], runtime: 'gcc' },
  { id: 'python', language: 'python', aliases: ['py', 'py3', 'python3'] },
  { id: 'java', language: 'java', aliases: [] },
  { id: 'javascript', language: 'javascript', aliases: ['node-javascript', 'node-js', 'js', 'node'], runtime: 'node' },
];

/** Piston's defaults for a run stage (its config: run_timeout and run_cpu_time 3 s). */
const RUN_TIMEOUT_MS_DEFAULT = 3_000;
const RUN_CPU_TIME_MS_DEFAULT = 3_000;
/** Files one request may carry (our runs carry at most 16). */
const FILES_MAX = 16;
/** How long a WebSocket may wait before its init (Piston: 1 s). */
const INIT_TIMEOUT_MS = 1_000;
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Piston's WebSocket close codes. */
export const PISTON_CLOSE = {
  alreadyInitialized: 4000,
  initializationTimeout: 4001,
  notifiedError: 4002,
  notYetInitialized: 4003,
  canOnlyWriteToStdin: 4004,
  invalidSignal: 4005,
  jobCompleted: 4999,
} as const;

class PistonError extends Error {
  constructor(readonly httpStatus: number, message: string) {
    super(message);
  }
}

type PistonStatus = 'RE' | 'SG' | 'TO' | 'OL' | 'EL' | 'XX' | null;

export interface PistonStage {
  stdout: string;
  stderr: string;
  output: string;
  code: number | null;
  signal: string | null;
  message: string | null;
  status: PistonStatus;
  cpu_time: number | null;
  wall_time: number | null;
  memory: number | null;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));
const SIGNALS = new Set(Object.keys(osConstants.signals));

export function signalName(n: number | null): string | null {
  return n === null ? null : (SIGNAL_NAMES.get(n) ?? null);
}

/** Piston's semver selector, for the versions we have: "*", "x", an exact version or a prefix of one ("3", "3.11"). */
export function versionMatches(selector: string, version: string): boolean {
  const s = selector.trim();
  if (s === '*' || s === 'x' || s === '') return true;
  const want = s.replace(/^[=v^~]+/, '').split('.').filter((p) => p !== 'x' && p !== '*');
  const have = version.split('.');
  return want.length > 0 && want.every((p, i) => p === have[i]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface PistonJob {
  lang: LanguageInfo;
  language: string;
  version: string;
  spec: RunSpec;
  extras: RunExtras;
}

/** Piston's get_job(): the same checks and messages, then our run spec. */
async function parseJob(body: unknown, core: GatewayCore): Promise<PistonJob> {
  if (!isObject(body)) throw new PistonError(400, 'language is required as a string');
  const { language, version, files, stdin, args } = body;
  if (typeof language !== 'string' || language === '') throw new PistonError(400, 'language is required as a string');
  if (typeof version !== 'string' || version === '') throw new PistonError(400, 'version is required as a string');
  if (!Array.isArray(files)) throw new PistonError(400, 'files is required as an array');
  if (files.length === 0 || files.length > FILES_MAX) throw new PistonError(400, `files must hold 1 to ${FILES_MAX} files`);
  files.forEach((f: unknown, i) => {
    if (!isObject(f) || typeof f.content !== 'string') throw new PistonError(400, `files[${i}].content is required as a string`);
  });
  const offered = await core.backend.languages();
  const rt = PISTON_RUNTIMES.find((r) => r.language === language || r.aliases.includes(language));
  const lang = rt && offered.find((l) => l.id === rt.id);
  if (!rt || !lang || !versionMatches(version, versionNumber(lang))) throw new PistonError(400, `${language}-${version} runtime is unknown`);
  const decoded = (files as Array<Record<string, unknown>>).map((f, i) => {
    const encoding = f.encoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'base64' && encoding !== 'hex') throw new PistonError(400, `files[${i}].encoding must be one of utf8, base64, hex`);
    const content = encoding === 'utf8' ? (f.content as string) : utf8OrNull(Buffer.from(f.content as string, encoding));
    // A run's files travel as text on the cluster's links; a binary file would arrive changed.
    if (content === null) throw new PistonError(400, `files[${i}] is not UTF-8 text once decoded; this server carries text files only`);
    if (f.name !== undefined && (typeof f.name !== 'string' || !FILE_NAME.test(f.name))) throw new PistonError(400, `files[${i}].name must be a file name without a path`);
    return { name: f.name as string | undefined, content };
  });
  const spec: RunSpec = {
    language: rt.id,
    files: decoded.map((f, i) => ({ name: f.name ?? (i === 0 ? findLanguage(rt.id).sourceFile(f.content) : `file${i}.code`), content: f.content })),
    stdin: typeof stdin === 'string' ? stdin : '',
  };
  const max = core.limitsMax;
  const limit = (name: string, maxValue: number): number | undefined => {
    const v = body[name];
    if (v === undefined || v === null || v === 0) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new PistonError(400, `If specified, ${name} must be a number`);
    if (v < 0) return undefined; // -1: no limit of its own (the lab's maximum holds)
    if (v > maxValue) throw new PistonError(400, `${name} cannot exceed the configured limit of ${maxValue}`);
    return v;
  };
  const runTimeout = limit('run_timeout', max.wallTimeMs) ?? RUN_TIMEOUT_MS_DEFAULT;
  const runCpu = limit('run_cpu_time', max.cpuTimeMs) ?? RUN_CPU_TIME_MS_DEFAULT;
  const runMemory = limit('run_memory_limit', max.memoryKb * 1024);
  // The compile stage has the lab's fixed compile limits; Piston's compile_* are checked, not used.
  limit('compile_timeout', Number.MAX_SAFE_INTEGER);
  limit('compile_cpu_time', Number.MAX_SAFE_INTEGER);
  limit('compile_memory_limit', Number.MAX_SAFE_INTEGER);
  spec.wall_time_limit = Math.max(0.1, runTimeout / 1000);
  spec.cpu_time_limit = Math.max(0.1, Math.min(runCpu, runTimeout) / 1000);
  if (runMemory !== undefined) spec.memory_limit = Math.max(8 * 1024, Math.floor(runMemory / 1024));
  const extras: RunExtras = {};
  if (args !== undefined && args !== null) {
    const problem = argsProblem(args, 'args');
    if (problem) throw new PistonError(400, problem);
    extras.args = args as string[];
  }
  return { lang, language: rt.language, version: versionNumber(lang), spec, extras };
}

/** The run stage as Piston reports it. */
function runStage(rec: RunRecord): PistonStage {
  const r = rec.result;
  const stdout = rec.bytes('stdout').toString('utf8');
  const stderr = rec.bytes('stderr').toString('utf8');
  const base = {
    stdout,
    stderr,
    // Ours keeps the two streams apart: "output" is stdout then stderr, not their interleaving.
    output: stdout + stderr,
    cpu_time: r ? r.cpu_time_ms : null,
    wall_time: r ? r.wall_time_ms : null,
    memory: r ? r.memory_kb * 1024 : null,
  };
  const code = r?.exit_code ?? null;
  const signal = signalName(r?.signal ?? null);
  const status = rec.status;
  switch (status) {
    case 'ok':
      return { ...base, code: code ?? 0, signal: null, message: null, status: null };
    case 'runtime_error':
      return signal
        ? { ...base, code: null, signal, message: `Caught fatal signal ${r?.signal}`, status: 'SG' }
        : { ...base, code, signal: null, message: `Exited with error status ${code}`, status: 'RE' };
    case 'memory_limit':
      return { ...base, code: null, signal: 'SIGKILL', message: 'Memory limit exceeded', status: 'SG' };
    case 'time_limit':
    case 'wall_time_limit':
      return { ...base, code: null, signal: 'SIGKILL', message: 'Time limit exceeded', status: 'TO' };
    case 'output_limit':
      return { ...base, code: null, signal: 'SIGKILL', message: 'stdout length exceeded', status: 'OL' };
    case 'killed':
      return { ...base, code: null, signal: 'SIGKILL', message: 'Killed', status: 'SG' };
    case 'compile_error':
    case 'internal_error':
    case 'node_lost':
    case 'queued':
    case 'running':
      return { ...base, code: null, signal: null, message: r?.message ?? status, status: 'XX' };
    default: {
      const never: never = status;
      throw new Error(`unhandled status ${String(never)}`);
    }
  }
}

function compileStage(rec: RunRecord): PistonStage {
  const out = rec.bytes('compile').toString('utf8');
  const failed = rec.status === 'compile_error';
  const code = failed ? (rec.result?.exit_code ?? null) : 0;
  const signal = failed ? signalName(rec.result?.signal ?? null) : null;
  return {
    stdout: '',
    stderr: out,
    output: out,
    code,
    signal,
    message: failed ? (rec.result?.message ?? `Exited with error status ${code}`) : null,
    status: failed ? (signal ? 'SG' : 'RE') : null,
    cpu_time: null,
    wall_time: null,
    memory: null,
  };
}

/** Piston's answer: `compile` for compiled languages; a failed compile is reported as `run` too, as Piston does. */
export function pistonResult(rec: RunRecord, language: string, version: string): Record<string, unknown> {
  const compiled = findLanguage(rec.run.language).compile !== undefined;
  if (!compiled) return { language, version, run: runStage(rec) };
  const compile = compileStage(rec);
  return { language, version, compile, run: rec.status === 'compile_error' ? compile : runStage(rec) };
}

function userOf(core: GatewayCore, req: FastifyRequest): GatewayUser {
  // Piston has no auth; with the lab's on, a client sends the cloud's token as a Bearer (or ?token=).
  const header = req.headers.authorization ?? '';
  const q = (req.query as { token?: string } | undefined)?.token;
  const who = core.userByKey(header.startsWith('Bearer ') ? header.slice(7) : (q ?? ''));
  if (!who) throw new PistonError(401, 'missing or invalid bearer token');
  return who;
}

function failure(err: unknown): PistonError {
  if (err instanceof PistonError) return err;
  if (isGatewayFailure(err)) return new PistonError(err.statusCode, err.message);
  return new PistonError(500, (err as Error).message);
}

export function registerPiston(app: FastifyInstance, core: GatewayCore): void {
  app.register(
    async (scope) => {
      // The published npm client (piston-client) posts its JSON as text/plain (node-fetch's
      // default for a string body); Piston itself answers 415 to that. Here it is read as JSON.
      scope.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(new PistonError(400, 'the body is not JSON'), undefined);
        }
      });
      scope.setErrorHandler((err: Error & { statusCode?: number }, _req, reply: FastifyReply) => {
        const e = err instanceof PistonError || isGatewayFailure(err) ? failure(err) : new PistonError(err.statusCode && err.statusCode < 500 ? err.statusCode : 500, err.message);
        if (e.httpStatus >= 500) scope.log.error(err);
        return reply.code(e.httpStatus).send({ message: e.message });
      });

      scope.get('/runtimes', async () => {
        const offered = new Map((await core.backend.languages()).map((l) => [l.id, l]));
        return PISTON_RUNTIMES.flatMap((r) => {
          const l = offered.get(r.id);
          return l ? [{ language: r.language, version: versionNumber(l), aliases: r.aliases, ...(r.runtime ? { runtime: r.runtime } : {}) }] : [];
        });
      });

      scope.post('/execute', async (req) => {
        const who = userOf(core, req);
        const job = await parseJob(req.body, core);
        const rec = await runToEnd(core, job.spec, who, job.extras);
        return pistonResult(rec, job.language, job.version);
      });

      scope.get('/connect', { websocket: true }, (socket: WebSocket, req: FastifyRequest) => connectSession(core, socket, req));
    },
    { prefix: '/api/v2' },
  );
}

/**
 * One /api/v2/connect session: init → runtime, stage, data…, exit per stage, then close 4999. The
 * run is one of our interactive runs (a pseudo-terminal, so input reaches it as typed): its stdout
 * and stderr arrive merged, as "stdout".
 */
function connectSession(core: GatewayCore, socket: WebSocket, req: FastifyRequest): void {
  let rec: RunRecord | null = null;
  let initialising = false;
  let unsubscribe: () => void = () => {};
  const send = (m: Record<string, unknown>) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m));
  };
  const close = (code: number, reason: string) => {
    if (socket.readyState === socket.OPEN) socket.close(code, reason);
  };
  const fail = (message: string) => {
    send({ type: 'error', message });
    close(PISTON_CLOSE.notifiedError, 'Notified Error');
  };
  const timer = setTimeout(() => {
    if (!rec && !initialising) close(PISTON_CLOSE.initializationTimeout, 'Initialization Timeout');
  }, INIT_TIMEOUT_MS);
  socket.on('close', () => {
    clearTimeout(timer);
    unsubscribe();
    // The client is gone: nobody can read the rest, so the run ends.
    if (rec && !rec.finished) core.backend.kill(rec.id);
  });
  socket.on('message', async (raw: Buffer) => {
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (!isObject(parsed)) throw new Error('messages are JSON objects');
      msg = parsed;
    } catch (err) {
      return fail((err as Error).message);
    }
    switch (msg.type) {
      case 'init': {
        if (rec || initialising) return close(PISTON_CLOSE.alreadyInitialized, 'Already Initialized');
        initialising = true;
        try {
          const who = userOf(core, req);
          const job = await parseJob(msg, core);
          // Piston discards an init's stdin: input comes as data messages.
          const r = await core.accept({ ...job.spec, stdin: '', interactive: true }, who, true, job.extras);
          rec = r;
          send({ type: 'runtime', language: job.language, version: job.version });
          unsubscribe = r.subscribe(stageRelay(r, send, close), -1);
        } catch (err) {
          fail(failure(err).message);
        }
        return;
      }
      case 'data': {
        if (!rec) return close(PISTON_CLOSE.notYetInitialized, 'Not yet initialized');
        if (msg.stream !== 'stdin' || typeof msg.data !== 'string') return close(PISTON_CLOSE.canOnlyWriteToStdin, 'Can only write to stdin');
        if (!rec.finished) core.backend.write(rec.id, msg.data);
        return;
      }
      case 'signal': {
        if (!rec) return close(PISTON_CLOSE.notYetInitialized, 'Not yet initialized');
        if (typeof msg.signal !== 'string' || !SIGNALS.has(msg.signal)) return close(PISTON_CLOSE.invalidSignal, 'Invalid signal');
        // Our runs can only be killed: any signal ends the run as SIGKILL does.
        if (!rec.finished) core.backend.kill(rec.id);
        return;
      }
      default:
        return;
    }
  });
}

/** Turns a run's events into Piston's stage / data / exit messages. */
function stageRelay(rec: RunRecord, send: (m: Record<string, unknown>) => void, close: (code: number, reason: string) => void): (e: RunEvent) => void {
  const compiled = findLanguage(rec.run.language).compile !== undefined;
  let stage: 'none' | 'compile' | 'run' = 'none';
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8'), compile: new StringDecoder('utf8') };
  const enterRun = () => {
    if (stage === 'run') return;
    if (stage === 'none' && compiled) stage = 'compile';
    if (stage === 'compile') send({ type: 'exit', stage: 'compile', code: 0, signal: null });
    stage = 'run';
    send({ type: 'stage', stage: 'run' });
  };
  return (e) => {
    switch (e.type) {
      case 'started':
        if (stage === 'none') {
          stage = compiled ? 'compile' : 'run';
          send({ type: 'stage', stage });
        }
        return;
      case 'output': {
        if (e.stream === 'compile') {
          const data = decoders.compile.write(e.data);
          if (data) send({ type: 'data', stream: 'stderr', data });
          return;
        }
        enterRun();
        const data = decoders[e.stream].write(e.data);
        if (data) send({ type: 'data', stream: 'stdout', data });
        return;
      }
      case 'exit': {
        if (rec.status === 'compile_error') {
          const c = compileStage(rec);
          send({ type: 'exit', stage: 'compile', code: c.code, signal: c.signal });
        } else {
          enterRun();
          const r = runStage(rec);
          send({ type: 'exit', stage: 'run', code: r.code, signal: r.signal });
        }
        close(PISTON_CLOSE.jobCompleted, 'Job Completed');
        return;
      }
      case 'queued':
      case 'restarted':
      case 'accepted':
        return;
      case 'error':
        send({ type: 'error', message: e.message });
        close(PISTON_CLOSE.notifiedError, 'Notified Error');
        return;
      default: {
        const never: never = e;
        throw new Error(`unhandled event ${JSON.stringify(never)}`);
      }
    }
  };
}
