// Prometheus metrics of one server: each server has its own registry (tests run several servers
// in one process, and the default registry would mix them).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface BlogMetrics {
  registry: Registry;
  /** Changes sent to peers, by link kind: l1->l2 push, l1->l1 batch, l2->l1 write, sync pages. */
  changesPropagated: Counter<'kind'>;
  changesApplied: Counter<'source'>;
  batchChanges: Histogram<string>;
  syncPages: Counter<'direction'>;
  cacheHits: Counter<string>;
  cacheMisses: Counter<string>;
  /** Now minus the newest change's HLC wall time received from each peer. */
  replicationLagMs: Gauge<'peer'>;
  linkErrors: Counter<'peer' | 'code'>;
  linkRejected: Counter<'code'>;
  writes: Counter<'outcome'>;
  reads: Counter<'source'>;
}

export function createMetrics(server: string, role: 'l1' | 'l2'): BlogMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ server, role });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    changesPropagated: new Counter({ name: 'blog_changes_propagated_total', help: 'changes sent to peers, by link kind', labelNames: ['kind'], registers: [registry] }),
    changesApplied: new Counter({ name: 'blog_changes_applied_total', help: 'changes received and applied, by source', labelNames: ['source'], registers: [registry] }),
    batchChanges: new Histogram({
      name: 'blog_batch_changes',
      help: 'changes per L1-to-L1 batch sent',
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000],
      registers: [registry],
    }),
    syncPages: new Counter({ name: 'blog_sync_pages_total', help: 'L1 sync pages sent or received, and L2 catch-up pages', labelNames: ['direction'], registers: [registry] }),
    cacheHits: new Counter({ name: 'blog_cache_hits_total', help: 'reads answered from the L2 cache', registers: [registry] }),
    cacheMisses: new Counter({ name: 'blog_cache_misses_total', help: 'reads the L2 cache could not answer', registers: [registry] }),
    replicationLagMs: new Gauge({
      name: 'blog_replication_lag_ms',
      help: 'now minus the HLC wall time of the newest change received from each peer, at receipt',
      labelNames: ['peer'],
      registers: [registry],
    }),
    linkErrors: new Counter({ name: 'blog_link_errors_total', help: 'failed server-to-server sends, by peer and code', labelNames: ['peer', 'code'], registers: [registry] }),
    linkRejected: new Counter({ name: 'blog_link_rejected_total', help: 'server-to-server messages refused (401), by code', labelNames: ['code'], registers: [registry] }),
    writes: new Counter({ name: 'blog_client_writes_total', help: 'client writes at an L2, by outcome', labelNames: ['outcome'], registers: [registry] }),
    reads: new Counter({ name: 'blog_client_reads_total', help: 'client blog reads at an L2, by where the answer came from', labelNames: ['source'], registers: [registry] }),
  };
}
