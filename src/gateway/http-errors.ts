import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { httpStatusOf, OperatingError } from '../protocol/errors.js';

/** One answer to a failed request: its status and the API's error body. */
export interface ErrorReply {
  status: number;
  body: { error: string; code: string };
  /** A bug: the Gateway logs it; the client learns nothing of its insides. */
  log: boolean;
}

/**
 * How the API answers an error: an operating error with its code's status from the error table
 * (docs/ERRORS.md), a client error of fastify's own (a malformed body, a wrong content type) with
 * its status, anything else as a logged 500.
 */
export function errorReply(err: Error & { statusCode?: number; code?: string }): ErrorReply {
  if (err instanceof OperatingError) return { status: err.statusCode, body: { error: err.message, code: err.code }, log: false };
  if (err.statusCode && err.statusCode < 500) return { status: err.statusCode, body: { error: err.message, code: err.code ?? 'BAD_REQUEST' }, log: false };
  return { status: httpStatusOf('INTERNAL'), body: { error: 'internal error', code: 'INTERNAL' }, log: true };
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const r = errorReply(err);
    if (r.log) app.log.error(err);
    return reply.code(r.status).send(r.body);
  });
}

/** A zod failure as one line naming each field. */
export function zodMessage(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}
