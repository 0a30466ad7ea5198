import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { WS_MESSAGE_BYTES_MAX } from './client-socket.js';
import { registerCompat } from './compat-routes.js';
import { gatewayDeps } from './deps.js';
import { installErrorHandler } from './http-errors.js';
import { registerJudge } from './judge-mount.js';
import type { GatewayOptions } from './options.js';
import { registerRunRoutes } from './run-routes.js';
import { registerStatusRoutes } from './status-routes.js';
import { registerRunStream } from './stream-routes.js';
import { registerWeb } from './web.js';

// What other modules and tests took from here before the Gateway was split into route modules.
export type { AuthToken, GatewayOptions } from './options.js';
export { serverMessageJson, WS_BUFFERED_BYTES_MAX, WS_MESSAGE_BYTES_MAX, WS_OUTPUT_MESSAGE_BYTES_MAX, WS_PING_MS } from './client-socket.js';
export { judgeOf } from './judge-mount.js';

/** Largest HTTP body; the source cap inside it is checked separately for a clear 413. */
const BODY_BYTES_MAX = 4 * 1024 * 1024;

/** The Gateway's HTTP and WebSocket server: shared parts built once, then each API area's routes. */
export async function buildGateway(opts: GatewayOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: BODY_BYTES_MAX });
  const deps = gatewayDeps(opts);
  await app.register(swagger, {
    openapi: { info: { title: 'CodeArena local cloud API', version: '1' }, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(websocket, { options: { maxPayload: WS_MESSAGE_BYTES_MAX } });
  installErrorHandler(app);

  registerRunRoutes(app, deps);
  registerStatusRoutes(app, deps);
  const authorize = (req: FastifyRequest) => deps.auth.userOf(req);
  registerWeb(app, { backend: deps.backend, metrics: deps.metrics, gateways: opts.gateways ?? [], authorize, ...(opts.gatewayRole ? { gatewayRole: opts.gatewayRole } : {}) });
  registerRunStream(app, deps, opts.wsPingMs);
  registerCompat(app, deps, opts.jobe);
  const judge = await registerJudge(app, deps, opts.stateDir ?? null);

  app.addHook('onClose', async () => {
    judge.close();
    await deps.backend.close();
  });
  return app;
}
