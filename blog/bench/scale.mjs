// npm --prefix blog run bench:scale [-- --quick]   (also: npm run bench -- blog-scale)
// The author's scale (5 million daily readers, 10,000 daily writers) from measurements, not hopes:
//   A. measured here, real processes (machinery shared with bench/blog.mjs, bench/lib.mjs): one L2's
//      read capacity at a target p99 (cache hits, database reads, misses to the L1), acknowledged
//      writes/s, one L1's replication capacity (changes/s in by sync pages, batches out);
//   B. the arithmetic, printed with every input: L2s per continent, L1 bandwidth, the bytes per day
//      of the 2-hour batches and of the 24-hour sync between continents;
//   C. the seeded simulator (the real cores) at 7 L1s x 20, 200 and 1,400 L2s with a day of writes
//      compressed 60 times: messages and bytes per L1, worst cross-continent lag, sync pages.
// --quick: shorter phases and 2,000 writers in the simulator (a smoke run, not for the record).
// Progress on stderr; results on stdout (tables, then one JSON line).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { TestWorld } from '../dist/test/e2e/harness.js';
import { runSimulation, DAY_COMPRESSION } from '../dist/src/sim/sim.js';
import { CONTINENTS, CONTINENT_SHARE } from '../dist/src/sim/world.js';
import { BODY, loadgen, metric, progress, registerWriter, replicationPull, row, seedBlogs, writeLoad } from './lib.mjs';

const quick = process.argv.includes('--quick');
const PHASE_S = quick ? 2 : 3;
const SEEDED = quick ? 3_000 : 10_000;
/** The latency a reader should see at worst (99th percentile) from one L2 under load. */
const TARGET_P99_MS = 100;
const CONNECTIONS = [1, 4, 16, 64];

/** Stated assumptions (the README's table shows the same). */
const A = {
  dailyReaders: 5_000_000,
  readsPerReaderPerDay: 20, // blog pages, lists and searches a reader opens in a day
  peakToAverage: 3, // the busiest hour against the day's average
  cacheHitShare: 0.9, // reads the L2's LRU answers (popular blogs)
  missShare: 0.01, // reads of blogs the L2 does not hold (another continent's, not yet arrived): to the L1
  l2UtilisationMax: 0.5, // an L2 is planned at half its measured capacity at peak...
  spareL2sPerContinent: 1, // ...plus one spare per continent (N+1)
  dailyWriters: 10_000,
  writesPerWriterPerDay: 3, // creates, updates and deletes
  blogBodyBytes: 8_000, // text; images are references (URLs/hashes) in the blog, bytes fetched on demand
  heartbeatIntervalS: 5,
  heartbeatBytes: 120,
  batchChangesMax: 100,
  batchTimeoutH: 2,
  syncPageChangesMax: 200,
  syncPageScanMax: 1_000,
  continentShare: CONTINENT_SHARE, // of readers and of writers alike
};

const results = { when: new Date().toISOString(), quick, loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))), assumptions: A };

// ---- A. measured ------------------------------------------------------------------------------------

async function sweep(url, paths) {
  const runs = [];
  for (const connections of CONNECTIONS) runs.push({ connections, ...(await loadgen({ url, paths, connections, durationS: PHASE_S })) });
  const ok = runs.filter((r) => r.p99Ms <= TARGET_P99_MS && r.non2xx === 0 && r.errors === 0);
  const best = ok.length > 0 ? ok.reduce((a, b) => (b.rps > a.rps ? b : a)) : null;
  return { runs, best };
}

