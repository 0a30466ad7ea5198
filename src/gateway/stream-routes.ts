import { everyBeat } from '../common/beat.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { OperatingError } from '../protocol/errors.js';
import { parseClientMessage, type ClientMessage } from './api-types.js';
import { ClientLiveness, OutputCoalescer, sendTo, WS_PING_MS } from './client-socket.js';
import type { GatewayDeps } from './deps.js';
import { zodMessage } from './http-errors.js';
import type { AuthToken } from './options.js';
import type { RunRecord } from './run-store.js';

/**
 * The interactive run API: one WebSocket per run at /api/v1/runs/stream (start or resume, then
 * stdin/eof/kill in, events and output out), and the pinger that drops clients gone silent.
 */
export function registerRunStream(app: FastifyInstance, deps: GatewayDeps, pingMs = WS_PING_MS): void {
  const liveness = new ClientLiveness<WebSocket>();
  // On the wall-clock beat (src/common/beat.ts): it runs on every built API (the serving Gateway
  // and its warm standby), clients or not, so it shares their other beats' wake-up.
  const pinger = everyBeat(pingMs, () => {
    for (const { client, action } of liveness.round(app.websocketServer.clients)) {
      if (action === 'drop') client.terminate();
      else client.ping();
    }
  }, { unref: true });
  app.addHook('onClose', async () => pinger.cancel());

  app.register(async (scope) => {
    scope.get('/api/v1/runs/stream', { websocket: true }, (socket: WebSocket, req: FastifyRequest) => {
      liveness.heard(socket);
      socket.on('pong', () => liveness.heard(socket));
      let who: AuthToken;
      try {
        who = deps.auth.userOf(req);
      } catch (err) {
        sendTo(socket, { type: 'error', code: 'UNAUTHORIZED', message: (err as Error).message });
        socket.close(4401, 'unauthorized');
        return;
      }
      new StreamSession(socket, who, deps).listen();
    });
  });
}

/** One client's WebSocket: at most one run, started or resumed on it. */
class StreamSession {
  private rec: RunRecord | null = null;
  private unsubscribe: () => void = () => {};
  private readonly out: OutputCoalescer;

  constructor(
    private readonly socket: WebSocket,
    private readonly who: AuthToken,
    private readonly deps: GatewayDeps,
  ) {
    this.out = new OutputCoalescer((m) => sendTo(socket, m));
  }

  listen(): void {
    this.socket.on('close', () => this.unsubscribe());
    this.socket.on('message', async (raw: Buffer) => {
      let msg;
      try {
        msg = parseClientMessage(JSON.parse(raw.toString('utf8')));
      } catch {
        return sendTo(this.socket, { type: 'error', code: 'BAD_JSON', message: 'messages are JSON objects' });
      }
      if (!msg.success) return sendTo(this.socket, { type: 'error', code: 'BAD_MESSAGE', message: zodMessage(msg.error) });
      try {
        await this.handle(msg.data);
      } catch (err) {
        const e = err instanceof OperatingError ? err : new OperatingError('INTERNAL', (err as Error).message);
        sendTo(this.socket, { type: 'error', code: e.code, message: e.message });
      }
    });
  }

  private attach(r: RunRecord, lastSeq: number): void {
    this.rec = r;
    this.unsubscribe = r.subscribe((e) => this.out.push(e), lastSeq);
  }

  private async handle(m: ClientMessage): Promise<void> {
    switch (m.type) {
      case 'start': {
        if (this.rec) throw new OperatingError('ALREADY_STARTED', 'this connection already has a run; open another');
        const { type: _t, binary_output: binary, ...spec } = m;
        const r = await this.deps.accept(spec, this.who, true);
        this.out.binary = binary === true;
        sendTo(this.socket, { type: 'accepted', id: r.id, resume_token: r.token });
        this.attach(r, -1);
        return;
      }
      case 'resume': {
        const r = await this.deps.resumer.resume(m.id, m.resume_token);
        if (!r) throw new OperatingError('NOT_FOUND', 'no run with that id and resume token');
        this.unsubscribe();
        this.out.binary = m.binary_output === true;
        this.attach(r, m.last_seq);
        return;
      }
      case 'stdin':
      case 'eof':
      case 'kill': {
        const r = this.rec;
        if (!r) throw new OperatingError('NO_RUN', `"${m.type}" before "start" or "resume"`);
        if (r.finished) return;
        if (m.type === 'stdin') this.deps.backend.write(r.id, m.data);
        else if (m.type === 'eof') this.deps.backend.endInput(r.id);
        else this.deps.backend.kill(r.id);
        return;
      }
      default: {
        const never: never = m;
        throw new Error(`unhandled ${JSON.stringify(never)}`);
      }
    }
  }
}
