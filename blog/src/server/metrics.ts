// Prometheus metrics of one server, fed by the cores' `metric` actions and by the edge. Each server
// has its own registry (tests may run several servers in one process; the default one would mix them).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { assertNever, type MetricEvent } from '../core/types.js';

export class BlogMetrics {
  readonly registry = new Registry();
  private readonly committed: Counter<string>;
  private readonly propagated: Counter<'peer'>;
  private readonly batchChanges: Histogram<'peer'>;
  private readonly batchesDropped: Counter<'peer'>;
  private readonly syncPages: Counter<'peer'>;
  private readonly syncChanges: Counter<'peer'>;
  private readonly syncRounds: Counter<'peer'>;
  private readonly lag: Gauge<'peer'>;
  private readonly cacheHits: Counter<string>;
  private readonly cacheMisses: Counter<string>;
  private readonly catchUpPages: Counter<string>;
  private readonly catchUpChanges: Counter<string>;
  private readonly refused: Counter<'code'>;
  readonly linkErrors: Counter<'peer' | 'code'>;
  readonly linkRejected: Counter<'code'>;
  readonly linkDropped: Counter<'peer'>;
  readonly linkBytesIn: Counter<'peer'>;
  readonly httpRequests: Counter<'route' | 'status'>;

  constructor(server: string, role: 'l1' | 'l2') {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ server, role });
    collectDefaultMetrics({ register: this.registry });
    this.committed = new Counter({ name: 'blog_changes_committed_total', help: 'changes this L1 committed (stamped and stored)', registers });
    this.propagated = new Counter({ name: 'blog_changes_propagated_total', help: 'changes another L1 acknowledged in a batch, by peer', labelNames: ['peer'], registers });
    this.batchChanges = new Histogram({
      name: 'blog_batch_changes',
      help: 'changes per L1-to-L1 batch sent',
      labelNames: ['peer'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    });
    this.batchesDropped = new Counter({ name: 'blog_batches_dropped_total', help: 'batches given up after their retries (the next sync repairs them)', labelNames: ['peer'], registers });
    this.syncPages = new Counter({ name: 'blog_sync_pages_total', help: 'L1 sync pages received and applied, by peer', labelNames: ['peer'], registers });
    this.syncChanges = new Counter({ name: 'blog_sync_changes_total', help: 'changes received in L1 sync pages, by peer', labelNames: ['peer'], registers });
    this.syncRounds = new Counter({ name: 'blog_sync_rounds_done_total', help: 'L1 sync rounds completed, by peer', labelNames: ['peer'], registers });
    this.lag = new Gauge({
      name: 'blog_replication_lag_ms',
      help: 'at receipt of a batch or sync page from a peer L1: local time minus the HLC wall time of its oldest change',
      labelNames: ['peer'],
      registers,
    });
    this.cacheHits = new Counter({ name: 'blog_cache_hits_total', help: 'blog reads answered from the L2 cache', registers });
    this.cacheMisses = new Counter({ name: 'blog_cache_misses_total', help: 'blog reads the L2 cache could not answer', registers });
    this.catchUpPages = new Counter({ name: 'blog_catchup_pages_total', help: 'catch-up pages an L2 received from its L1', registers });
    this.catchUpChanges = new Counter({ name: 'blog_catchup_changes_total', help: 'full changes in catch-up pages', registers });
    this.refused = new Counter({ name: 'blog_refused_total', help: 'requests or messages refused, by error code', labelNames: ['code'], registers });
    this.linkErrors = new Counter({ name: 'blog_link_errors_total', help: 'failed server-to-server sends, by peer and code', labelNames: ['peer', 'code'], registers });
    this.linkRejected = new Counter({ name: 'blog_link_rejected_total', help: 'server-to-server messages refused at the edge, by code', labelNames: ['code'], registers });
    this.linkDropped = new Counter({ name: 'blog_link_dropped_total', help: 'messages dropped because a peer queue was full', labelNames: ['peer'], registers });
    this.linkBytesIn = new Counter({ name: 'blog_link_bytes_received_total', help: 'server-to-server bytes received from each peer: its requests and its replies (JSON bodies, HTTP headers excluded)', labelNames: ['peer'], registers });
    this.httpRequests = new Counter({ name: 'blog_http_requests_total', help: 'client API requests, by route and status', labelNames: ['route', 'status'], registers });
  }

  record(m: MetricEvent): void {
    switch (m.name) {
      case 'changes_committed':
        return this.committed.inc(m.count);
      case 'changes_propagated':
        return this.propagated.inc({ peer: m.peer }, m.count);
      case 'batch_sent':
        return this.batchChanges.observe({ peer: m.peer }, m.changes);
      case 'batch_dropped':
        return this.batchesDropped.inc({ peer: m.peer });
      case 'sync_page':
        this.syncPages.inc({ peer: m.peer });
        return this.syncChanges.inc({ peer: m.peer }, m.changes);
      case 'sync_round_done':
        return this.syncRounds.inc({ peer: m.peer });
      case 'replication_lag_ms':
        return this.lag.set({ peer: m.peer }, m.lagMs);
      case 'cache_hit':
        return this.cacheHits.inc();
      case 'cache_miss':
        return this.cacheMisses.inc();
      case 'catchup_page':
        this.catchUpPages.inc();
        return this.catchUpChanges.inc(m.changes);
      case 'refused':
        return this.refused.inc({ code: m.code });
      default:
        return assertNever(m);
    }
  }
}
