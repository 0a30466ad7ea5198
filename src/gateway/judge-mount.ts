import type { FastifyInstance } from 'fastify';
import { registerJudgeRoutes } from '../judge/routes.js';
import { JudgeService } from '../judge/service.js';
import type { GatewayDeps } from './deps.js';

const judges = new WeakMap<FastifyInstance, JudgeService>();

/** The judge of a Gateway built by buildGateway. */
export function judgeOf(app: FastifyInstance): JudgeService {
  const j = judges.get(app);
  if (!j) throw new Error('not a Gateway built by buildGateway');
  return j;
}

/**
 * Judge mode (src/judge): problems, submissions and batches, each test a batch run on this
 * Gateway's backend. Its owner closes it (before the backend its tests run on).
 */
export async function registerJudge(app: FastifyInstance, deps: GatewayDeps, stateDir: string | null): Promise<JudgeService> {
  const { backend, limitsMax, sourceBytesMax, metrics } = deps;
  const judge = new JudgeService({ backend, stateDir, limitsMax, registry: metrics.registry });
  judges.set(app, judge);
  await registerJudgeRoutes(app, { judge, backend, userOf: (req) => deps.auth.userOf(req), sourceBytesMax });
  return judge;
}