const tw = new TestWorld({
  l2Continents: ['europe'],
  intervals: {
    cacheEntriesMax: 100, // database reads rotate over more blogs than the cache holds
    syncIntervalMs: 3_600_000,
    propagationTimeoutMs: 3_600_000,
    heartbeatIntervalMs: 1_000,
    l1UnreachableAfterMs: 10_000,
  },
});
try {
  progress(`A. seeding ${SEEDED} blogs into l1-europe's database`);
  const ids = seedBlogs(path.join(tw.dir, 'l1-europe.db'), SEEDED);
  progress('starting l1-europe and l2-fr-1');
  await tw.start('l1-europe', 'l2-fr-1');
  const L2 = tw.url('l2-fr-1');
  const token = await registerWriter(L2, 'scale-writer');
  const paths = ids.map((id) => `/api/blogs/${id}`);

  progress(`A1. L2 misses to the L1, 10 connections (${PHASE_S * 2} s)`);
  results.miss = await loadgen({ url: L2, paths, connections: 10, amount: paths.length, durationS: PHASE_S * 2 });
  const held = paths.slice(0, Math.max(1, Math.min(results.miss.requests, paths.length)));
  progress(`A2. L2 database reads over ${held.length} blogs, connections ${CONNECTIONS.join(', ')} (${PHASE_S} s each)`);
  results.dbSweep = await sweep(L2, held);
  progress(`A3. L2 cache hits, connections ${CONNECTIONS.join(', ')} (${PHASE_S} s each)`);
  results.cacheSweep = await sweep(L2, [held[0]]);
  results.responseBytes = Buffer.byteLength(await (await fetch(`${L2}${held[0]}`)).text());

  // A fresh l1-asia takes in l1-europe's log (its start-up sync, l1-europe the only peer up): the
  // L1's replication capacity in. Then, during the writes, it only receives batches: what
  // l1-europe sends it is the batches out of one L1 to one peer.
  progress('A4. L1 replication in: a fresh l1-asia pulls l1-europe\'s log by sync pages (at most 60 s)');
  const EU = tw.url('l1-europe');
  results.replicationIn = await replicationPull(tw, 'l1-europe', 'l1-asia', 60);
  progress(`A5. acknowledged writes, 16 writers at once, and the batches l1-europe sends l1-asia meanwhile (${PHASE_S * 2} s)`);
  const b0 = await metric(EU, 'blog_batch_changes_count', 'peer="l1-asia"');
  const c0 = await metric(EU, 'blog_batch_changes_sum', 'peer="l1-asia"');
  results.writes = await writeLoad(L2, token, { connections: 16, durationS: PHASE_S * 2 });
  // The last partial batch leaves at the timeout (an hour here): only full batches count.
  const batches = (await metric(EU, 'blog_batch_changes_count', 'peer="l1-asia"')) - b0;
  const changes = (await metric(EU, 'blog_batch_changes_sum', 'peer="l1-asia"')) - c0;
  const w = results.writes;
  results.batchesOut = { writesPerS: w.rps, batches, changes, batchesPerS: batches / w.durationS, changesPerS: changes / w.durationS };
} finally {
  await tw.stopAll();
  tw.cleanup();
}

// ---- B. the arithmetic --------------------------------------------------------------------------------

const out = [];
const say = (s = '') => out.push(s);
const f0 = (x) => Math.round(x).toLocaleString('en-US');
const f1 = (x) => x.toLocaleString('en-US', { maximumFractionDigits: 1 });
const gb = (bytes) => `${f1(bytes / 1e9)} GB`;
const mbps = (bytesPerS) => `${f1((bytesPerS * 8) / 1e6)} Mbit/s`;

const cache = results.cacheSweep.best;
const db = results.dbSweep.best;
const missRps = results.miss.rps; // at 10 connections; its p99 is reported beside it
if (!cache || !db) {
  say(`no run met the p99 target of ${TARGET_P99_MS} ms (machine too loaded?): see the sweeps in the JSON line`);
}
const capCache = cache?.rps ?? Math.max(...results.cacheSweep.runs.map((r) => r.rps));
const capDb = db?.rps ?? Math.max(...results.dbSweep.runs.map((r) => r.rps));
const dbShare = 1 - A.cacheHitShare - A.missShare;
const capL2 = 1 / (A.cacheHitShare / capCache + dbShare / capDb + A.missShare / missRps);
const overheadBytes = results.replicationIn.bytesPerChange - BODY.length;
const changeBytes = overheadBytes + A.blogBodyBytes;
const readBytes = results.responseBytes - BODY.length + A.blogBodyBytes;

