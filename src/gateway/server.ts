import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { CodeArenaError } from '../common/errors.js';
import { findLanguage } from '../sandbox/languages.js';
import { DEFAULT_LIMITS, MAX_LIMITS, SOURCE_BYTES_MAX, validateLimits, type Limits } from '../sandbox/limits.js';
import { checkFiles } from '../sandbox/runner.js';
import { parseClientMessage, RunSpecSchema, type RunSpec, type ServerMessage } from './api-types.js';
import { encodeOutputFrame } from './output-frame.js';
import { isRetryableStartError, type AcceptedRun, type RunBackend } from './backend.js';
import { httpStatusOf, type OperatingErrorCode } from '../protocol/errors.js';
import { createMetrics } from './metrics.js';
import { registerJudgeRoutes } from '../judge/routes.js';
import { JudgeService } from '../judge/service.js';
import { registerWeb, type GatewayRole } from './web.js';
import { RunStore, tokenMatches, type RunEvent, type RunRecord } from './run-store.js';
import type { GatewayCore, JobeFiles, RunExtras } from './compat/common.js';
import { JobeFileStore } from './compat/jobe-files.js';
import { registerJobe } from './compat/jobe.js';
import { registerPiston } from './compat/piston.js';
import { registerJudge0 } from './compat/judge0.js';
import type { StreamName } from '../protocol/output.js';

export interface AuthToken {
  token: string;
  user: string;
  concurrentRunsMax: number;
}

export interface GatewayOptions {
  backend: RunBackend;
  auth: { enabled: boolean; tokens: AuthToken[] };
  /** Concurrent runs of one user when auth is off (everyone is "anonymous"). */
  anonymousRunsMax?: number;
  limitsMax?: Limits;
  sourceBytesMax?: number;
  runsRetainedMax?: number;
  logger?: boolean;
  /** Key of the resume tokens (deriveResumeKey of the cluster secret): shared by every Gateway of
   * a lab, so a standby that took over honours the old Gateway's tokens. Default: one per process. */
  resumeKey?: Buffer;
  /** How often WebSocket clients are pinged (default WS_PING_MS); tests shorten it. */
  wsPingMs?: number;
  /** Where the judge keeps problems across restarts (src/judge); none: in memory only. */
  stateDir?: string | null;
  /** Gateway URLs the web client fails over to (GET /api/v1/gateways); default none. */
  gateways?: string[];
  /** Epoch and standby of a cluster Gateway, for the lab dashboard. */
  gatewayRole?: () => GatewayRole | null;
  /** Jobe's file store and what to do with a stored file (copy it to the standby); default: a store of its own. */
  jobe?: JobeFiles;
}

/** Bytes a slow WebSocket client may have unsent before it is cut off (it can resume). */
export const WS_BUFFERED_BYTES_MAX = 8 * 1024 * 1024;
/** Largest WebSocket message a client may send. */
export const WS_MESSAGE_BYTES_MAX = 2 * 1024 * 1024;
/** How often the Gateway pings each WebSocket client (see the pinger in buildGateway). */
export const WS_PING_MS = 5_000;
/** Largest output message to a client: consecutive chunks are merged up to this. */
export const WS_OUTPUT_MESSAGE_BYTES_MAX = 64 * 1024;

/**
 * Merges consecutive output chunks of one stream that are ready at the same moment into one client
 * message (flushed on the next turn of the event loop, and before any other message). A fast
 * program then costs one JSON message per 64 KiB instead of per 1,500 bytes; a prompt still goes out
 * at once, alone.
 */
class OutputCoalescer {
  private pending: { stream: StreamName; firstSeq: number; seq: number; parts: Buffer[]; bytes: number } | null = null;
  private scheduled = false;
  /** The client asked for output as binary frames. */
  binary = false;

  constructor(private readonly send: (m: ServerMessage | Buffer) => void) {}

