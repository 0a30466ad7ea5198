import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { OperatingError } from '../protocol/errors.js';
import type { AuthToken } from './options.js';

/** Concurrent runs of "anonymous" when auth is off and the options name no cap. */
export const ANONYMOUS_RUNS_MAX_DEFAULT = 64;

/** Who a request is: its bearer token (or `?token=`, for browsers' WebSockets and EventSource). */
export class Authenticator {
  constructor(
    private readonly auth: { enabled: boolean; tokens: AuthToken[] },
    private readonly anonymousRunsMax = ANONYMOUS_RUNS_MAX_DEFAULT,
  ) {}

  get enabled(): boolean {
    return this.auth.enabled;
  }

  /** The user a token names (anyone when auth is off), or null for a missing or wrong one. */
  userByKey(given: string): AuthToken | null {
    if (!this.auth.enabled) return { token: '', user: 'anonymous', concurrentRunsMax: this.anonymousRunsMax };
    // Constant time per candidate, so a wrong token's timing says nothing of a right one.
    return this.auth.tokens.find((t) => t.token.length === given.length && timingSafeEqual(Buffer.from(t.token), Buffer.from(given))) ?? null;
  }

  /** The request's user; throws UNAUTHORIZED for a missing or wrong token. */
  userOf(req: FastifyRequest): AuthToken {
    const header = req.headers.authorization ?? '';
    const q = (req.query as { token?: string } | undefined)?.token;
    const found = this.userByKey(header.startsWith('Bearer ') ? header.slice(7) : (q ?? ''));
    if (!found) throw new OperatingError('UNAUTHORIZED', 'missing or invalid bearer token');
    return found;
  }

  /** A run is visible to its own user only (to anyone when auth is off, everyone being "anonymous"). */
  maySee(run: { user: string }, who: AuthToken): boolean {
    return !this.auth.enabled || run.user === who.user;
  }
}
