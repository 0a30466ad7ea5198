import { parseLabConfig } from './load.js';
import type { LabConfig, LabConfigInput, NodeRole } from './schema.js';

// The config `codearena up` runs a whole cluster with, on one machine: every node on 127.0.0.1,
// one per port, each role at its minimum plus one spare (Empty) to promote when a node dies.

const LOCAL_HOST = '127.0.0.1';

/** In port order: node i listens on basePort + i. */
const LOCAL_NODES: ReadonlyArray<{ name: string; role: NodeRole }> = [
  { name: 'gw', role: 'gateway' },
  { name: 'mon-1', role: 'monitor' },
  { name: 'mon-2', role: 'monitor' },
  { name: 'asg-1', role: 'assigner' },
  { name: 'asg-2', role: 'assigner' },
  { name: 'wrk-1', role: 'worker' },
  { name: 'empty-1', role: 'empty' },
];

export interface LocalClusterOptions {
  /** First internal port; the nodes take LOCAL_NODES.length consecutive ports from it. */
  basePort: number;
  /** Worker processes on wrk-1. */
  workers: number;
  secret: string;
  /** The Gateway's HTTP port; default: the port right after the nodes'. */
  gatewayPort?: number;
}

export function localClusterConfig({ basePort, workers, secret, gatewayPort = basePort + LOCAL_NODES.length }: LocalClusterOptions): LabConfig {
  const raw: LabConfigInput = {
    cluster: { name: 'local', secret },
    gateway: { host: 'gw', port: gatewayPort },
    nodes: LOCAL_NODES.map(({ name, role }, i) => ({ name, address: LOCAL_HOST, port: basePort + i, role })),
    workers: { perHostMax: workers },
    // Only this machine's loopback can reach the Gateway.
    auth: { enabled: false },
  };
  return parseLabConfig(raw, { source: '<local cluster>', baseDir: process.cwd() });
}