  push(e: RunEvent): void {
    if (e.type !== 'output') {
      this.flush();
      this.send(e);
      return;
    }
    const p = this.pending;
    if (p && p.stream === e.stream && p.seq + 1 === e.seq && p.bytes + e.data.length <= WS_OUTPUT_MESSAGE_BYTES_MAX) {
      p.parts.push(e.data);
      p.bytes += e.data.length;
      p.seq = e.seq;
    } else {
      this.flush();
      this.pending = { stream: e.stream, firstSeq: e.seq, seq: e.seq, parts: [e.data], bytes: e.data.length };
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    if (this.binary) this.send(encodeOutputFrame({ stream: p.stream, firstSeq: p.firstSeq, seq: p.seq }, p.parts));
    else this.send({ type: 'output', stream: p.stream, seq: p.seq, first_seq: p.firstSeq, data: Buffer.concat(p.parts).toString('base64') });
  }
}

/**
 * A client message as JSON. Output is put together by hand: its data is base64, which needs no
 * escaping, and JSON.stringify scanning 64 KiB of it per message was the Gateway's largest cost
 * on a fast program's output.
 */
export function serverMessageJson(msg: ServerMessage): string {
  if (msg.type !== 'output') return JSON.stringify(msg);
  return `{"type":"output","stream":"${msg.stream}","seq":${msg.seq},"first_seq":${msg.first_seq},"data":"${msg.data}"}`;
}

/** Largest HTTP body; the source cap inside it is checked separately for a clear 413. */
const BODY_BYTES_MAX = 4 * 1024 * 1024;

/** An answer of the API's own: its HTTP status is the code's row in the error table (docs/ERRORS.md). */
class ApiError extends Error {
  readonly statusCode: number;

  constructor(readonly code: OperatingErrorCode, message: string) {
    super(message);
    this.statusCode = httpStatusOf(code);
  }
}

function zodMessage(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

const judges = new WeakMap<FastifyInstance, JudgeService>();

/** The judge of a Gateway built by buildGateway. */
export function judgeOf(app: FastifyInstance): JudgeService {
  const j = judges.get(app);
  if (!j) throw new Error('not a Gateway built by buildGateway');
  return j;
}

export async function buildGateway(opts: GatewayOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: BODY_BYTES_MAX });
  const metrics = createMetrics();
  const store = new RunStore(
    opts.runsRetainedMax,
    (rec) => {
      metrics.runs.inc({ status: rec.status });
      metrics.endToEnd.observe((Date.now() - rec.createdAt.getTime()) / 1000);
    },
    opts.resumeKey,
  );
  /** Runs being fetched from the Assigners (one ask per id, however many clients resume it). */
  const attaching = new Map<string, Promise<RunRecord | null>>();

  /**
   * A run this Gateway never saw (another Gateway accepted it before a failover): with a valid
   * token, the Assigner holding it hands over its spec, state and every chunk so far.
   */
  function adopt(id: string, token: string): Promise<RunRecord | null> {
    const backend = opts.backend;
    if (!backend.attach || !tokenMatches(store.key, id, token)) return Promise.resolve(null);
    let pending = attaching.get(id);
    if (!pending) {
      let rec: RunRecord | null = null;
      pending = backend
        .attach(id, (found) => {
          rec = store.get(id) ?? store.create(found.run);
          rec.attempt = Math.max(rec.attempt, found.attempt);
          if (found.phase !== 'queued') rec.started({ worker: found.worker, assigner: found.assigner });
          return rec;
        })
        .then((ok) => (ok ? rec : null))
        .finally(() => attaching.delete(id));
      attaching.set(id, pending);
    }
    return pending;
  }
  const limitsMax = opts.limitsMax ?? MAX_LIMITS;
  const sourceBytesMax = opts.sourceBytesMax ?? SOURCE_BYTES_MAX;

