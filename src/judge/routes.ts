import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { findLanguage } from '../sandbox/languages.js';
import { SOURCE_BYTES_MAX } from '../sandbox/limits.js';
import { checkFiles } from '../sandbox/runner.js';
import type { RunBackend } from '../gateway/backend.js';
import { FILE_NAME_MAX, FILES_MAX } from '../gateway/api-types.js';
import { CLASS_BOUNDS, classFromFiles, STUDENT_NAME_MAX } from './class-files.js';
import { PackageError, readZip } from './package-files.js';
import { PROBLEM_BOUNDS, problemFromFiles, problemFromJson, ProblemJsonSchema, type Problem } from './problem.js';
import { JudgeError, type JudgeEvent, type JudgeService } from './service.js';
import { httpStatusOf, type OperatingErrorCode } from '../protocol/errors.js';

/**
 * The judge's HTTP and WebSocket API on the Gateway. Errors carry a status, a stable code and a
 * sentence, as the rest of the API's do (the Gateway's error handler sends them).
 */

/** Largest problem upload (a zip, or its JSON): the package bound plus room for encoding. */
export const PROBLEM_UPLOAD_BYTES_MAX = PROBLEM_BOUNDS.totalBytesMax + 8 * 1024 * 1024;
/** Largest class upload (a zip of folders, or the JSON list). */
export const BATCH_UPLOAD_BYTES_MAX = CLASS_BOUNDS.totalBytesMax + 8 * 1024 * 1024;

const FileSchema = z.strictObject({ name: z.string().min(1).max(FILE_NAME_MAX), content: z.string() });
const SourceFields = {
  language: z.string().min(1).max(32).optional(),
  source: z.string().optional(),
  files: z.array(FileSchema).min(1).max(FILES_MAX).optional(),
};
const SubmissionSchema = z.strictObject({
  problem_id: z.string().max(64).optional(),
  problem: ProblemJsonSchema.optional(),
  ...SourceFields,
  student: z.string().min(1).max(STUDENT_NAME_MAX).optional(),
  /** Answer with the finished submission instead of {id}. */
  wait: z.boolean().optional(),
});
const BatchSchema = z.strictObject({
  problem_id: z.string().max(64).optional(),
  problem: ProblemJsonSchema.optional(),
  submissions: z.array(z.strictObject({ student: z.string().min(1).max(STUDENT_NAME_MAX), ...SourceFields })).min(1),
});

export interface JudgeRouteOptions {
  judge: JudgeService;
  backend: RunBackend;
  userOf(req: FastifyRequest): { user: string };
  sourceBytesMax?: number;
}

function bad(code: OperatingErrorCode, message: string): JudgeError {
  return new JudgeError(code, message);
}

function fromPackage(err: unknown): never {
  if (err instanceof PackageError) throw new JudgeError(err.code, err.message);
  throw err;
}

function zodMessage(err: z.ZodError): string {
  return err.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

const tooLarge = (max: number, what: string) => (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.code(httpStatusOf('UPLOAD_TOO_LARGE')).send({ error: `${what} is over ${max} bytes`, code: 'UPLOAD_TOO_LARGE' });
  }
  const e = err as FastifyError & { statusCode?: number };
  if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: e.message, code: e.code ?? 'BAD_REQUEST' });
  throw err;
};

