import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findLanguage } from '../../sandbox/languages.js';
import type { RunRecord } from '../run-store.js';
import { argsProblem, clamp, isGatewayFailure, runToEnd, utf8OrNull, versionNumber, type GatewayCore, type GatewayUser, type RunExtras } from './common.js';

/**
 * Jobe's REST API (trampgeek/jobe), as Moodle CodeRunner's jobesandbox.php calls it, under
 * /jobe/index.php/restapi/. Every run is an ordinary batch run of this Gateway (runToEnd); this
 * module only translates the request and the answer.
 */
export const JOBE_PREFIX = '/jobe/index.php/restapi';

/** Jobe's outcome codes (its Task::RESULT_* constants, taken from ideone's API). */
export const JOBE_OUTCOME = {
  compileError: 11,
  runtimeError: 12,
  timeLimit: 13,
  ok: 15,
  memoryLimit: 17,
  illegalSyscall: 19,
  internalError: 20,
  serverOverload: 21,
} as const;

/** Jobe's language names → ours. */
export const JOBE_LANGUAGES: Readonly<Record<string, string>> = { c: 'c', cpp: 'cpp', python3: 'python', java: 'java', nodejs: 'javascript' };

/** Jobe's shortest file id (MIN_FILE_IDENTIFIER_SIZE) and our longest. */
const FILE_ID_CHARS_MIN = 8;
const FILE_ID_CHARS_MAX = 128;
/** Files one run may name (our run carries at most 16 files, the program included). */
const FILE_LIST_MAX = 15;
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** A Jobe error: an HTTP status and, as the body, a JSON string. */
class JobeError extends Error {
  constructor(readonly httpStatus: number, message: string) {
    super(message);
  }
}

interface JobeResult {
  run_id: string | null;
  outcome: number;
  cmpinfo: string;
  stdout: string;
  stderr: string;
}

/**
 * Jobe's ResultObject::clean: output that is not valid UTF-8 would break the JSON answer, so its
 * control characters (but newline, tab, return) and every byte above 0x7E become \xNN. Valid
 * UTF-8 passes unchanged.
 */
