import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from './deps.js';

/** The lab's state for people and Prometheus: /api/v1/cluster, /healthz, /metrics. */
export function registerStatusRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const { auth, backend, metrics } = deps;
  app.get('/api/v1/cluster', async (req) => {
    auth.userOf(req);
    return backend.cluster();
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/metrics', async (_req, reply) => {
    metrics.queueLength.set(backend.queueLength());
    metrics.nodes.reset();
    for (const n of backend.cluster().nodes) metrics.nodes.inc({ role: n.role, state: n.state });
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
