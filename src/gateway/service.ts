import type { AgentContext, RoleService } from '../agent/agent.js';
import { ClusterBackend } from './cluster-backend.js';
import { buildGateway } from './server.js';

/** The Gateway role: the client API (HTTP + WebSocket) over the lab's Assigners and Workers. */
export async function startGatewayService(ctx: AgentContext): Promise<RoleService> {
  const backend = new ClusterBackend(ctx);
  const app = await buildGateway({
    backend,
    auth: { enabled: ctx.config.auth.enabled, tokens: ctx.config.auth.tokens.map((t) => ({ token: t.token, user: t.user, concurrentRunsMax: t.concurrentRunsMax })) },
    limitsMax: ctx.config.sandbox.limitsMax,
    sourceBytesMax: ctx.config.sandbox.sourceBytesMax,
  });
  await app.listen({ host: ctx.self.address, port: ctx.config.gateway.port });
  ctx.log.info({ event: 'gateway', port: ctx.config.gateway.port }, `CodeArena gateway listening on http://${ctx.self.address}:${ctx.config.gateway.port}`);
  return {
    handle: (from, msg) => backend.handle(from, msg),
    async stop() {
      await app.close();
    },
  };
}