  await app.register(swagger, {
    openapi: { info: { title: 'CodeArena local cloud API', version: '1' }, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(websocket, { options: { maxPayload: WS_MESSAGE_BYTES_MAX } });

  /** The user a token names (anyone when auth is off), or null for a missing or wrong one. */
  function userByKey(given: string): AuthToken | null {
    if (!opts.auth.enabled) return { token: '', user: 'anonymous', concurrentRunsMax: opts.anonymousRunsMax ?? 64 };
    return opts.auth.tokens.find((t) => t.token.length === given.length && timingSafeEqual(Buffer.from(t.token), Buffer.from(given))) ?? null;
  }

  function userOf(req: FastifyRequest): AuthToken {
    const header = req.headers.authorization ?? '';
    const q = (req.query as { token?: string } | undefined)?.token;
    const found = userByKey(header.startsWith('Bearer ') ? header.slice(7) : (q ?? ''));
    if (!found) throw new ApiError('UNAUTHORIZED', 'missing or invalid bearer token');
    return found;
  }

  async function accept(spec: RunSpec, who: AuthToken, interactiveDefault: boolean, extras: RunExtras = {}): Promise<RunRecord> {
    const langs = await opts.backend.languages();
    let langId: string;
    try {
      langId = findLanguage(spec.language).id;
    } catch {
      langId = '';
    }
    if (!langs.some((l) => l.id === langId)) {
      throw new ApiError('UNKNOWN_LANGUAGE', `unknown language "${spec.language}"; available: ${langs.map((l) => l.id).join(', ')}`);
    }
    const lang = findLanguage(langId);
    const files = spec.files ?? [{ name: lang.sourceFile(spec.source ?? ''), content: spec.source ?? '' }];
    const size = files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
    if (size > sourceBytesMax) throw new ApiError('SOURCE_TOO_LARGE', `source is ${size} bytes, over the ${sourceBytesMax}-byte cap`);
    let limits: Limits;
    try {
      const partial: Partial<Limits> = {};
      if (spec.cpu_time_limit !== undefined) partial.cpuTimeMs = spec.cpu_time_limit * 1000;
      if (spec.wall_time_limit !== undefined) partial.wallTimeMs = spec.wall_time_limit * 1000;
      if (spec.memory_limit !== undefined) partial.memoryKb = spec.memory_limit;
      if (spec.output_limit !== undefined) partial.outputBytesMax = spec.output_limit;
      if (extras.processesMax !== undefined) partial.processesMax = extras.processesMax;
      limits = validateLimits({ ...DEFAULT_LIMITS, ...partial }, limitsMax);
      checkFiles({ source: Buffer.alloc(0), files: files.map((f) => ({ name: f.name, content: Buffer.alloc(0) })) });
    } catch (err) {
      if (err instanceof CodeArenaError) {
        const msg = err.message
          .replace('limit cpuTimeMs', 'cpu_time_limit (ms)')
          .replace('limit wallTimeMs', 'wall_time_limit (ms)')
          .replace('limit memoryKb', 'memory_limit (KB)')
          .replace('limit outputBytesMax', 'output_limit (bytes)');
        throw new ApiError(err.code, `${msg} — ${err.hint}`);
      }
      throw err;
    }
    if (store.active(who.user) >= who.concurrentRunsMax) {
      metrics.refused.inc({ reason: 'quota' });
      throw new ApiError('QUOTA', `user ${who.user} already has ${who.concurrentRunsMax} runs going`);
    }
    const run: AcceptedRun = {
      id: randomUUID(),
      user: who.user,
      language: lang.id,
      files,
      main: (files[0] as { name: string }).name,
      stdin: spec.stdin ?? '',
      interactive: spec.interactive ?? interactiveDefault,
      limits,
      ...(extras.args?.length ? { args: extras.args } : {}),
    };
    const rec = store.create(run);
    const t0 = Date.now();
    const started = rec.started.bind(rec);
    rec.started = (info) => {
      metrics.placement.observe((Date.now() - t0) / 1000);
      started(info);
    };
    try {
      await opts.backend.start(run, rec);
    } catch (err) {
      store.drop(rec);
      if (isRetryableStartError(err)) {
        metrics.refused.inc({ reason: err.code.toLowerCase() });
        throw new ApiError(err.code, err.message);
      }
      throw err;
    }
    metrics.accepted.inc();
    return rec;
  }

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof ApiError) return reply.code(err.statusCode).send({ error: err.message, code: err.code });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message, code: err.code ?? 'BAD_REQUEST' });
    app.log.error(err);
    return reply.code(500).send({ error: 'internal error', code: 'INTERNAL' });
  });

  const runSpecJson = z.toJSONSchema(RunSpecSchema, { unrepresentable: 'any' }) as Record<string, unknown>;
  delete runSpecJson.$schema;

  // The JSON schema documents the body in /docs; zod validates it (fastify's own validator would
  // silently strip unknown fields instead of refusing them).
  const documentOnly = () => (data: unknown) => ({ value: data });
  app.post('/api/v1/runs', { schema: { body: runSpecJson, security: [{ bearer: [] }] }, validatorCompiler: documentOnly }, async (req: FastifyRequest, reply: FastifyReply) => {
    const who = userOf(req);
    const parsed = RunSpecSchema.safeParse(req.body);
    if (!parsed.success) throw new ApiError('BAD_REQUEST', zodMessage(parsed.error));
    const rec = await accept(parsed.data, who, false);
    if (!parsed.data.wait) return reply.code(201).send({ id: rec.id, resume_token: rec.token });
    await rec.done();
    return rec.view();
  });

  app.get('/api/v1/runs/:id', async (req) => {
    const who = userOf(req);
    const rec = store.get((req.params as { id: string }).id);
    if (!rec || (opts.auth.enabled && rec.run.user !== who.user)) throw new ApiError('NOT_FOUND', 'no such run');
    return rec.view();
  });

  app.delete('/api/v1/runs/:id', async (req, reply) => {
    const who = userOf(req);
    const rec = store.get((req.params as { id: string }).id);
    if (!rec || (opts.auth.enabled && rec.run.user !== who.user)) throw new ApiError('NOT_FOUND', 'no such run');
    if (!rec.finished) opts.backend.kill(rec.id);
    return reply.code(202).send({ id: rec.id, status: rec.status });
  });

  app.get('/api/v1/languages', async () => {
    return (await opts.backend.languages()).map((l) => ({ language: l.id, id: l.id, name: l.name, version: l.version, extensions: l.extensions }));
  });

  app.get('/api/v1/cluster', async (req) => {
    userOf(req);
    return opts.backend.cluster();
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/metrics', async (_req, reply) => {
    metrics.queueLength.set(opts.backend.queueLength());
    metrics.nodes.reset();
    for (const n of opts.backend.cluster().nodes) metrics.nodes.inc({ role: n.role, state: n.state });
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  registerWeb(app, { backend: opts.backend, metrics, gateways: opts.gateways ?? [], authorize: userOf, ...(opts.gatewayRole ? { gatewayRole: opts.gatewayRole } : {}) });

  // Every client is pinged every WS_PING_MS: one that has not answered the previous ping is gone
  // (its PC switched off, a network cut) and is dropped; clients may likewise take a connection
  // that stays silent for 3 pings as dead and resume.
  const alive = new WeakMap<WebSocket, boolean>();
  const pinger = setInterval(() => {
    for (const client of app.websocketServer.clients) {
      if (alive.get(client) === false) {
        client.terminate();
        continue;
      }
      alive.set(client, false);
      client.ping();
    }
  }, opts.wsPingMs ?? WS_PING_MS);
  pinger.unref();
  app.addHook('onClose', async () => clearInterval(pinger));

  app.register(async (scope) => {
    scope.get('/api/v1/runs/stream', { websocket: true }, (socket: WebSocket, req: FastifyRequest) => {
      alive.set(socket, true);
      socket.on('pong', () => alive.set(socket, true));
      let who: AuthToken;
      try {
        who = userOf(req);
      } catch (err) {
        sendTo(socket, { type: 'error', code: 'UNAUTHORIZED', message: (err as Error).message });
        socket.close(4401, 'unauthorized');
        return;
      }
      streamSession(socket, who);
    });
  });

  function sendTo(socket: WebSocket, msg: ServerMessage | Buffer): void {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > WS_BUFFERED_BYTES_MAX) {
      // A client that does not read must not make the Gateway hold its output twice; it can resume.
      socket.close(4408, 'client too slow; resume with your token');
      return;
    }
    if (Buffer.isBuffer(msg)) socket.send(msg, { binary: true });
    else socket.send(serverMessageJson(msg));
  }

  function streamSession(socket: WebSocket, who: AuthToken): void {
    let rec: RunRecord | null = null;
    let unsubscribe: () => void = () => {};
    const out = new OutputCoalescer((m) => sendTo(socket, m));
    const attach = (r: RunRecord, lastSeq: number) => {
      rec = r;
      unsubscribe = r.subscribe((e) => out.push(e), lastSeq);
    };
    socket.on('close', () => unsubscribe());
    socket.on('message', async (raw: Buffer) => {
      let msg;
      try {
        msg = parseClientMessage(JSON.parse(raw.toString('utf8')));
      } catch {
        return sendTo(socket, { type: 'error', code: 'BAD_JSON', message: 'messages are JSON objects' });
      }
      if (!msg.success) return sendTo(socket, { type: 'error', code: 'BAD_MESSAGE', message: zodMessage(msg.error) });
      const m = msg.data;
      try {
        switch (m.type) {
          case 'start': {
            if (rec) throw new ApiError('ALREADY_STARTED', 'this connection already has a run; open another');
            const { type: _t, binary_output: binary, ...spec } = m;
            const r = await accept(spec, who, true);
            out.binary = binary === true;
            sendTo(socket, { type: 'accepted', id: r.id, resume_token: r.token });
            attach(r, -1);
            return;
          }
          case 'resume': {
            const r = store.get(m.id) ?? (await adopt(m.id, m.resume_token));
            if (!r || !tokenMatches(store.key, r.id, m.resume_token)) throw new ApiError('NOT_FOUND', 'no run with that id and resume token');
            unsubscribe();
            out.binary = m.binary_output === true;
            attach(r, m.last_seq);
            return;
          }
          case 'stdin':
          case 'eof':
          case 'kill': {
            const r = rec as RunRecord | null;
            if (!r) throw new ApiError('NO_RUN', `"${m.type}" before "start" or "resume"`);
            if (r.finished) return;
            if (m.type === 'stdin') opts.backend.write(r.id, m.data);
            else if (m.type === 'eof') opts.backend.endInput(r.id);
            else opts.backend.kill(r.id);
            return;
          }
          default: {
            const never: never = m;
            throw new Error(`unhandled ${JSON.stringify(never)}`);
          }
        }
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError('INTERNAL', (err as Error).message);
        sendTo(socket, { type: 'error', code: e.code, message: e.message });
      }
    });
  }

  // The peers' dialects (Jobe, Piston, Judge0): thin translations onto accept() above.
  const core: GatewayCore = { accept, userByKey, backend: opts.backend, limitsMax, sourceBytesMax, jobe: opts.jobe ?? { files: new JobeFileStore() } };
  registerJobe(app, core);
  registerPiston(app, core);
  registerJudge0(app, core);

  // Judge mode (src/judge): problems, submissions and batches, each test a batch run on this backend.
  const judge = new JudgeService({ backend: opts.backend, stateDir: opts.stateDir ?? null, limitsMax, registry: metrics.registry });
  judges.set(app, judge);
  await registerJudgeRoutes(app, { judge, backend: opts.backend, userOf, sourceBytesMax });

  app.addHook('onClose', async () => {
    judge.close();
    await opts.backend.close();
  });
  return app;
}
