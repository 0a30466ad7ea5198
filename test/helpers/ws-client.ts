import WebSocket from 'ws';
import type { ServerMessage } from '../../src/gateway/api-types.js';
import { decodeOutputFrame } from '../../src/gateway/output-frame.js';

/** A test WebSocket client that queues server messages and waits for the ones asked for. */
export class WsClient {
  readonly messages: ServerMessage[] = [];
  /** Output frames that came binary (binary_output). */
  binaryFrames = 0;
  private waiters: Array<() => void> = [];
  closed = false;
  closeCode: number | null = null;
  closeReason = '';

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (isBinary) {
        // Output asked for as binary frames: kept like the JSON form, and counted.
        const f = decodeOutputFrame(d);
        if (!f) throw new Error(`malformed output frame: ${d.subarray(0, 16).toString('hex')}`);
        this.binaryFrames++;
        this.messages.push({ type: 'output', stream: f.stream, seq: f.seq, first_seq: f.firstSeq, data: f.data.toString('base64') });
      } else {
        this.messages.push(JSON.parse(d.toString()) as ServerMessage);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const c = new WsClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** Waits until pred holds for some received message; returns it. */
  async waitFor<T extends ServerMessage>(pred: (m: ServerMessage) => m is T, timeoutMs?: number): Promise<T>;
  async waitFor(pred: (m: ServerMessage) => boolean, timeoutMs?: number): Promise<ServerMessage>;
  async waitFor(pred: (m: ServerMessage) => boolean, timeoutMs = 20_000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m;
      if (this.closed) throw new Error(`socket closed; got ${JSON.stringify(this.messages).slice(0, 500)}`);
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(this.messages).slice(0, 500)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  output(stream?: string): string {
    return Buffer.concat(
      this.messages.flatMap((m) => (m.type === 'output' && (!stream || m.stream === stream) ? [Buffer.from(m.data, 'base64')] : [])),
    ).toString();
  }

  close(): void {
    this.ws.close();
  }
}
