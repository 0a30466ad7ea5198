import type { FastifyInstance } from 'fastify';
import type { GatewayCore, JobeFiles } from './compat/common.js';
import { JobeFileStore } from './compat/jobe-files.js';
import { registerJobe } from './compat/jobe.js';
import { registerJudge0 } from './compat/judge0.js';
import { registerPiston } from './compat/piston.js';
import type { GatewayDeps } from './deps.js';

/** The peers' dialects (Jobe, Piston, Judge0): thin translations onto the Gateway's own accept. */
export function registerCompat(app: FastifyInstance, deps: GatewayDeps, jobe: JobeFiles = { files: new JobeFileStore() }): void {
  const { accept, auth, backend, limitsMax, sourceBytesMax } = deps;
  const core: GatewayCore = { accept, userByKey: (key) => auth.userByKey(key), backend, limitsMax, sourceBytesMax, jobe };
  registerJobe(app, core);
  registerPiston(app, core);
  registerJudge0(app, core);
}
