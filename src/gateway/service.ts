import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AgentContext } from '../agent/context.js';
import { deriveResumeKey } from '../wire/psk.js';
import { backendPorts, ClusterBackend } from './cluster-backend.js';
import type { JobeFiles } from './compat/common.js';
import { buildGateway, judgeOf } from './server.js';
import { gatewayUrls } from './web.js';
import type { JudgeService } from '../judge/service.js';

/** The client API (HTTP + WebSocket) over the lab's Assigners and Workers, built but not listening. */
export interface GatewayApi {
  readonly backend: ClusterBackend;
  /** The judge's problems and submissions (its problems are copied to the standby: judge/sync.ts). */
  readonly judge: JudgeService;
  readonly app: FastifyInstance;
  listen(host: string, port: number): Promise<void>;
  /** Stops serving: open WebSockets are closed (clients resume elsewhere). `keepRuns`: the runs go
   * on under the next Gateway (a step-down), instead of being killed (the agent stopping). */
  close(keepRuns: boolean): Promise<void>;
  /** Closes every open WebSocket (1012: resume elsewhere) while this node still holds the address. */
  dropClients(): void;
}

/**
 * Builds the Gateway's API. A standby builds it ahead (warm), so a takeover only has to listen;
 * the configured Gateway builds it when its epoch is confirmed.
 */
export async function prepareGatewayApi(ctx: AgentContext, jobe?: JobeFiles): Promise<GatewayApi> {
  const backend = new ClusterBackend(backendPorts(ctx));
  const app = await buildGateway({
    backend,
    auth: { enabled: ctx.config.auth.enabled, tokens: ctx.config.auth.tokens.map((t) => ({ token: t.token, user: t.user, concurrentRunsMax: t.concurrentRunsMax })) },
    limitsMax: ctx.config.sandbox.limitsMax,
    sourceBytesMax: ctx.config.sandbox.sourceBytesMax,
    // Auth off (a local cluster): one shared user, bounded like an Assigner's queue.
    anonymousRunsMax: ctx.config.queue.runsMax,
    resumeKey: deriveResumeKey(ctx.config.cluster.secret),
    // Per node: in `up` every node shares one state dir, and a standby must not read the Gateway's disk.
    stateDir: path.join(ctx.stateDir, `${ctx.self.name}-gateway`),
    gateways: gatewayUrls(ctx.config),
    gatewayRole: () => ({ epoch: backend.epoch, standby: backend.standby }),
    ...(jobe ? { jobe } : {}),
  });
  await app.ready();
  let closed = false;
  return {
    backend,
    judge: judgeOf(app),
    app,
    async listen(host, port) {
      await app.listen({ host, port });
    },
    async close(keepRuns) {
      if (closed) return;
      closed = true;
      backend.keepRunsOnClose = keepRuns;
      await app.close();
    },
    dropClients() {
      for (const client of app.websocketServer.clients) client.close(1012, 'this gateway stepped down: resume with your token');
    },
  };
}
