import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OperatingError } from '../protocol/errors.js';
import { RunSpecSchema } from './api-types.js';
import type { GatewayDeps } from './deps.js';
import { zodMessage } from './http-errors.js';
import type { RunRecord } from './run-store.js';

/** The REST run API: POST/GET/DELETE /api/v1/runs and the languages it offers. */
export function registerRunRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const { auth, store, backend } = deps;
  const runSpecJson = z.toJSONSchema(RunSpecSchema, { unrepresentable: 'any' }) as Record<string, unknown>;
  delete runSpecJson.$schema;

  /** The caller's run by the id in the path; NOT_FOUND for another user's, as for none. */
  const ownRun = (req: FastifyRequest): RunRecord => {
    const who = auth.userOf(req);
    const rec = store.get((req.params as { id: string }).id);
    if (!rec || !auth.maySee(rec.run, who)) throw new OperatingError('NOT_FOUND', 'no such run');
    return rec;
  };

  // The JSON schema documents the body in /docs; zod validates it (fastify's own validator would
  // silently strip unknown fields instead of refusing them).
  const documentOnly = () => (data: unknown) => ({ value: data });
  app.post('/api/v1/runs', { schema: { body: runSpecJson, security: [{ bearer: [] }] }, validatorCompiler: documentOnly }, async (req: FastifyRequest, reply: FastifyReply) => {
    const who = auth.userOf(req);
    const parsed = RunSpecSchema.safeParse(req.body);
    if (!parsed.success) throw new OperatingError('BAD_REQUEST', zodMessage(parsed.error));
    const rec = await deps.accept(parsed.data, who, false);
    if (!parsed.data.wait) return reply.code(201).send({ id: rec.id, resume_token: rec.token });
    await rec.done();
    return rec.view();
  });

  app.get('/api/v1/runs/:id', async (req) => ownRun(req).view());

  app.delete('/api/v1/runs/:id', async (req, reply) => {
    const rec = ownRun(req);
    if (!rec.finished) backend.kill(rec.id);
    return reply.code(202).send({ id: rec.id, status: rec.status });
  });

  app.get('/api/v1/languages', async () => {
    return (await backend.languages()).map((l) => ({ language: l.id, id: l.id, name: l.name, version: l.version, extensions: l.extensions }));
  });
}
