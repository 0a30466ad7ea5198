import { MAX_LIMITS, SOURCE_BYTES_MAX, type Limits } from '../sandbox/limits.js';
import { createAccept, type AcceptRun } from './accept.js';
import { Authenticator } from './auth.js';
import type { RunBackend } from './backend.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';
import type { GatewayOptions } from './options.js';
import { RunResumer } from './run-attach.js';
import { RunStore } from './run-store.js';

/** What the Gateway's route modules share, built once per Gateway by gatewayDeps. */
export interface GatewayDeps {
  backend: RunBackend;
  store: RunStore;
  metrics: GatewayMetrics;
  auth: Authenticator;
  accept: AcceptRun;
  resumer: RunResumer;
  limitsMax: Limits;
  sourceBytesMax: number;
}

export function gatewayDeps(opts: GatewayOptions): GatewayDeps {
  const metrics = createMetrics();
  const store = new RunStore(
    opts.runsRetainedMax,
    (rec) => {
      metrics.runs.inc({ status: rec.status });
      metrics.endToEnd.observe((Date.now() - rec.createdAt.getTime()) / 1000);
    },
    opts.resumeKey,
  );
  const limitsMax = opts.limitsMax ?? MAX_LIMITS;
  const sourceBytesMax = opts.sourceBytesMax ?? SOURCE_BYTES_MAX;
  const backend = opts.backend;
  return {
    backend,
    store,
    metrics,
    auth: new Authenticator(opts.auth, opts.anonymousRunsMax),
    accept: createAccept({ backend, store, metrics, limitsMax, sourceBytesMax }),
    resumer: new RunResumer(store, backend),
    limitsMax,
    sourceBytesMax,
  };
}
