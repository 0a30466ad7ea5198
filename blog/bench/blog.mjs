// npm --prefix blog run bench [-- --duration S] : the blog platform's read, write and replication
// figures on this machine, each server its own process, the load generator (autocannon) its own.
//   1. reads on one L2: a miss that goes to the L1, an L2 database read, a cache hit, and the same
//      rendered response served as a static file by nginx (one worker: one core, like the L2);
//   2. write acknowledgement latency (client -> L2 -> L1 commit -> ack), one writer at a time;
//   3. replication throughput between two L1s: a fresh L1 pulls everything by sync pages.
// Results go to stdout: a table, then the same figures as one JSON line.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { TestWorld } from '../dist/test/e2e/harness.js';
import { loadgen, metric, progress, registerWriter, replicationPull, row, seedBlogs, startNginx, writeLoad } from './lib.mjs';

const args = process.argv.slice(2);
const durationS = Number(args[args.indexOf('--duration') + 1] ?? 0) || 10;
/** Blogs seeded into the L1: enough distinct misses for the miss phase at any plausible rate. */
const SEEDED = Number(process.env.BLOG_BENCH_BLOGS ?? 20_000);
/** The replication phase stops after this long even if the second L1 has not got everything. */
const REPLICATION_BOUND_S = 60;

const tw = new TestWorld({
  l2Continents: ['europe'],
  intervals: {
    // Small cache: the database phase reads 5,000 blogs in rotation, all past the cache.
    cacheEntriesMax: 100,
    syncIntervalMs: 3_600_000,
    propagationTimeoutMs: 3_600_000,
    syncPageChangesMax: 500,
    heartbeatIntervalMs: 1_000,
    l1UnreachableAfterMs: 10_000,
  },
});
const results = { when: new Date().toISOString(), durationS, seededBlogs: SEEDED, loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))) };
let nginx;
try {
  progress(`seeding ${SEEDED} blogs into l1-europe's database`);
  const ids = seedBlogs(path.join(tw.dir, 'l1-europe.db'), SEEDED);
  progress('starting l1-europe and l2-fr-1');
  await tw.start('l1-europe', 'l2-fr-1');
  const L2 = tw.url('l2-fr-1');
  const token = await registerWriter(L2, 'bench-writer');

  // 1a. misses: every blog is at the L1 only (another country's writer; a fresh L2 holds none).
  progress(`read phase 1/4: misses that go to the L1 (${durationS} s)`);
  const missPaths = ids.map((id) => `/api/blogs/${id}`);
  results.miss = await loadgen({ url: L2, paths: missPaths, connections: 10, amount: missPaths.length, durationS });
  // 1b. database reads: blogs the miss phase stored, in rotation over far more than the cache holds.
  progress(`read phase 2/4: L2 database reads (${durationS} s)`);
  const fetched = Math.min(results.miss.requests, ids.length);
  const dbPaths = missPaths.slice(0, Math.max(1, Math.min(fetched, 5_000)));
  results.db = await loadgen({ url: L2, paths: dbPaths, connections: 10, durationS });
  // 1c. cache hits: one blog, hot.
  progress(`read phase 3/4: cache hits (${durationS} s)`);
  const hot = missPaths[0];
  results.cache = await loadgen({ url: L2, paths: [hot], connections: 10, durationS });
  results.cacheHitsCounted = await metric(L2, 'blog_cache_hits_total');
  // 1d. nginx serving the same bytes.
  progress(`read phase 4/4: nginx serving the same response as a static file (${durationS} s)`);
  const rendered = await (await fetch(`${L2}${hot}`)).text();
  nginx = await startNginx(new URL(tw.url('l2-fr-2')).port, rendered, hot);
  results.nginx = await loadgen({ url: nginx.url, paths: [hot], connections: 10, durationS });
  nginx.stop();
  nginx = undefined;
  results.cacheVsNginx = results.cache.rps / results.nginx.rps;
  results.responseBytes = Buffer.byteLength(rendered);

  // 2. write acknowledgement latency: one writer, one write at a time.
  progress(`write phase: acknowledgement latency, one writer (${durationS} s)`);
  results.write = await writeLoad(L2, token, { connections: 1, durationS });

  // 3. replication: a fresh l1-asia pulls all of l1-europe's log by sync pages at its start.
  progress(`replication phase: a fresh l1-asia pulls l1-europe's log (at most ${REPLICATION_BOUND_S} s)`);
  results.replication = await replicationPull(tw, 'l1-europe', 'l1-asia', REPLICATION_BOUND_S);
} finally {
  nginx?.stop();
  await tw.stopAll();
  tw.cleanup();
}

const lines = [
  `blog bench, ${durationS} s per phase, ${SEEDED} seeded blogs, response ${results.responseBytes} bytes`,
  row('read: miss -> L1 (then stored)', results.miss),
  row('read: L2 database', results.db),
  row('read: L2 cache hit', results.cache),
  row('read: nginx static file (1 worker)', results.nginx),
  `cache hit / nginx: ${(results.cacheVsNginx * 100).toFixed(0)}% (target >= 50%: ${results.cacheVsNginx >= 0.5 ? 'met' : 'NOT met'})`,
  row('write ack (L2 -> L1 -> ack), 1 writer', results.write),
  `replication l1-europe -> l1-asia (sync pages): ${Math.round(results.replication.changesPerS)} changes/s, ${Math.round(results.replication.bytesPerChange)} bytes/change (${results.replication.changes} changes in ${results.replication.seconds.toFixed(1)} s, ${results.replication.syncPages} sync pages${results.replication.complete ? '' : `, stopped at the ${REPLICATION_BOUND_S} s bound`})`,
  `machine: ${execFileSync('nproc').toString().trim()} cores, node ${process.version}, load average at the start ${results.loadAverage.join(' ')}, at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
process.stdout.write(`${JSON.stringify(results)}\n`);
