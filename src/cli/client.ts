import WebSocket from 'ws';
import { CodeArenaError } from '../common/errors.js';

/** Default Gateway of `codearena up`; CODEARENA_GATEWAY overrides (a comma-separated list). */
export const DEFAULT_GATEWAY = 'http://127.0.0.1:8080';

export function gatewayList(flag: string | undefined): string[] {
  const raw = flag ?? process.env.CODEARENA_GATEWAY ?? DEFAULT_GATEWAY;
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const g of list) {
    try {
      const u = new URL(g);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new CodeArenaError('BAD_INPUT', `bad gateway URL "${g}"`, 'use e.g. --gateway http://127.0.0.1:8080');
    }
  }
  return list;
}

export function authHeaders(token: string | undefined): Record<string, string> {
  const t = token ?? process.env.CODEARENA_TOKEN;
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** GET a JSON document from the first Gateway that answers. */
export async function getJson(gateways: string[], path: string, headers: Record<string, string>): Promise<unknown> {
  let last = '';
  for (const g of gateways) {
    try {
      const r = await fetch(new URL(path, g), { headers, signal: AbortSignal.timeout(5000) });
      const body = (await r.json()) as { error?: string };
      if (!r.ok) throw new CodeArenaError('BAD_INPUT', `gateway ${g} answered ${r.status}: ${body.error ?? ''}`, r.status === 401 ? 'pass --token or set CODEARENA_TOKEN' : 'see the gateway log');
      return body;
    } catch (err) {
      if (err instanceof CodeArenaError) throw err;
      last = `${g}: ${(err as Error).message}`;
    }
  }
  throw new CodeArenaError('BAD_INPUT', `no gateway answered (${last})`, 'start one with `codearena up`, or pass --gateway URL');
}

/**
 * A run-stream connection whose messages are queued from the first byte: the Gateway may speak
 * (e.g. refuse a token) in the same packet that completes the handshake.
 */
/** A stream connection that hears nothing (not even the Gateway's 5 s pings) this long is dead. */
const SILENT_DEAD_MS = 15_000;

export class StreamConnection {
  /** JSON text messages as strings, binary output frames as Buffers. */
  private readonly queue: Array<string | Buffer> = [];
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(readonly ws: WebSocket) {
    let heardMs = Date.now();
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      heardMs = Date.now();
      this.queue.push(isBinary ? d : d.toString('utf8'));
      this.poke();
    });
    // The Gateway pings every 5 s: a connection silent for three pings is dead (the Gateway's PC
    // switched off, its address moved) — close it, so the caller resumes.
    ws.on('ping', () => (heardMs = Date.now()));
    const watchdog = setInterval(() => {
      if (Date.now() - heardMs > SILENT_DEAD_MS) ws.terminate();
    }, 1_000);
    watchdog.unref();
    ws.on('close', () => {
      clearInterval(watchdog);
      this.closed = true;
      this.poke();
    });
    ws.on('error', () => {});
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The next message, or null once the connection has closed and the queue is empty. */
  async next(): Promise<string | Buffer | null> {
    while (this.queue.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
    return this.queue.shift() as string | Buffer;
  }

  send(msg: unknown): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  close(): void {
    this.ws.close();
  }
}

/** Opens the run stream on the first Gateway that accepts a connection, in the given order. */
export async function openStream(gateways: string[], headers: Record<string, string>): Promise<StreamConnection> {
  let last = '';
  for (const g of gateways) {
    const url = new URL('/api/v1/runs/stream', g);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    try {
      return await new Promise<StreamConnection>((resolve, reject) => {
        const ws = new WebSocket(url, { headers, handshakeTimeout: 3000 });
        const conn = new StreamConnection(ws);
        ws.once('open', () => resolve(conn));
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      });
    } catch (err) {
      last = `${g}: ${(err as Error).message}`;
    }
  }
  throw new CodeArenaError('BAD_INPUT', `no gateway answered (${last})`, 'start one with `codearena up`, or pass --gateway URL');
}
