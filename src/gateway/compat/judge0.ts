import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LanguageInfo } from '../../sandbox/languages.js';
import type { RunRecord } from '../run-store.js';
import { clamp, isGatewayFailure, utf8OrNull, versionNumber, type GatewayCore, type GatewayUser, type RunExtras } from './common.js';

/**
 * Judge0 CE's API (judge0/judge0): submissions (single, batch, wait, base64, fields), languages and
 * statuses, translated onto this Gateway's runs. A submission is a batch run; its token is the run's id.
 */

/** Judge0's statuses (app/enumerations/status.rb). */
export const JUDGE0_STATUSES = [
  { id: 1, description: 'In Queue' },
  { id: 2, description: 'Processing' },
  { id: 3, description: 'Accepted' },
  { id: 4, description: 'Wrong Answer' },
  { id: 5, description: 'Time Limit Exceeded' },
  { id: 6, description: 'Compilation Error' },
  { id: 7, description: 'Runtime Error (SIGSEGV)' },
  { id: 8, description: 'Runtime Error (SIGXFSZ)' },
  { id: 9, description: 'Runtime Error (SIGFPE)' },
  { id: 10, description: 'Runtime Error (SIGABRT)' },
  { id: 11, description: 'Runtime Error (NZEC)' },
  { id: 12, description: 'Runtime Error (Other)' },
  { id: 13, description: 'Internal Error' },
  { id: 14, description: 'Exec Format Error' },
] as const;
type StatusId = (typeof JUDGE0_STATUSES)[number]['id'];

/**
 * Judge0 CE's language ids for what we run: the first of each is listed by GET /languages (its
 * name carries our toolchain's version); the others (other compiler versions in Judge0 CE) are
 * accepted as the same language.
 */
const JUDGE0_LANGUAGES: ReadonlyArray<{ ids: number[]; id: string; name: (v: string) => string }> = [
  { ids: [50, 48, 49, 103], id: 'c', name: (v) => `C (GCC ${v})` },
  { ids: [54, 52, 53, 105], id: 'cpp', name: (v) => `C++ (GCC ${v})` },
  { ids: [62, 91], id: 'java', name: (v) => `Java (OpenJDK ${v})` },
  { ids: [63, 93], id: 'javascript', name: (v) => `JavaScript (Node.js ${v})` },
  { ids: [71, 92], id: 'python', name: (v) => `Python (${v})` },
];

/** Judge0's defaults (its config.rb): CPU 5 s, wall 10 s, memory 128,000 KB. */
const CPU_TIME_S_DEFAULT = 5;
const WALL_TIME_S_DEFAULT = 10;
const MEMORY_KB_DEFAULT = 128_000;
/** Judge0's MAX_SUBMISSION_BATCH_SIZE default. */
export const BATCH_SIZE_MAX = 20;
/** Submissions whose tokens stay answerable; past it the oldest finished are forgotten. */
const SUBMISSIONS_KEPT_MAX = 2_000;
/** Judge0's bound on command_line_arguments and compiler_options. */
const OPTION_CHARS_MAX = 512;

const FIELDS = [
  'token', 'source_code', 'language_id', 'language', 'stdin', 'expected_output', 'stdout', 'stderr', 'compile_output', 'message',
  'status', 'status_id', 'time', 'wall_time', 'memory', 'exit_code', 'exit_signal', 'created_at', 'finished_at', 'cpu_time_limit',
  'wall_time_limit', 'memory_limit', 'max_processes_and_or_threads', 'command_line_arguments', 'compiler_options', 'number_of_runs',
  'redirect_stderr_to_stdout',
] as const;
type Field = (typeof FIELDS)[number];
const DEFAULT_FIELDS: readonly Field[] = ['token', 'time', 'memory', 'stdout', 'stderr', 'compile_output', 'message', 'status'];
/** Fields that are text of the program's or the client's: base64 when base64_encoded=true. */
const TEXT_FIELDS = new Set<Field>(['source_code', 'stdin', 'expected_output', 'stdout', 'stderr', 'compile_output', 'message']);

