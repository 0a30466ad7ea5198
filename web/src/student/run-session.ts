// One interactive run over the Gateway's WebSocket API, carried across Gateway failovers: when the
// connection drops (or closes with 1012, a Gateway stepping down) the run is resumed with its id,
// resume token and the last sequence number shown, on the next Gateway of the list. Output chunks
// are numbered, so nothing is shown twice and a gap would be visible (never silently filled).

import { sentenceFor, streamUrl } from '../shared/api.js';

/** How long a run may go without any Gateway answering before the page gives up (as `codearena run`). */
export const RESUME_GIVE_UP_MS = 30_000;
/** Pause between two connection attempts (the standby needs about half a second to take over). */
const RETRY_PAUSE_MS = 250;
/** Stdin is sent in pieces the API accepts (STDIN_MESSAGE_BYTES_MAX is 64 KiB; characters ≤ 4 bytes). */
const STDIN_PIECE_CHARS = 16 * 1024;

export interface RunResultView {
  status: string;
  exit_code: number | null;
  signal: number | null;
  cpu_time_ms: number | null;
  wall_time_ms: number | null;
  memory_kb: number | null;
  message?: string;
}

export interface RunEvents {
  output(stream: 'stdout' | 'stderr' | 'compile', data: Uint8Array): void;
  /** Progress worth a word on the status line: queued, running, reconnecting. */
  progress(text: string): void;
  exit(result: RunResultView): void;
  /** The run could not start or was lost: a sentence. */
  failed(sentence: string): void;
}

type ServerMessage =
  | { type: 'accepted'; id: string; resume_token: string }
  | { type: 'queued'; position: number }
  | { type: 'started'; worker: string | null }
  | { type: 'restarted'; attempt: number }
  | { type: 'output'; stream: 'stdout' | 'stderr' | 'compile'; seq: number; first_seq: number; data: string }
  | { type: 'exit'; result: RunResultView }
  | { type: 'error'; code: string; message: string };

export type RunPhase = 'connecting' | 'running' | 'reconnecting' | 'done';

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export class RunSession {
  phase: RunPhase = 'connecting';
  id: string | null = null;
  private token = '';
  /** Last output sequence number shown; -1 before any. */
  lastSeq = -1;
  private ws: WebSocket | null = null;
  private gatewayIndex = 0;
  private lostSinceMs = 0;
  /** Input typed while reconnecting: sent once the run is resumed. */
  private pendingInput: Array<Record<string, unknown>> = [];
  /** Stop was pressed before the Gateway accepted the run. */
  private killWhenAccepted = false;
  /** Gateway the run is on now (for the status line and the tests). */
  gateway: string;

  constructor(
    private readonly gateways: readonly string[],
    private readonly start: Record<string, unknown>,
    private readonly events: RunEvents,
  ) {
    this.gateway = gateways[0] as string;
    this.connect();
  }

  private connect(): void {
    const ws = new WebSocket(streamUrl(this.gateway));
    this.ws = ws;
    ws.onopen = () => {
      if (this.id === null) ws.send(JSON.stringify({ type: 'start', ...this.start }));
      else {
        ws.send(JSON.stringify({ type: 'resume', id: this.id, resume_token: this.token, last_seq: this.lastSeq }));
        this.phase = 'running';
        this.lostSinceMs = 0;
        this.events.progress(`resumed on ${new URL(this.gateway).host}`);
        for (const m of this.pendingInput.splice(0)) ws.send(JSON.stringify(m));
      }
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      let m: ServerMessage;
      try {
        m = JSON.parse(e.data) as ServerMessage;
      } catch {
        return;
      }
      this.receive(m);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws || this.phase === 'done') return;
      if (e.code === 4401) return this.fail(sentenceFor(401, 'UNAUTHORIZED', ''));
      // Before "accepted" the run does not exist yet: nothing to resume, but the next Gateway may take it.
      this.reconnect();
    };
  }

  private receive(m: ServerMessage): void {
    switch (m.type) {
      case 'accepted':
        this.id = m.id;
        this.token = m.resume_token;
        this.phase = 'running';
        this.events.progress('accepted');
        if (this.killWhenAccepted) this.send({ type: 'kill' });
        for (const p of this.pendingInput.splice(0)) this.send(p);
        return;
      case 'queued':
        this.events.progress(`queued (position ${m.position})`);
        return;
      case 'started':
        this.events.progress(m.worker ? `running on ${m.worker}` : 'running');
        return;
      case 'restarted':
        this.events.progress(`restarted elsewhere (attempt ${m.attempt})`);
        return;
      case 'output':
        // A resume asks for what follows lastSeq: anything at or below it was shown already.
        if (m.seq <= this.lastSeq) return;
        this.lastSeq = m.seq;
        this.events.output(m.stream, decodeBase64(m.data));
        return;
      case 'exit':
        this.phase = 'done';
        this.ws?.close(1000);
        this.events.exit(m.result);
        return;
      case 'error':
        if (this.id === null || m.code === 'NOT_FOUND' || m.code === 'UNAUTHORIZED') this.fail(sentenceFor(0, m.code, m.message));
        else this.events.progress(sentenceFor(0, m.code, m.message));
        return;
      default: {
        const never: never = m;
        return never;
      }
    }
  }

  private reconnect(): void {
    const now = Date.now();
    if (this.lostSinceMs === 0) this.lostSinceMs = now;
    if (now - this.lostSinceMs > RESUME_GIVE_UP_MS) {
      return this.fail(`No Gateway answered for ${RESUME_GIVE_UP_MS / 1000} s (tried ${this.gateways.join(', ')}); the run may still finish, but this page lost it.`);
    }
    this.phase = 'reconnecting';
    this.gatewayIndex = (this.gatewayIndex + 1) % this.gateways.length;
    this.gateway = this.gateways[this.gatewayIndex] as string;
    this.events.progress(`connection lost; trying ${new URL(this.gateway).host}`);
    setTimeout(() => {
      if (this.phase !== 'done') this.connect();
    }, RETRY_PAUSE_MS);
  }

  private fail(sentence: string): void {
    this.phase = 'done';
    this.ws?.close(1000);
    this.events.failed(sentence);
  }

  private send(m: Record<string, unknown>): void {
    if (this.phase === 'done') return;
    if (this.ws?.readyState === WebSocket.OPEN && this.id !== null && this.phase === 'running') this.ws.send(JSON.stringify(m));
    else this.pendingInput.push(m);
  }

  input(text: string): void {
    for (let i = 0; i < text.length; i += STDIN_PIECE_CHARS) this.send({ type: 'stdin', data: text.slice(i, i + STDIN_PIECE_CHARS) });
  }

  eof(): void {
    this.send({ type: 'eof' });
  }

  kill(): void {
    if (this.phase === 'done') return;
    if (this.id === null) {
      // Not accepted yet: the run may be accepted any moment; it is killed as soon as it is.
      this.killWhenAccepted = true;
      return;
    }
    this.send({ type: 'kill' });
  }
}