export async function registerJudgeRoutes(app: FastifyInstance, opts: JudgeRouteOptions): Promise<void> {
  const { judge } = opts;
  const sourceBytesMax = opts.sourceBytesMax ?? SOURCE_BYTES_MAX;

  async function language(name: string | undefined, fallback: string | undefined): Promise<string> {
    const wanted = name ?? fallback;
    if (!wanted) throw bad('BAD_REQUEST', 'language: required (or files whose extension names it)');
    let id = '';
    try {
      id = findLanguage(wanted).id;
    } catch {
      // reported below with the list
    }
    const langs = await opts.backend.languages();
    if (!langs.some((l) => l.id === id)) throw bad('UNKNOWN_LANGUAGE', `unknown language "${wanted}"; available: ${langs.map((l) => l.id).join(', ')}`);
    return id;
  }

  function sourceFiles(s: { language?: string | undefined; source?: string | undefined; files?: Array<{ name: string; content: string }> | undefined }, lang: string, who: string): Array<{ name: string; content: string }> {
    if ((s.source === undefined) === (s.files === undefined)) throw bad('BAD_REQUEST', `${who}give exactly one of "source" or "files"`);
    const files = s.files ?? [{ name: findLanguage(lang).sourceFile(s.source ?? ''), content: s.source ?? '' }];
    const size = files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
    if (size > sourceBytesMax) throw new JudgeError('SOURCE_TOO_LARGE', `${who}source is ${size} bytes, over the ${sourceBytesMax}-byte cap`);
    try {
      checkFiles({ source: Buffer.alloc(0), files: files.map((f) => ({ name: f.name, content: Buffer.alloc(0) })) });
    } catch (err) {
      throw bad('BAD_FILE_NAME', `${who}${(err as Error).message}`);
    }
    return files;
  }

  function problemOf(body: { problem_id?: string | undefined; problem?: z.infer<typeof ProblemJsonSchema> | undefined }): Problem {
    if ((body.problem_id === undefined) === (body.problem === undefined)) throw bad('BAD_REQUEST', 'give exactly one of "problem_id" or "problem"');
    if (body.problem_id !== undefined) {
      const p = judge.problem(body.problem_id);
      if (!p) throw new JudgeError('NO_SUCH_PROBLEM', `no problem with id ${body.problem_id}; upload it with POST /api/v1/problems`);
      return p;
    }
    let p: Problem;
    try {
      p = problemFromJson(body.problem as z.infer<typeof ProblemJsonSchema>);
    } catch (err) {
      fromPackage(err);
    }
    judge.addProblem(p);
    return p;
  }

  function problemSummary(p: Problem) {
    return {
      id: p.id,
      name: p.name,
      checker: p.checker.kind,
      limits: { cpu_time_limit: p.limits.cpuTimeMs / 1000, wall_time_limit: p.limits.wallTimeMs / 1000, memory_limit: p.limits.memoryKb, output_limit: p.limits.outputBytesMax },
      tests: p.tests.map((t) => ({ name: t.name, sample: t.sample, group: t.group, points: t.points, ...(t.sample ? { input: t.input, answer: t.answer } : {}) })),
      groups: p.groups,
    };
  }

  function stream(socket: WebSocket, subscribe: (fn: (e: JudgeEvent) => void) => () => void, initial: JudgeEvent[], endType: JudgeEvent['type']): void {
    const send = (e: JudgeEvent) => {
      if (socket.readyState === socket.OPEN && socket.bufferedAmount < 8 * 1024 * 1024) socket.send(JSON.stringify(e));
    };
    for (const e of initial) send(e);
    if (initial.some((e) => e.type === endType)) return void socket.close(1000, 'done');
    const off = subscribe((e) => {
      send(e);
      if (e.type === endType) {
        off();
        socket.close(1000, 'done');
      }
    });
    socket.on('close', off);
  }

  await app.register(async (scope) => {
    scope.addContentTypeParser(['application/zip', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: Math.max(PROBLEM_UPLOAD_BYTES_MAX, BATCH_UPLOAD_BYTES_MAX) }, (_req, body, done) => done(null, body));

    scope.post('/api/v1/problems', { bodyLimit: PROBLEM_UPLOAD_BYTES_MAX, errorHandler: tooLarge(PROBLEM_UPLOAD_BYTES_MAX, 'the problem') }, async (req, reply) => {
      opts.userOf(req);
      let p: Problem;
      try {
        if (Buffer.isBuffer(req.body)) {
          const name = (req.query as { name?: string }).name ?? 'problem';
          p = problemFromFiles(readZip(req.body, PROBLEM_BOUNDS), name.slice(0, 100) || 'problem');
        } else {
          const parsed = ProblemJsonSchema.safeParse(req.body);
          if (!parsed.success) throw bad('BAD_REQUEST', zodMessage(parsed.error));
          p = problemFromJson(parsed.data);
        }
      } catch (err) {
        fromPackage(err);
      }
      const { created } = judge.addProblem(p);
      return reply.code(created ? 201 : 200).send({ id: p.id, name: p.name, tests: p.tests.length, created });
    });

    scope.get('/api/v1/problems', async (req) => {
      opts.userOf(req);
      return judge.listProblems().map((p) => ({ id: p.id, name: p.name, tests: p.tests.length }));
    });

    scope.get('/api/v1/problems/:id', async (req) => {
      opts.userOf(req);
      const p = judge.problem((req.params as { id: string }).id);
      if (!p) throw new JudgeError('NO_SUCH_PROBLEM', 'no such problem');
      return problemSummary(p);
    });

    scope.post('/api/v1/submissions', { bodyLimit: PROBLEM_UPLOAD_BYTES_MAX, errorHandler: tooLarge(PROBLEM_UPLOAD_BYTES_MAX, 'the submission') }, async (req, reply) => {
      const who = opts.userOf(req);
      const parsed = SubmissionSchema.safeParse(req.body);
      if (!parsed.success) throw bad('BAD_REQUEST', zodMessage(parsed.error));
      const body = parsed.data;
      const problem = problemOf(body);
      const fromExt = body.files?.[0] ? body.files[0].name.split('.').pop() : undefined;
      const lang = await language(body.language, fromExt ? extLanguage(fromExt) : undefined);
      const files = sourceFiles(body, lang, '');
      const sub = judge.submit({ problem, language: lang, files, user: who.user, ...(body.student ? { student: body.student } : {}) });
      if (!body.wait) return reply.code(201).send({ id: sub.id, problem_id: problem.id });
      await judge.done(sub);
      return sub.view();
    });

    scope.get('/api/v1/submissions/:id', async (req) => {
      const who = opts.userOf(req);
      const s = judge.submission((req.params as { id: string }).id);
      // Only its owner sees a submission (with auth off everyone is "anonymous").
      if (!s || s.input.user !== who.user) throw new JudgeError('NO_SUCH_SUBMISSION', 'no such submission');
      return s.view();
    });

    scope.post('/api/v1/batches', { bodyLimit: BATCH_UPLOAD_BYTES_MAX, errorHandler: tooLarge(BATCH_UPLOAD_BYTES_MAX, 'the batch') }, async (req, reply) => {
      const who = opts.userOf(req);
      let problem: Problem;
      let items: Array<{ student: string; language: string; files: Array<{ name: string; content: string }> }>;
      if (Buffer.isBuffer(req.body)) {
        const q = req.query as { problem_id?: string; language?: string };
        problem = problemOf({ problem_id: q.problem_id });
        let students;
        try {
          students = classFromFiles(readZip(req.body, CLASS_BOUNDS), q.language);
        } catch (err) {
          fromPackage(err);
        }
        items = [];
        for (const s of students) items.push({ student: s.student, language: await language(s.language, undefined), files: sourceFiles({ files: s.files }, s.language, `${s.student}: `) });
      } else {
        const parsed = BatchSchema.safeParse(req.body);
        if (!parsed.success) throw bad('BAD_REQUEST', zodMessage(parsed.error));
        problem = problemOf(parsed.data);
        const names = new Set<string>();
        items = [];
        for (const s of parsed.data.submissions) {
          if (names.has(s.student)) throw bad('DUPLICATE_STUDENT', `student "${s.student}" appears twice`);
          names.add(s.student);
          const ext = s.files?.[0]?.name.split('.').pop();
          const lang = await language(s.language, ext ? extLanguage(ext) : undefined);
          items.push({ student: s.student, language: lang, files: sourceFiles(s, lang, `${s.student}: `) });
        }
      }
      const b = judge.submitBatch(problem, who.user, items);
      return reply.code(201).send({ id: b.id, problem_id: problem.id, total: b.submissions.length, submissions: b.submissions.map((s) => ({ student: s.input.student, id: s.id })) });
    });

    scope.get('/api/v1/batches/:id', async (req) => {
      const who = opts.userOf(req);
      const b = judge.batch((req.params as { id: string }).id);
      if (!b || b.user !== who.user) throw new JudgeError('NO_SUCH_BATCH', 'no such batch');
      return judge.batchView(b);
    });

    scope.get('/api/v1/batches/:id/results.csv', async (req, reply) => {
      const who = opts.userOf(req);
      const b = judge.batch((req.params as { id: string }).id);
      if (!b || b.user !== who.user) throw new JudgeError('NO_SUCH_BATCH', 'no such batch');
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="results-${b.id}.csv"`).send(judge.batchCsv(b));
    });

    scope.get('/api/v1/submissions/:id/stream', { websocket: true }, (socket: WebSocket, req: FastifyRequest) => {
      let who: { user: string };
      try {
        who = opts.userOf(req);
      } catch {
        return void socket.close(4401, 'unauthorized');
      }
      const s = judge.submission((req.params as { id: string }).id);
      if (!s || s.input.user !== who.user) return void socket.close(4404, 'no such submission');
      const v = s.view();
      const initial: JudgeEvent[] = v.tests
        .filter((t) => t.state === 'done')
        .map((t) => ({ type: 'submission_progress', submission: s.id, student: v.student, test: t, done: v.done, total: v.total }));
      if (v.state === 'done') initial.push({ type: 'submission_result', submission: s.id, student: v.student, result: v });
      stream(socket, (fn) => judge.subscribeSubmission(s, fn), initial, 'submission_result');
    });

    scope.get('/api/v1/batches/:id/stream', { websocket: true }, (socket: WebSocket, req: FastifyRequest) => {
      let who: { user: string };
      try {
        who = opts.userOf(req);
      } catch {
        return void socket.close(4401, 'unauthorized');
      }
      const b = judge.batch((req.params as { id: string }).id);
      if (!b || b.user !== who.user) return void socket.close(4404, 'no such batch');
      const v = judge.batchView(b);
      const initial: JudgeEvent[] = b.submissions.filter((s) => s.job.done).map((s) => ({ type: 'submission_result', submission: s.id, student: s.input.student ?? null, result: s.view() }));
      if (v.state === 'done') initial.push({ type: 'batch_result', batch: b.id, result: v });
      stream(socket, (fn) => judge.subscribeBatch(b, fn), initial, 'batch_result');
    });
  });
}

function extLanguage(ext: string): string | undefined {
  try {
    return findLanguage(ext).id;
  } catch {
    const map: Record<string, string> = { c: 'c', cpp: 'cpp', cc: 'cpp', cxx: 'cpp', py: 'python', java: 'java', js: 'javascript', mjs: 'javascript' };
    return map[ext.toLowerCase()];
  }
}
