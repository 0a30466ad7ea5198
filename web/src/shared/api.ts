// Talking to the Gateway from a page: the token, the list of Gateway addresses to fail over to,
// JSON requests, and every error the API can answer turned into a sentence a student can act on.

const TOKEN_KEY = 'codearena.token';
const GATEWAYS_KEY = 'codearena.gateways';
/** Gateway addresses kept from /api/v1/gateways (a lab lists a handful). */
const GATEWAYS_MAX = 16;
/** A request the Gateway does not answer within this is taken as failed. */
const REQUEST_TIMEOUT_MS = 10_000;

export function storedToken(): string {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

export function storeToken(token: string): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(): Record<string, string> {
  const t = storedToken();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** An API answer that is not a success, already worded for a person. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    sentence: string,
  ) {
    super(sentence);
  }
}

/** The Gateway's error codes (README "HTTP and WebSocket API") as sentences. */
export function sentenceFor(status: number, code: string, detail: string): string {
  const d = detail.replace(/\s+$/, '').replace(/\.$/, '');
  switch (code) {
    case 'UNAUTHORIZED':
      return 'The Gateway needs a valid access token: paste the one your lab gave you into the Token field.';
    case 'QUOTA':
      return 'You already have as many programs running as you are allowed: stop one or wait for it to finish.';
    case 'UNKNOWN_LANGUAGE':
      return `The lab does not offer this language right now (${d}).`;
    case 'SOURCE_TOO_LARGE':
      return `The program is too large to run (${d}).`;
    case 'QUEUE_FULL':
      return 'The lab is full right now (every queue is at its limit): try again in a moment.';
    case 'NO_CAPACITY':
      return `No lab PC can take the program right now (${d}): try again in a moment.`;
    case 'ASSIGNER_TIMEOUT':
      return `The lab did not take the program in time (${d}): try again in a moment.`;
    case 'NOT_FOUND':
      return 'The Gateway no longer knows this run (it may have finished long ago).';
    case 'OFFLINE':
      return `The Gateway cannot be reached (${d}). Check that the lab's server is running.`;
    // The judge's codes (README "Grading a class"): what the grading page can hit.
    case 'UPLOAD_TOO_LARGE':
    case 'PACKAGE_TOO_LARGE':
    case 'BATCH_TOO_LARGE':
      return `The upload is too large for the Gateway (${d}).`;
    case 'BAD_PROBLEM':
    case 'BAD_PATH':
      return `The problem or class files are not usable: ${d}.`;
    case 'JUDGE_QUEUE_FULL':
      return 'The judge has as many tests waiting as it can hold: try again when the current grading is done.';
    case 'NO_SUCH_PROBLEM':
      return 'The Gateway does not have this problem (a Gateway failover loses nothing but the submissions: upload it again if it is missing).';
    case 'NO_SUCH_SUBMISSION':
    case 'NO_SUCH_BATCH':
      return 'The Gateway no longer knows this grading (it keeps results in memory: a restart or a failover loses them). Submit again.';
    default:
      break;
  }
  switch (status) {
    case 400:
      return `The Gateway refused the request: ${d}.`;
    case 401:
      return sentenceFor(401, 'UNAUTHORIZED', d);
    case 413:
      return `The program is too large to run (${d}).`;
    case 429:
      return sentenceFor(429, 'QUOTA', d);
    case 503:
      return `The lab cannot take the program right now (${d}): try again in a moment.`;
    default:
      return `The Gateway answered with an error (${status || code}${d ? `: ${d}` : ''}).`;
  }
}

/** Reads an error body ({error, code}) whatever it holds, never showing raw objects. */
async function failureOf(r: Response): Promise<ApiFailure> {
  let code = '';
  let detail = '';
  try {
    const body = (await r.json()) as { error?: unknown; code?: unknown };
    if (typeof body.error === 'string') detail = body.error;
    if (typeof body.code === 'string') code = body.code;
  } catch {
    detail = r.statusText;
  }
  return new ApiFailure(r.status, code, sentenceFor(r.status, code, detail));
}

export async function requestJson<T>(base: string, path: string, init: RequestInit = {}): Promise<T> {
  let r: Response;
  try {
    r = await fetch(new URL(path, base), {
      ...init,
      headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...authHeaders(), ...(init.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ApiFailure(0, 'OFFLINE', sentenceFor(0, 'OFFLINE', `${base}: ${(err as Error).message}`));
  }
  if (!r.ok) throw await failureOf(r);
  return (await r.json()) as T;
}

/**
 * The Gateways to try, in order: this page's own first, then the lab's list (the standby's address
 * among them). Kept in localStorage so a page loaded before a failover still knows the standby.
 */
export async function gatewayList(): Promise<string[]> {
  const own = location.origin;
  let listed: string[] = [];
  try {
    listed = (await requestJson<{ gateways: string[] }>(own, '/api/v1/gateways')).gateways;
    localStorage.setItem(GATEWAYS_KEY, JSON.stringify(listed.slice(0, GATEWAYS_MAX)));
  } catch {
    try {
      listed = JSON.parse(localStorage.getItem(GATEWAYS_KEY) ?? '[]') as string[];
    } catch {
      listed = [];
    }
  }
  return [...new Set([own, ...listed.filter((g) => typeof g === 'string')])].slice(0, GATEWAYS_MAX);
}

/** ws:// URL of a Gateway's run stream, the token in the query (browsers cannot set headers there). */
export function streamUrl(base: string): string {
  const u = new URL('/api/v1/runs/stream', base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const t = storedToken();
  if (t) u.searchParams.set('token', t);
  return u.toString();
}
