import type { RoleServiceFactory } from '../agent/context.js';
import { startAssigner } from '../assigner/service.js';
import { startWorkerHost } from '../worker/host-service.js';

/**
 * The services each configured role adds beyond cluster membership. Monitors are wholly inside
 * the cluster state machine (their Gateway standby duty runs beside it in every agent); Empty
 * nodes only heartbeat.
 */
export const roleServices: RoleServiceFactory = async (role, ctx) => {
  switch (role) {
    case 'monitor':
    case 'empty':
    // The Gateway's API is served through the standby protocol (gateway/failover-service.ts):
    // only once the Monitors confirmed that no newer Gateway epoch exists.
    case 'gateway':
      return null;
    case 'assigner':
      return startAssigner(ctx);
    case 'worker':
      return startWorkerHost(ctx);
    default:
      throw new Error(`unknown role ${role}`);
  }
};