say(`A. measured on this machine (${execFileSync('nproc').toString().trim()} cores, load average ${results.loadAverage.join(' ')} at the start), target p99 ${TARGET_P99_MS} ms`);
for (const [name, s] of [['cache hit', results.cacheSweep], ['L2 database', results.dbSweep]]) {
  for (const r of s.runs) say(row(`read: ${name}, ${r.connections} conn`, r) + (r === s.best ? '  <- capacity' : ''));
}
say(row('read: miss -> L1, 10 conn', results.miss));
say(row('write ack, 16 writers', results.writes));
const ri = results.replicationIn;
say(`L1 replication in (a fresh L1's start-up sync, pages of 200): ${f0(ri.changesPerS)} changes/s, ${f0(ri.bytesPerChange)} bytes/change (${ri.changes} changes in ${ri.seconds.toFixed(1)} s${ri.complete ? '' : ', stopped at the bound'})`);
const bo = results.batchesOut;
say(`L1 batches out to one peer during those writes: ${f1(bo.batchesPerS)} batches/s, ${f0(bo.changesPerS)} changes/s (${bo.batches} full batches of ${A.batchChangesMax}): bound by the write rate, not by sending`);
say();
say('B. the arithmetic (inputs: the assumptions table and the measurements above)');
const readsPerDay = A.dailyReaders * A.readsPerReaderPerDay;
const peakReadsPerS = (readsPerDay / 86_400) * A.peakToAverage;
say(`reads/day = ${f0(A.dailyReaders)} readers x ${A.readsPerReaderPerDay} = ${f0(readsPerDay)}; peak reads/s = ${f0(readsPerDay)} / 86,400 x ${A.peakToAverage} = ${f0(peakReadsPerS)}`);
say(`one L2 at the mix (${A.cacheHitShare} cache, ${dbShare.toFixed(2)} database, ${A.missShare} miss) = 1 / (${A.cacheHitShare}/${f0(capCache)} + ${dbShare.toFixed(2)}/${f0(capDb)} + ${A.missShare}/${f0(missRps)}) = ${f0(capL2)} reads/s; planned at ${A.l2UtilisationMax * 100}%: ${f0(capL2 * A.l2UtilisationMax)} reads/s`);
const writesPerDay = A.dailyWriters * A.writesPerWriterPerDay;
say(`changes/day = ${f0(A.dailyWriters)} writers x ${A.writesPerWriterPerDay} = ${f0(writesPerDay)}; bytes/change = ${f0(overheadBytes)} measured overhead + ${f0(A.blogBodyBytes)} body = ${f0(changeBytes)}; the world's day of changes = ${gb(writesPerDay * changeBytes)}`);
say(`peak writes/s (world) = ${f1((writesPerDay / 86_400) * A.peakToAverage)}, against ${f0(results.writes.rps)} acknowledged writes/s measured through one L2 and its L1`);
say();
say('| continent | reader share | peak reads/s | L2s (at 50% + 1 spare) | L1 -> its L2s (pushes) | L2s -> L1 (writes, misses, heartbeats) | L1 peak bandwidth |');
say('|---|---|---|---|---|---|---|');
const perContinent = {};
let totalL2s = 0;
for (const c of CONTINENTS) {
  const share = A.continentShare[c];
  const peak = peakReadsPerS * share;
  const l2s = Math.max(1, Math.ceil(peak / (capL2 * A.l2UtilisationMax))) + A.spareL2sPerContinent;
  totalL2s += l2s;
  // Every change in the world reaches every L2 of the continent once (pushes).
  const pushBytesPerDay = writesPerDay * changeBytes * l2s;
  const missReplyBytesPerDay = readsPerDay * share * A.missShare * readBytes;
  const inBytesPerDay = writesPerDay * share * changeBytes + l2s * (86_400 / A.heartbeatIntervalS) * A.heartbeatBytes * 2;
  const peakBps = ((pushBytesPerDay + missReplyBytesPerDay + inBytesPerDay) / 86_400) * A.peakToAverage;
  perContinent[c] = { share, peakReadsPerS: peak, l2s, pushBytesPerDay, missReplyBytesPerDay, inBytesPerDay, peakBps };
  say(`| ${c} | ${(share * 100).toFixed(1)}% | ${f0(peak)} | ${l2s} | ${gb(pushBytesPerDay + missReplyBytesPerDay)}/day | ${gb(inBytesPerDay)}/day | ${mbps(peakBps)} |`);
}
say(`total L2s: ${totalL2s}`);
say();
const pairBatchesPerDay = (share) => {
  const perWindow = (writesPerDay * share) / (24 / A.batchTimeoutH);
  return (24 / A.batchTimeoutH) * Math.max(1, Math.ceil(perWindow / A.batchChangesMax));
};
const batchBytesPerDay = writesPerDay * changeBytes * 6; // each change to the six other L1s, once
let batchMsgsPerDay = 0;
for (const c of CONTINENTS) batchMsgsPerDay += 6 * pairBatchesPerDay(A.continentShare[c]);
say(`2-hour batches: every change goes once to each of the 6 other L1s: ${f0(writesPerDay)} x ${f0(changeBytes)} B x 6 = ${gb(batchBytesPerDay)}/day between continents, in ~${f0(batchMsgsPerDay)} batches/day (per pair, one batch per 2-hour window or per ${A.batchChangesMax} changes)`);
// The sync sends only what the requester does not know it holds (per-origin HLC marks from contiguous
// batches): after healthy batches, each peer's changes not yet batched when the sync runs, at most
// one batch window (2 h of 24) of its writes, to each of its 6 peers. Every page also reads up to
// syncPageScanMax log entries, so a day's log (each L1 holds the world's) costs a few near-empty pages.
const syncBytesPerDay = 6 * writesPerDay * (A.batchTimeoutH / 24) * changeBytes;
const syncPagesPerDay = 7 * 6 * Math.ceil(writesPerDay / A.syncPageScanMax);
const syncWorstBytesPerDay = 7 * 6 * writesPerDay * changeBytes;
say(`24-hour sync: each L1 pulls from each of its 6 peers only what it does not know it holds: after healthy batches, what the peer had not batched yet (at most the last ${A.batchTimeoutH}-hour window): 6 x ${f0(writesPerDay)} x ${A.batchTimeoutH}/24 x ${f0(changeBytes)} B = ${gb(syncBytesPerDay)}/day, ${f1(syncBytesPerDay / batchBytesPerDay)}x the batches, in ~${f0(syncPagesPerDay)} pages (each reads up to ${A.syncPageScanMax} log entries, most skipped); with every batch lost it is still bounded by 7 x 6 x the day = ${gb(syncWorstBytesPerDay)}/day (the simulator below measures it)`);
results.arithmetic = { capL2, capCache, capDb, missRps, changeBytes, readBytes, peakReadsPerS, writesPerDay, totalL2s, perContinent, batchBytesPerDay, batchMsgsPerDay, syncBytesPerDay, syncPagesPerDay, syncWorstBytesPerDay };

