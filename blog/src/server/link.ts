// Server-to-server links: HTTP POST of one JSON message on loopback (or a LAN), authenticated with
// an HMAC-SHA256 of the world's shared secret over the sender's timestamp, its name, the path and
// the body. A message older or newer than the replay window is refused, so a recorded message
// cannot be replayed later; a changed byte anywhere makes the signature fail.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HDR_TS = 'x-blog-ts';
export const HDR_FROM = 'x-blog-from';
export const HDR_SIG = 'x-blog-sig';

export function signLink(secret: string, tsMs: number, from: string, urlPath: string, body: string): string {
  return createHmac('sha256', secret).update(`${tsMs}\n${from}\n${urlPath}\n`).update(body).digest('hex');
}

export type LinkCheck =
  | { ok: true; from: string }
  | { ok: false; code: 'LINK_UNSIGNED' | 'LINK_BAD_SIGNATURE' | 'LINK_STALE' | 'LINK_UNKNOWN_PEER'; message: string };

export interface LinkCheckInput {
  secret: string;
  nowMs: number;
  ageMaxMs: number;
  headers: Record<string, string | string[] | undefined>;
  urlPath: string;
  body: string;
  knownPeer: (name: string) => boolean;
}

function header(h: LinkCheckInput['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Checks a received message's signature and age; pure apart from the HMAC. */
export function checkLink(i: LinkCheckInput): LinkCheck {
  const ts = header(i.headers, HDR_TS);
  const from = header(i.headers, HDR_FROM);
  const sig = header(i.headers, HDR_SIG);
  if (ts === undefined || from === undefined || sig === undefined) {
    return { ok: false, code: 'LINK_UNSIGNED', message: `server-to-server message without ${HDR_TS}, ${HDR_FROM} and ${HDR_SIG} headers` };
  }
  const tsMs = Number(ts);
  if (!Number.isSafeInteger(tsMs)) return { ok: false, code: 'LINK_UNSIGNED', message: `${HDR_TS} is not a millisecond timestamp` };
  const want = Buffer.from(signLink(i.secret, tsMs, from, i.urlPath, i.body), 'hex');
  const got = Buffer.from(/^[0-9a-f]{64}$/.test(sig) ? sig : '', 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    return { ok: false, code: 'LINK_BAD_SIGNATURE', message: 'server-to-server message signature does not match (wrong secret or altered message)' };
  }
  if (Math.abs(i.nowMs - tsMs) > i.ageMaxMs) {
    return {
      ok: false,
      code: 'LINK_STALE',
      message: `server-to-server message is stale: stamped ${tsMs}, now ${i.nowMs}, window ±${i.ageMaxMs} ms`,
    };
  }
  if (!i.knownPeer(from)) return { ok: false, code: 'LINK_UNKNOWN_PEER', message: `"${from}" is not a server of this world` };
  return { ok: true, from };
}

export class LinkError extends Error {
  constructor(
    readonly code: 'LINK_UNREACHABLE' | 'LINK_TIMEOUT' | 'LINK_REJECTED' | 'LINK_BAD_REPLY',
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface LinkPostOptions {
  baseUrl: string;
  urlPath: string;
  from: string;
  /** The peer's name: its reply must be signed by it. */
  to: string;
  secret: string;
  timeoutMs: number;
  replyBytesMax: number;
  ageMaxMs: number;
}

/** A reply is signed over the request's path plus this suffix, so it can never pass as a request. */
export const REPLY_PATH_SUFFIX = '#reply';

/** Sends one signed JSON body; returns the parsed JSON reply, whose signature it checks, and its size. */
export async function postLink(o: LinkPostOptions, body: string): Promise<{ reply: unknown; bytes: number }> {
  const tsMs = Date.now();
  let res: Response;
  try {
    res = await fetch(o.baseUrl + o.urlPath, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [HDR_TS]: String(tsMs),
        [HDR_FROM]: o.from,
        [HDR_SIG]: signLink(o.secret, tsMs, o.from, o.urlPath, body),
      },
      body,
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError') throw new LinkError('LINK_TIMEOUT', `${o.baseUrl}${o.urlPath}: no answer within ${o.timeoutMs} ms`);
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? e.message;
    throw new LinkError('LINK_UNREACHABLE', `${o.baseUrl}${o.urlPath}: unreachable (${cause})`);
  }
  let text: string;
  try {
    text = await readBounded(res, o.replyBytesMax);
  } catch (err) {
    const e = err as Error;
    if (e instanceof LinkError) throw e;
    if (e.name === 'TimeoutError') throw new LinkError('LINK_TIMEOUT', `${o.baseUrl}${o.urlPath}: reply not finished within ${o.timeoutMs} ms`);
    throw new LinkError('LINK_UNREACHABLE', `${o.baseUrl}${o.urlPath}: connection lost while reading the reply (${e.message})`);
  }
  if (!res.ok) throw new LinkError('LINK_REJECTED', `${o.baseUrl}${o.urlPath}: ${res.status} ${text.slice(0, 300)}`, res.status);
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  const check = checkLink({
    secret: o.secret,
    nowMs: Date.now(),
    ageMaxMs: o.ageMaxMs,
    headers,
    urlPath: o.urlPath + REPLY_PATH_SUFFIX,
    body: text,
    knownPeer: (n) => n === o.to,
  });
  if (!check.ok) throw new LinkError('LINK_BAD_REPLY', `${o.baseUrl}${o.urlPath}: reply refused: ${check.message}`);
  try {
    return { reply: JSON.parse(text) as unknown, bytes: Buffer.byteLength(text) };
  } catch {
    throw new LinkError('LINK_BAD_REPLY', `${o.baseUrl}${o.urlPath}: reply is not JSON`);
  }
}

async function readBounded(res: Response, bytesMax: number): Promise<string> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > bytesMax) {
    await res.body?.cancel();
    throw new LinkError('LINK_BAD_REPLY', `reply of ${len} bytes is over the ${bytesMax}-byte bound`);
  }
  if (res.body === null) return '';
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > bytesMax) throw new LinkError('LINK_BAD_REPLY', `reply is over the ${bytesMax}-byte bound`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