export function jobeClean(bytes: Buffer): string {
  const text = utf8OrNull(bytes);
  if (text !== null) return text;
  let out = '';
  for (const b of bytes) {
    out += (b < 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) || b > 0x7e ? `\\x${b.toString(16).padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

/** The outcome Jobe would give the finished run. */
export function jobeOutcome(rec: RunRecord): number {
  const status = rec.status;
  switch (status) {
    case 'ok':
      // Jobe's diagnose_result: any stderr output makes a run a runtime error.
      return rec.bytes('stderr').length > 0 ? JOBE_OUTCOME.runtimeError : JOBE_OUTCOME.ok;
    case 'compile_error':
      return JOBE_OUTCOME.compileError;
    case 'runtime_error':
      return JOBE_OUTCOME.runtimeError;
    case 'time_limit':
    case 'wall_time_limit':
      return JOBE_OUTCOME.timeLimit;
    // Jobe's runguard truncates a flood at streamsize and the program then runs into its CPU
    // limit, so Jobe answers 13 for it (its own test "outputlimit on C" expects that); we stop
    // the program at the cap and answer what Jobe's clients see.
    case 'output_limit':
      return JOBE_OUTCOME.timeLimit;
    case 'memory_limit':
      return JOBE_OUTCOME.memoryLimit;
    case 'killed':
    case 'internal_error':
    case 'node_lost':
    case 'queued':
    case 'running':
      return JOBE_OUTCOME.internalError;
    default: {
      const never: never = status;
      throw new Error(`unhandled status ${String(never)}`);
    }
  }
}

/**
 * Jobe's python3 task compiles first (py_compile), so a syntax error is its outcome 11 with the
 * message as cmpinfo; our Python has no compile phase and the interpreter reports it at start-up.
 * Such a report has no traceback (a SyntaxError raised by running code, e.g. eval, has one) and
 * nothing was printed before it.
 */
function pythonSyntaxError(rec: RunRecord): boolean {
  if (rec.run.language !== 'python' || rec.status !== 'runtime_error' || rec.bytes('stdout').length > 0) return false;
  const err = rec.bytes('stderr').toString('utf8');
  return !err.includes('Traceback (most recent call last)') && /^(SyntaxError|IndentationError|TabError)\b/m.test(err);
}

function resultOf(rec: RunRecord): JobeResult {
  if (pythonSyntaxError(rec)) return { run_id: rec.id, outcome: JOBE_OUTCOME.compileError, cmpinfo: jobeClean(rec.bytes('stderr')), stdout: '', stderr: '' };
  const outcome = jobeOutcome(rec);
  let cmpinfo = jobeClean(rec.bytes('compile'));
  // A compiler stopped by its limits may have printed nothing: CodeRunner shows cmpinfo, so say why.
  if (outcome === JOBE_OUTCOME.compileError && cmpinfo === '') cmpinfo = rec.result?.message ?? 'compilation failed';
  let stderr = jobeClean(rec.bytes('stderr'));
  if (rec.status === 'internal_error' || rec.status === 'killed' || rec.status === 'node_lost') stderr += rec.result?.message ?? rec.status;
  return { run_id: rec.id, outcome, cmpinfo, stdout: jobeClean(rec.bytes('stdout')), stderr };
}

interface RunSpecJobe {
  language_id: string;
  sourcecode: string;
  sourcefilename?: unknown;
  input?: unknown;
  file_list?: unknown;
  parameters?: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Jobe's checks of run_spec, with its messages. */
function parseRunSpec(body: unknown): RunSpecJobe {
  if (!isObject(body) || !isObject(body.run_spec)) throw new JobeError(400, 'runs_post: missing or invalid run_spec parameter');
  const run = body.run_spec;
  if (typeof run.sourcecode !== 'string' || typeof run.language_id !== 'string') throw new JobeError(400, 'runs_post: invalid run specification');
  if (run.sourcefilename !== undefined && run.sourcefilename !== '' && (typeof run.sourcefilename !== 'string' || !FILE_NAME.test(run.sourcefilename))) {
    throw new JobeError(400, 'runs_post: invalid sourcefilename');
  }
  if (run.input !== undefined && typeof run.input !== 'string') throw new JobeError(400, 'runs_post: input must be a string');
  return run as unknown as RunSpecJobe;
}

function parseFileList(list: unknown): Array<[string, string]> {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new JobeError(400, 'runs_post: file_list must be a list of [file_id, file_name] pairs');
  if (list.length > FILE_LIST_MAX) throw new JobeError(400, `runs_post: file_list names ${list.length} files, over the ${FILE_LIST_MAX} allowed`);
  return list.map((f: unknown) => {
    const ok =
      Array.isArray(f) &&
      (f.length === 2 || f.length === 3) &&
      typeof f[0] === 'string' &&
      typeof f[1] === 'string' &&
      f[0].length >= FILE_ID_CHARS_MIN &&
      f[0].length <= FILE_ID_CHARS_MAX &&
      /^[A-Za-z0-9]+$/.test(f[0]) &&
      FILE_NAME.test(f[1]);
    if (!ok) throw new JobeError(400, `runs_post: invalid file specifier: ${JSON.stringify(f).slice(0, 200)}`);
    return [f[0], f[1]] as [string, string];
  });
}

/** Jobe's parameters in our units: cputime s, memorylimit MB (0: no limit), streamsize MB (10^6 bytes). */
function parseParameters(raw: unknown, core: GatewayCore): { cpu?: number; memoryKb?: number; outputBytes?: number; extras: RunExtras } {
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) return { extras: {} };
  if (!isObject(raw)) throw new JobeError(400, 'runs_post: parameters must be an object');
  const num = (k: string): number | undefined => {
    const v = raw[k];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new JobeError(400, `runs_post: parameter ${k} must be a non-negative number`);
    return n;
  };
  const max = core.limitsMax;
  const out: { cpu?: number; memoryKb?: number; outputBytes?: number; extras: RunExtras } = { extras: {} };
  const cpu = num('cputime');
  // Jobe's own check, with its message (it compares whole seconds).
  if (cpu !== undefined && Math.trunc(cpu) > Math.trunc(max.cpuTimeMs / 1000)) throw new JobeError(400, 'cputime exceeds maximum allowed on this Jobe server');
  if (cpu !== undefined && cpu > 0) out.cpu = clamp(cpu, 0.1, max.cpuTimeMs / 1000);
  // Jobe takes any memorylimit (0 meaning none): here it is held to the lab's maximum.
  const mem = num('memorylimit');
  if (mem !== undefined) out.memoryKb = mem === 0 ? max.memoryKb : clamp(Math.round(mem * 1024), 8 * 1024, max.memoryKb);
  const stream = num('streamsize');
  if (stream !== undefined && stream > 0) out.outputBytes = clamp(Math.round(stream * 1_000_000), 1, max.outputBytesMax);
  const procs = num('numprocs');
  if (procs !== undefined) out.extras.processesMax = clamp(Math.round(procs), 1, max.processesMax);
  if (raw.runargs !== undefined) {
    const problem = argsProblem(raw.runargs, 'runargs');
    if (problem) throw new JobeError(400, `runs_post: ${problem}`);
    out.extras.args = raw.runargs as string[];
  }
  return out;
}

export function registerJobe(app: FastifyInstance, core: GatewayCore): void {
  const files = core.jobe.files;
  app.register(
    async (scope) => {
      scope.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
        if (err instanceof JobeError) return sendJobe(reply, err.httpStatus, err.message);
        if (err.statusCode && err.statusCode < 500) return sendJobe(reply, err.statusCode, err.message);
        scope.log.error(err);
        return sendJobe(reply, 500, `Server exception (${err.message})`);
      });

      const userOf = (req: FastifyRequest): GatewayUser => {
        const key = req.headers['x-api-key'];
        const who = core.userByKey(typeof key === 'string' ? key : '');
        if (!who) throw new JobeError(403, 'Invalid API key');
        return who;
      };

      scope.get('/', async () => {
        throw new JobeError(404, 'Please access this API via the runs, runresults, files or languages collections');
      });

      scope.get('/languages', async () => {
        const ours = new Map((await core.backend.languages()).map((l) => [l.id, l]));
        return Object.entries(JOBE_LANGUAGES).flatMap(([jobe, id]) => {
          const l = ours.get(id);
          return l ? [[jobe, versionNumber(l)]] : [];
        });
      });

      scope.put('/files/:id', async (req, reply) => {
        userOf(req);
        const id = (req.params as { id: string }).id;
        if (!/^[A-Za-z0-9]+$/.test(id) || id.length > FILE_ID_CHARS_MAX) throw new JobeError(400, `put: bad file id ${id.slice(0, 64)}`);
        const b64 = isObject(req.body) ? req.body.file_contents : undefined;
        if (typeof b64 !== 'string') throw new JobeError(400, 'put: missing file_contents parameter');
        if (!BASE64.test(b64)) throw new JobeError(400, `put: contents of file ${id} are not valid base-64`);
        const data = Buffer.from(b64, 'base64');
        if (data.length > core.sourceBytesMax) throw new JobeError(413, `put: file ${id} is ${data.length} bytes, over the ${core.sourceBytesMax}-byte cap`);
        files.put(id, data);
        core.jobe.onPut?.(id, data);
        return reply.code(204).send();
      });

      scope.head('/files/:id', async (req, reply) => {
        userOf(req);
        return reply.code(files.has((req.params as { id: string }).id) ? 204 : 404).send();
      });

      scope.post('/files', async () => {
        throw new JobeError(403, 'file_post: not implemented on this server');
      });

      scope.get('/runresults/:id', async () => {
        throw new JobeError(404, 'runresults_get: unimplemented, as all submissions run immediately.');
      });

      scope.post('/runs', async (req, reply) => {
        const who = userOf(req);
        const run = parseRunSpec(req.body);
        const list = parseFileList(run.file_list);
        const langId = JOBE_LANGUAGES[run.language_id];
        const offered = await core.backend.languages();
        if (langId === undefined || !offered.some((l) => l.id === langId)) throw new JobeError(400, `Language '${run.language_id}' is not known`);
        const params = parseParameters(run.parameters, core);
        const support = list.map(([id, name]) => {
          const data = files.get(id);
          if (!data) throw new JobeError(404, 'One or more of the specified files is missing/unavailable');
          const text = utf8OrNull(data);
          // A run's files travel as text on the cluster's links; a binary file would arrive changed.
          if (text === null) throw new JobeError(400, `runs_post: file ${name} is not UTF-8 text; this server carries text files only`);
          return { name, content: text };
        });
        const lang = findLanguage(langId);
        const given = typeof run.sourcefilename === 'string' && run.sourcefilename !== '' && run.sourcefilename !== 'prog.java' ? run.sourcefilename : '';
        const main = { name: given || lang.sourceFile(run.sourcecode), content: run.sourcecode };
        let rec: RunRecord;
        try {
          rec = await runToEnd(
            core,
            {
              language: langId,
              files: [main, ...support.filter((f) => f.name !== main.name)],
              stdin: typeof run.input === 'string' ? run.input : '',
              ...(params.cpu !== undefined ? { cpu_time_limit: params.cpu } : {}),
              ...(params.memoryKb !== undefined ? { memory_limit: params.memoryKb } : {}),
              ...(params.outputBytes !== undefined ? { output_limit: params.outputBytes } : {}),
            },
            who,
            params.extras,
          );
        } catch (err) {
          if (!isGatewayFailure(err)) throw err;
          // A full queue is Jobe's "server overload": a 200 with outcome 21 (CodeRunner retries later).
          if (err.statusCode === 503) return reply.code(200).send({ run_id: null, outcome: JOBE_OUTCOME.serverOverload, cmpinfo: '', stdout: '', stderr: '' } satisfies JobeResult);
          // A user over their quota: 401, which CodeRunner reports as "submission limit exceeded".
          if (err.statusCode === 429) throw new JobeError(401, err.message);
          throw new JobeError(err.statusCode, err.message);
        }
        return reply.code(200).send(resultOf(rec));
      });
    },
    { prefix: JOBE_PREFIX },
  );
}

function sendJobe(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(message));
}
