import type { StandingServiceFactory } from '../agent/context.js';
import { startGatewayFailover, type FailoverServiceOptions } from '../gateway/failover-service.js';

/**
 * The Gateway as a role the composition root builds like the others: the standby protocol runs on
 * every agent (the configured Gateway serves through it, a Monitor may be standby and take over,
 * for other nodes it stays idle), and the Gateway's API is the handler of what a Gateway receives
 * while this node serves it or holds it warm.
 */
export function gatewayStanding(opts: FailoverServiceOptions = {}): StandingServiceFactory {
  return (ctx, stateFile) => {
    const failover = startGatewayFailover(ctx, stateFile, opts);
    return {
      receive(from, routed) {
        switch (routed.route) {
          case 'gateway_standby':
            return failover.receive(from, routed.msg);
          case 'gateway_data':
            return failover.receiveData(from, routed.msg);
          case 'judge_sync':
            return failover.receiveJudge(from, routed.msg);
          default: {
            const never: never = routed;
            return never;
          }
        }
      },
      gateway: () => failover.api()?.backend ?? null,
      stop: () => failover.stop(),
    };
  };
}
