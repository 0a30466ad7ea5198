import type { WebSocket } from 'ws';
import type { ServerMessage } from './api-types.js';
import { encodeOutputFrame } from './output-frame.js';
import type { StreamName } from '../protocol/output.js';
import type { RunEvent } from './run-store.js';

/** Bytes a slow WebSocket client may have unsent before it is cut off (it can resume). */
export const WS_BUFFERED_BYTES_MAX = 8 * 1024 * 1024;
/** Largest WebSocket message a client may send. */
export const WS_MESSAGE_BYTES_MAX = 2 * 1024 * 1024;
/** How often the Gateway pings each WebSocket client (see ClientLiveness). */
export const WS_PING_MS = 5_000;
/** Largest output message to a client: consecutive chunks are merged up to this. */
export const WS_OUTPUT_MESSAGE_BYTES_MAX = 64 * 1024;
/** The close code of a client cut off for not reading (it resumes with its token). */
export const WS_CLOSE_TOO_SLOW = 4408;

/** What to do with one message for a client, given its socket's state. */
export type ClientSendAction = 'send' | 'skip' | 'cut';

/**
 * Client back-pressure: a closed socket gets nothing; a client with more than WS_BUFFERED_BYTES_MAX
 * unsent is cut off rather than have the Gateway hold its output twice (the run keeps it; the
 * client resumes from its last seq).
 */
export function clientSendAction(open: boolean, bufferedBytes: number, bufferedBytesMax = WS_BUFFERED_BYTES_MAX): ClientSendAction {
  if (!open) return 'skip';
  return bufferedBytes > bufferedBytesMax ? 'cut' : 'send';
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

/** Sends one message to a client, under the back-pressure rule above. */
export function sendTo(socket: WebSocket, msg: ServerMessage | Buffer): void {
  const action = clientSendAction(socket.readyState === socket.OPEN, socket.bufferedAmount);
  switch (action) {
    case 'skip':
      return;
    case 'cut':
      socket.close(WS_CLOSE_TOO_SLOW, 'client too slow; resume with your token');
      return;
    case 'send':
      if (Buffer.isBuffer(msg)) socket.send(msg, { binary: true });
      else socket.send(serverMessageJson(msg));
      return;
    default: {
      const never: never = action;
      throw new Error(`unhandled ${String(never)}`);
    }
  }
}

/**
 * Merges consecutive output chunks of one stream that are ready at the same moment into one client
 * message (flushed on the next turn of the event loop, and before any other message). A fast
 * program then costs one JSON message per 64 KiB instead of per 1,500 bytes; a prompt still goes out
 * at once, alone.
 */
export class OutputCoalescer {
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
 * Which clients are gone: each is pinged every WS_PING_MS, and one that has not answered the
 * previous ping (its PC switched off, a network cut) is dropped at the next round. Clients may
 * likewise take a connection that stays silent for 3 pings as dead and resume.
 */
export class ClientLiveness<C extends object> {
  private readonly answered = new WeakMap<C, boolean>();

  /** A new client, or one that answered a ping. */
  heard(client: C): void {
    this.answered.set(client, true);
  }

  /** One ping round: what to do with each client. */
  round(clients: Iterable<C>): Array<{ client: C; action: 'ping' | 'drop' }> {
    const out: Array<{ client: C; action: 'ping' | 'drop' }> = [];
    for (const client of clients) {
      if (this.answered.get(client) === false) {
        out.push({ client, action: 'drop' });
        continue;
      }
      this.answered.set(client, false);
      out.push({ client, action: 'ping' });
    }
    return out;
  }
}
