// Not from index.js or schema.js: a Worker's heartbeat thread uses this without the config loader
// (YAML) or the config schema (zod).
import type { LabConfig } from '../config/schema.js';
import { workersPerHost } from '../config/workers-per-host.js';
import type { Endpoint } from './peers.js';

/**
 * Worker process i of a Worker host listens on the host's port + WORKER_PORT_OFFSET + i, so every
 * node can compute every Worker's address from the lab config alone (no address in heartbeats).
 */
export const WORKER_PORT_OFFSET = 100;

export function workerProcessName(host: string, i: number): string {
  return `${host}-w${i}`;
}

export class AddressBook {
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(readonly config: LabConfig) {
    const perHost = workersPerHost(config);
    for (const n of config.nodes) {
      this.endpoints.set(n.name, { host: n.address, port: n.port });
      // Any node may become a Worker host (promotion), so every node's Worker names resolve.
      for (let i = 0; i < perHost; i++) this.endpoints.set(workerProcessName(n.name, i), { host: n.address, port: n.port + WORKER_PORT_OFFSET + i });
    }
  }

  resolve(name: string): Endpoint | null {
    return this.endpoints.get(name) ?? null;
  }

  has(name: string): boolean {
    return this.endpoints.has(name);
  }

  /** Names of the configured nodes (not their Worker processes). */
  nodeNames(): string[] {
    return this.config.nodes.map((n) => n.name);
  }
}
