import { startNodeAgent, type AgentHandle, type AgentOptions } from '../agent/agent.js';
import type { CommandRunner } from '../gateway/vip.js';
import { gatewayStanding } from './gateway.js';
import { psiPressure } from './pressure.js';
import { roleServices } from './services.js';

export interface LabNodeOptions extends Omit<AgentOptions, 'services' | 'standing' | 'pressure'> {
  /** Runs `ip`/`arping` for the Gateway's virtual IP (tests inject a fake). */
  vipRunner?: CommandRunner;
}

/**
 * The composition root: a lab node is the agent (membership, links, role changes) with the roles'
 * services, the Gateway standby protocol and the PC's pressure plugged in. Only this folder knows
 * every role; the agent knows none of them.
 */
export function startLabNode(opts: LabNodeOptions): Promise<AgentHandle> {
  const { vipRunner, ...agent } = opts;
  return startNodeAgent({
    ...agent,
    services: roleServices,
    standing: gatewayStanding(vipRunner ? { vipRunner } : {}),
    pressure: psiPressure,
  });
}