// ---- C. the simulator at scale --------------------------------------------------------------------------

say();
const simWriters = quick ? 2_000 : A.dailyWriters;
say(`C. simulator: 7 L1s, ${f0(simWriters)} writers (each signs up, then ${A.writesPerWriterPerDay} writes), ${f0(A.blogBodyBytes)}-byte bodies, a day compressed ${DAY_COMPRESSION}x (batch timeout and sync interval with it), seed 1, no faults`);
say('| L2s | sim. L2s | events | wall s | committed | msgs out per L1 (max) | bytes out per L1 (max) | of which to its L2s | batches (msgs, all L1s) | batch bytes (all) | sync pages (all) | sync bytes (all) | worst lag (real h) | violations |');
say('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
results.sim = [];
for (const l2s of [20, 200, 1_400]) {
  progress(`C. simulator with ${l2s} L2s`);
  const t0 = Date.now();
  const r = runSimulation({
    seed: 1,
    calm: true,
    eventsMax: 50_000_000,
    scale: { l2s, writers: simWriters, writesPerWriter: A.writesPerWriterPerDay, bodyBytes: A.blogBodyBytes, progress: (line) => progress(`  ${line}`) },
  });
  const wallS = (Date.now() - t0) / 1000;
  const s = r.scale;
  const l1 = Object.values(s.perL1);
  const max = (k) => Math.max(...l1.map((t) => t[k]));
  const sum = (k) => l1.reduce((a, t) => a + t[k], 0);
  const maxOut = l1.reduce((a, t) => (t.bytesOut > a.bytesOut ? t : a));
  results.sim.push({ l2s, wallS, violations: r.violations, syncToBatchBytes: sum('syncPageBytes') / sum('batchBytes'), ...s });
  say(
    `| ${l2s} | ${s.sampledL2s} | ${f0(s.events)} | ${wallS.toFixed(0)} | ${f0(s.committed)} | ${f0(max('msgsOut'))} | ${gb(maxOut.bytesOut)} | ${gb(maxOut.toL2Bytes)} | ${f0(sum('batchMsgs'))} | ${gb(sum('batchBytes'))} | ${f0(sum('syncPageMsgs'))} | ${gb(sum('syncPageBytes'))} | ${f1(s.worstLagRealHours)} (bound ${f1((s.lagBoundMs * DAY_COMPRESSION) / 3_600_000)}) | ${r.violations.length} |`,
  );
  for (const v of r.violations.slice(0, 5)) say(`  violation: ${v}`);
}
say(`sync bytes / batch bytes in the simulator: ${results.sim.map((x) => f1(x.syncToBatchBytes)).join(', ')} (its writers also sign up: user and publication changes, a few hundred bytes each)`);
say('(sim. L2s: real L2 cores with stores, a few per continent; the other L2s count what their L1 sends them. The run covers the compressed day, then one sync interval: 3 sync rounds in all, the one at the start empty.)');
say(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

process.stdout.write(`${out.join('\n')}\n`);
process.stdout.write(`${JSON.stringify(results)}\n`);
if (results.sim.some((s) => s.violations.length > 0)) process.exitCode = 1;