class Judge0Error extends Error {
  constructor(readonly httpStatus: number, readonly body: unknown) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

/** A submission as Judge0 keeps it: what was asked, and the run. */
interface Submission {
  rec: RunRecord;
  languageId: number;
  languageName: string;
  source: string;
  stdin: string;
  expected: string | null;
  cpuS: number;
  wallS: number;
  memoryKb: number;
  processes: number | null;
  args: string;
  compilerOptions: string;
  redirectStderr: boolean;
}

/** Judge0's comparison (isolate_job.rb strip): lines right-trimmed, trailing empty lines ignored. */
export function judge0Strip(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trimEnd();
}

/** Judge0's Status.find_runtime_error_by_status_code. */
function signalStatus(signal: number): StatusId {
  switch (signal) {
    case 11:
      return 7;
    case 25:
      return 8;
    case 8:
      return 9;
    case 6:
      return 10;
    default:
      return 12;
  }
}

/** The Judge0 status of a submission, and isolate's message for it. */
export function judge0Status(sub: Pick<Submission, 'rec' | 'expected' | 'redirectStderr'>): { id: StatusId; message: string | null } {
  const rec = sub.rec;
  const r = rec.result;
  const status = rec.status;
  switch (status) {
    case 'queued':
      return { id: 1, message: null };
    case 'running':
      return { id: 2, message: null };
    case 'ok': {
      if (sub.expected === null) return { id: 3, message: null };
      const out = stdoutBytes(sub).toString('utf8');
      return { id: judge0Strip(sub.expected) === judge0Strip(out) ? 3 : 4, message: null };
    }
    case 'compile_error':
      return { id: 6, message: null };
    case 'runtime_error':
      if (r?.signal) return { id: signalStatus(r.signal), message: `Caught fatal signal ${r.signal}` };
      return { id: 11, message: `Exited with error status ${r?.exit_code ?? 1}` };
    case 'time_limit':
    case 'wall_time_limit':
      return { id: 5, message: 'Time limit exceeded' };
    // Isolate's cgroup kills a program over its memory with SIGKILL: Judge0 reports "Other".
    case 'memory_limit':
      return { id: 12, message: 'Memory limit exceeded' };
    // Judge0's output goes to a file bounded by max_file_size: a flood dies of SIGXFSZ.
    case 'output_limit':
      return { id: 8, message: 'Output limit exceeded' };
    case 'killed':
    case 'internal_error':
    case 'node_lost':
      return { id: 13, message: r?.message ?? status };
    default: {
      const never: never = status;
      throw new Error(`unhandled status ${String(never)}`);
    }
  }
}

function stdoutBytes(sub: Pick<Submission, 'rec' | 'redirectStderr'>): Buffer {
  // Ours keeps the streams apart: redirect_stderr_to_stdout appends stderr rather than interleaving it.
  return sub.redirectStderr ? Buffer.concat([sub.rec.bytes('stdout'), sub.rec.bytes('stderr')]) : sub.rec.bytes('stdout');
}

/** Judge0's command_line_arguments: its shell's metacharacters removed, then split as a shell would (quotes kept together). */
export function splitArgs(line: string): string[] {
  const clean = line.trim().replace(/[$&;<>|`]/g, '');
  const out: string[] = [];
  for (const m of clean.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decodeText(value: unknown, base64: boolean): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string') return undefined;
  if (!base64) return value;
  return utf8OrNull(Buffer.from(value, 'base64'));
}

/** Rails' numericality check and message. */
function numberField(errors: Record<string, string[]>, body: Record<string, unknown>, name: string, min: number, max: number, minInclusive = true): number | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    (errors[name] ??= []).push('is not a number');
    return undefined;
  }
  if (minInclusive ? n < min : n <= min) (errors[name] ??= []).push(`must be greater than ${minInclusive ? 'or equal to ' : ''}${min}`);
  else if (n > max) (errors[name] ??= []).push(`must be less than or equal to ${max}`);
  return n;
}

export function registerJudge0(app: FastifyInstance, core: GatewayCore): void {
  const submissions = new Map<string, Submission>();
  const keptOrder: string[] = [];

  const keep = (sub: Submission) => {
    submissions.set(sub.rec.id, sub);
    keptOrder.push(sub.rec.id);
    // Oldest first; a submission still running is kept (it is re-queued at the end).
    for (let i = 0; submissions.size > SUBMISSIONS_KEPT_MAX && i < keptOrder.length; i++) {
      const id = keptOrder.shift() as string;
      const old = submissions.get(id);
      if (old && !old.rec.finished) keptOrder.push(id);
      else submissions.delete(id);
    }
  };

  const languagesNow = async (): Promise<Map<number, { id: string; name: string; info: LanguageInfo }>> => {
    const offered = new Map((await core.backend.languages()).map((l) => [l.id, l]));
    const out = new Map<number, { id: string; name: string; info: LanguageInfo }>();
    for (const l of JUDGE0_LANGUAGES) {
      const info = offered.get(l.id);
      if (!info) continue;
      for (const id of l.ids) out.set(id, { id: l.id, name: l.name(versionNumber(info)), info });
    }
    return out;
  };

  const userOf = (req: FastifyRequest): GatewayUser => {
    const key = req.headers['x-auth-token'];
    const who = core.userByKey(typeof key === 'string' ? key : '');
    // Judge0 answers a failed authentication with an empty 401.
    if (!who) throw new Judge0Error(401, null);
    return who;
  };

  /** Validates and starts one submission; a validation failure is Judge0's 422 body. */
  async function create(body: unknown, base64: boolean, who: GatewayUser): Promise<Submission> {
    if (!isObject(body)) throw new Judge0Error(422, { source_code: ["can't be blank"], language_id: ["can't be blank"] });
    const errors: Record<string, string[]> = {};
    const source = decodeText(body.source_code, base64);
    if (source === undefined && body.source_code !== undefined) (errors.source_code ??= []).push(base64 ? 'is not valid base64 of UTF-8 text' : 'must be a string');
    else if (!source) (errors.source_code ??= []).push("can't be blank");
    const stdin = decodeText(body.stdin, base64);
    if (stdin === undefined && body.stdin !== undefined) (errors.stdin ??= []).push(base64 ? 'is not valid base64 of UTF-8 text' : 'must be a string');
    const expected = decodeText(body.expected_output, base64);
    if (expected === undefined && body.expected_output !== undefined) (errors.expected_output ??= []).push(base64 ? 'is not valid base64 of UTF-8 text' : 'must be a string');
    const langs = await languagesNow();
    const languageId = typeof body.language_id === 'string' ? Number(body.language_id) : body.language_id;
    const lang = typeof languageId === 'number' ? langs.get(languageId) : undefined;
    if (body.language_id === undefined || body.language_id === null || body.language_id === '') (errors.language_id ??= []).push("can't be blank");
    else if (!lang) (errors.language_id ??= []).push(`language with id ${String(body.language_id)} doesn't exist`);
    const max = core.limitsMax;
    const cpu = numberField(errors, body, 'cpu_time_limit', 0, max.cpuTimeMs / 1000);
    const wall = numberField(errors, body, 'wall_time_limit', 1, max.wallTimeMs / 1000);
    const memory = numberField(errors, body, 'memory_limit', 2048, max.memoryKb);
    const processes = numberField(errors, body, 'max_processes_and_or_threads', 0, max.processesMax, false);
    numberField(errors, body, 'number_of_runs', 0, 1, false);
    for (const k of ['command_line_arguments', 'compiler_options'] as const) {
      const v = body[k];
      if (v !== undefined && v !== null && (typeof v !== 'string' || v.length > OPTION_CHARS_MAX)) (errors[k] ??= []).push(`is too long (maximum is ${OPTION_CHARS_MAX} characters)`);
    }
    if (body.callback_url) (errors.callback_url ??= []).push('setting callback is not allowed');
    if (body.additional_files) (errors.additional_files ??= []).push('setting additional files is not allowed');
    if (body.enable_network) (errors.enable_network ??= []).push('enabling network is not allowed');
    if (Object.keys(errors).length > 0 || !lang || typeof source !== 'string') throw new Judge0Error(422, errors);

    const cpuS = cpu !== undefined && cpu > 0 ? clamp(cpu, 0.1, max.cpuTimeMs / 1000) : CPU_TIME_S_DEFAULT;
    const wallS = wall ?? WALL_TIME_S_DEFAULT;
    const memoryKb = clamp(Math.round(memory ?? MEMORY_KB_DEFAULT), 8 * 1024, max.memoryKb);
    const args = typeof body.command_line_arguments === 'string' ? body.command_line_arguments : '';
    const extras: RunExtras = {};
    const argv = splitArgs(args);
    if (argv.length > 0) extras.args = argv;
    if (processes !== undefined) extras.processesMax = Math.round(processes);
    const rec = await core.accept(
      { language: lang.id, source, stdin: stdin ?? '', cpu_time_limit: cpuS, wall_time_limit: Math.max(wallS, cpuS), memory_limit: memoryKb, interactive: false },
      who,
      false,
      extras,
    );
    const sub: Submission = {
      rec,
      languageId: languageId as number,
      languageName: lang.name,
      source,
      stdin: stdin ?? '',
      expected: expected ?? null,
      cpuS,
      wallS,
      memoryKb,
      processes: processes ?? null,
      args,
      compilerOptions: typeof body.compiler_options === 'string' ? body.compiler_options : '',
      redirectStderr: body.redirect_stderr_to_stdout === true,
    };
    keep(sub);
    return sub;
  }

  /** The submission as Judge0's serializer shows it; throws Judge0's conversion error for non-UTF-8 text without base64. */
  function view(sub: Submission, fields: readonly Field[], base64: boolean): Record<string, unknown> {
    const rec = sub.rec;
    const r = rec.result;
    const st = judge0Status(sub);
    const stderrBytes = sub.redirectStderr ? Buffer.alloc(0) : rec.bytes('stderr');
    const bytes: Partial<Record<Field, Buffer | null>> = {
      source_code: Buffer.from(sub.source),
      stdin: Buffer.from(sub.stdin),
      expected_output: sub.expected === null ? null : Buffer.from(sub.expected),
      stdout: rec.finished ? stdoutBytes(sub) : null,
      stderr: rec.finished ? stderrBytes : null,
      compile_output: rec.finished ? rec.bytes('compile') : null,
      message: st.message === null ? null : Buffer.from(st.message),
    };
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      if (TEXT_FIELDS.has(f)) {
        const b = bytes[f];
        // Judge0 stores empty output as nil.
        if (!b || b.length === 0) out[f] = null;
        else if (base64) out[f] = b.toString('base64');
        else {
          const text = utf8OrNull(b);
          if (text === null) throw new Judge0Error(400, { error: 'some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter' });
          out[f] = text;
        }
        continue;
      }
      out[f] = scalar(sub, f, st.id, r);
    }
    return out;
  }

  function scalar(sub: Submission, f: Field, statusId: StatusId, r: RunRecord['result']): unknown {
    switch (f) {
      case 'token':
        return sub.rec.id;
      case 'language_id':
        return sub.languageId;
      case 'language':
        return { id: sub.languageId, name: sub.languageName };
      case 'status':
        return { id: statusId, description: JUDGE0_STATUSES[statusId - 1]?.description };
      case 'status_id':
        return statusId;
      // Judge0's times are decimal seconds, as strings.
      case 'time':
        return r && statusId !== 6 ? (r.cpu_time_ms / 1000).toFixed(3) : null;
      case 'wall_time':
        return r && statusId !== 6 ? (r.wall_time_ms / 1000).toFixed(3) : null;
      case 'memory':
        return r && statusId !== 6 ? Math.round(r.memory_kb) : null;
      case 'exit_code':
        return r && statusId !== 6 ? (r.exit_code ?? 0) : null;
      case 'exit_signal':
        return r?.signal ?? null;
      case 'created_at':
        return sub.rec.createdAt.toISOString();
      case 'finished_at':
        return sub.rec.finishedAt?.toISOString() ?? null;
      case 'cpu_time_limit':
        return sub.cpuS;
      case 'wall_time_limit':
        return sub.wallS;
      case 'memory_limit':
        return sub.memoryKb;
      case 'max_processes_and_or_threads':
        return sub.processes ?? sub.rec.run.limits.processesMax;
      case 'command_line_arguments':
        return sub.args || null;
      case 'compiler_options':
        return sub.compilerOptions || null;
      case 'number_of_runs':
        return 1;
      case 'redirect_stderr_to_stdout':
        return sub.redirectStderr;
      case 'source_code':
      case 'stdin':
      case 'expected_output':
      case 'stdout':
      case 'stderr':
      case 'compile_output':
      case 'message':
        return null;
      default: {
        const never: never = f;
        throw new Error(`unhandled field ${String(never)}`);
      }
    }
  }

  const query = (req: FastifyRequest) => req.query as Record<string, string | undefined>;
  // Judge0 CE's documented default: base64_encoded=false.
  const base64Of = (req: FastifyRequest) => query(req).base64_encoded === 'true';
  const fieldsOf = (req: FastifyRequest): readonly Field[] => {
    const asked = (query(req).fields ?? '').split(',').filter((f) => f !== '');
    if (asked.includes('*')) return FIELDS;
    const invalid = asked.filter((f) => !(FIELDS as readonly string[]).includes(f));
    if (invalid.length > 0) throw new Judge0Error(400, { error: `invalid fields: [${invalid.join(', ')}]` });
    return asked.length > 0 ? (asked as Field[]) : DEFAULT_FIELDS;
  };
  const find = (token: string): Submission => {
    const sub = submissions.get(token);
    if (!sub) throw new Judge0Error(404, { error: 'Not Found' });
    return sub;
  };
  const toJudge0 = (err: unknown): Judge0Error => {
    if (err instanceof Judge0Error) return err;
    if (isGatewayFailure(err)) return new Judge0Error(err.statusCode === 503 ? 503 : err.statusCode, { error: err.statusCode === 503 ? 'queue is full' : err.message });
    throw err;
  };

  app.register(async (scope) => {
    scope.setErrorHandler((err: Error & { statusCode?: number }, _req, reply: FastifyReply) => {
      if (err instanceof Judge0Error) return err.body === null ? reply.code(err.httpStatus).send() : reply.code(err.httpStatus).send(err.body);
      if (isGatewayFailure(err)) return reply.code(err.statusCode).send({ error: err.message });
      if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
      scope.log.error(err);
      return reply.code(500).send({ error: 'internal error' });
    });

    scope.get('/statuses', async () => JUDGE0_STATUSES);

    scope.get('/languages', async () => {
      const langs = await languagesNow();
      return JUDGE0_LANGUAGES.flatMap((l) => {
        const first = l.ids[0] as number;
        const found = langs.get(first);
        return found ? [{ id: first, name: found.name }] : [];
      }).sort((a, b) => a.name.localeCompare(b.name));
    });

    scope.get('/languages/:id', async (req) => {
      const id = Number((req.params as { id: string }).id);
      const found = (await languagesNow()).get(id);
      if (!found) throw new Judge0Error(404, { error: 'Not Found' });
      return { id, name: found.name, is_archived: false };
    });

    // Judge0's docs write "/submissions/?…": both spellings are served.
    const createRoute = async (req: FastifyRequest, reply: FastifyReply) => {
      const who = userOf(req);
      const base64 = base64Of(req);
      const fields = fieldsOf(req);
      const wait = query(req).wait === 'true';
      let sub: Submission;
      try {
        sub = await create(req.body, base64, who);
      } catch (err) {
        throw toJudge0(err);
      }
      if (!wait) return reply.code(201).send({ token: sub.rec.id });
      await sub.rec.done();
      try {
        return reply.code(201).send(view(sub, fields, base64));
      } catch (err) {
        // Judge0 answers a wait whose output is not UTF-8 with the error and the token (201).
        if (err instanceof Judge0Error && err.httpStatus === 400) return reply.code(201).send({ ...(err.body as object), token: sub.rec.id });
        throw err;
      }
    };
    scope.post('/submissions', createRoute);
    scope.post('/submissions/', createRoute);

    scope.post('/submissions/batch', async (req, reply) => {
      const who = userOf(req);
      const base64 = base64Of(req);
      const list = isObject(req.body) ? req.body.submissions : undefined;
      const n = Array.isArray(list) ? list.length : 0;
      if (n > BATCH_SIZE_MAX) throw new Judge0Error(400, { error: `number of submissions in a batch should be less than or equal to ${BATCH_SIZE_MAX}` });
      if (n === 0) throw new Judge0Error(400, { error: 'there should be at least one submission in a batch' });
      const out: unknown[] = [];
      let anyValid = false;
      for (const body of list as unknown[]) {
        try {
          const sub = await create(body, base64, who);
          out.push({ token: sub.rec.id });
          anyValid = true;
        } catch (err) {
          out.push(toJudge0(err).body);
        }
      }
      return reply.code(anyValid ? 201 : 422).send(out);
    });

    scope.get('/submissions/batch', async (req) => {
      userOf(req);
      const tokens = (query(req).tokens ?? '').trim().split(',').filter((t) => t !== '');
      if (tokens.length > BATCH_SIZE_MAX) throw new Judge0Error(400, { error: `number of submissions in a batch should be less than or equal to ${BATCH_SIZE_MAX}` });
      if (tokens.length === 0) throw new Judge0Error(400, { error: 'there should be at least one submission in a batch' });
      const fields = fieldsOf(req);
      const base64 = base64Of(req);
      try {
        return { submissions: tokens.map((t) => (submissions.has(t) ? view(find(t), fields, base64) : null)) };
      } catch (err) {
        if (err instanceof Judge0Error && err.httpStatus === 400) {
          throw new Judge0Error(400, { error: 'some attributes for one or more submissions cannot be converted to UTF-8, use base64_encoded=true query parameter' });
        }
        throw err;
      }
    });

    scope.get('/submissions/:token', async (req) => {
      userOf(req);
      const fields = fieldsOf(req);
      return view(find((req.params as { token: string }).token), fields, base64Of(req));
    });

    scope.delete('/submissions/:token', async (req) => {
      userOf(req);
      throw new Judge0Error(400, { error: 'delete not allowed' });
    });
  });
}
