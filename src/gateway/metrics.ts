import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The Gateway's Prometheus metrics, one registry per Gateway (tests start several). */
export function createMetrics() {
  const registry = new Registry();
  const runs = new Counter({ name: 'codearena_runs_total', help: 'Finished runs by status', labelNames: ['status'], registers: [registry] });
  const accepted = new Counter({ name: 'codearena_runs_accepted_total', help: 'Runs accepted by the Gateway', registers: [registry] });
  const refused = new Counter({ name: 'codearena_runs_refused_total', help: 'Runs refused, by reason', labelNames: ['reason'], registers: [registry] });
  const queueLength = new Gauge({ name: 'codearena_queue_length', help: 'Runs waiting for a Worker', registers: [registry] });
  const placement = new Histogram({
    name: 'codearena_placement_seconds',
    help: 'From acceptance to a Worker starting the run',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const endToEnd = new Histogram({
    name: 'codearena_run_seconds',
    help: 'From acceptance to the terminal status',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const nodes = new Gauge({ name: 'codearena_nodes', help: 'Nodes by role and state', labelNames: ['role', 'state'], registers: [registry] });
  return { registry, runs, accepted, refused, queueLength, placement, endToEnd, nodes };
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;
