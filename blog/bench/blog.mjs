// npm --prefix blog run bench [-- --duration S] : the blog platform's read, write and replication
// figures on this machine, each server its own process, the load generator (autocannon) its own.
//   1. reads on one L2: a miss that goes to the L1, an L2 database read, a cache hit, and the same
//      rendered response served as a static file by nginx (one worker: one core, like the L2);
//   2. write acknowledgement latency (client -> L2 -> L1 commit -> ack), one writer at a time;
//   3. replication throughput between two L1s: a fresh L1 pulls everything by sync pages.
// Results go to stdout: a table, then the same figures as one JSON line.
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorld, eventually, http } from '../dist/test/e2e/harness.js';
import { SqliteStore } from '../dist/src/store/sqlite-store.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const durationS = Number(args[args.indexOf('--duration') + 1] ?? 0) || 10;
/** Blogs seeded into the L1: enough distinct misses for the miss phase at any plausible rate. */
const SEEDED = Number(process.env.BLOG_BENCH_BLOGS ?? 20_000);
const BODY = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(35); // ~2 KB, a short post
const NGINX = '/usr/sbin/nginx';

function loadgen(opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'loadgen.mjs'), JSON.stringify({ durationS, ...opts })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`loadgen exited ${code}`))));
  });
}

function seed(dbFile) {
  const store = new SqliteStore(dbFile);
  const t = Date.now() - 60_000;
  const ids = [];
  store.atomically(() => {
    for (let i = 0; i < SEEDED; i++) {
      const id = `b.seeded-${String(i).padStart(6, '0')}`;
      ids.push(id);
      store.apply({
        kind: 'blog',
        hlc: { wallMs: t + i, logical: 0, origin: 'l1-europe' },
        blog: { id, authorId: 'u.seeded-writer', authorCountry: 'de', publicationId: 'p.seeded-writer', title: `Post ${i}`, body: BODY, imageRefs: [], createdMs: t + i, updatedMs: t + i },
      });
    }
  });
  store.close();
  return ids;
}

async function startNginx(port, rendered, blogPath) {
  // Its own folder, readable by nginx's unprivileged worker (the world's folder is private).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-bench-nginx-'));
  chmodSync(dir, 0o755);
  const www = path.join(dir, 'www');
  mkdirSync(path.dirname(path.join(www, blogPath)), { recursive: true });
  writeFileSync(path.join(www, blogPath), rendered);
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  server {
    listen 127.0.0.1:${port};
    root ${www};
    location / { try_files $uri =404; }
  }
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  child.dir = dir;
  try {
    await eventually('nginx to serve the file', 10_000, async () => ((await fetch(`http://127.0.0.1:${port}${blogPath}`)).ok ? true : undefined));
  } catch (err) {
    child.kill('SIGTERM'); // never leave a server behind
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return child;
}

async function metric(url, name, label) {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && (!label || line.includes(label))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

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
const results = { when: new Date().toISOString(), durationS, seededBlogs: SEEDED };
let nginx;
try {
  const ids = seed(path.join(tw.dir, 'l1-europe.db'));
  await tw.start('l1-europe', 'l2-fr-1');
  const L2 = tw.url('l2-fr-1');
  const reg = await http('POST', `${L2}/api/users`, { name: 'Bench', slug: 'bench-writer' });
  const token = reg.body.token;

  // 1a. misses: every blog is at the L1 only (another country's writer; a fresh L2 holds none).
  const missPaths = ids.map((id) => `/api/blogs/${id}`);
  results.miss = await loadgen({ url: L2, paths: missPaths, connections: 10, amount: missPaths.length });
  // 1b. database reads: blogs the miss phase stored, in rotation over far more than the cache holds.
  const fetched = Math.min(results.miss.requests, ids.length);
  const dbPaths = missPaths.slice(0, Math.max(1, Math.min(fetched, 5_000)));
  results.db = await loadgen({ url: L2, paths: dbPaths, connections: 10 });
  // 1c. cache hits: one blog, hot.
  const hot = missPaths[0];
  results.cache = await loadgen({ url: L2, paths: [hot], connections: 10 });
  const sources = await metric(L2, 'blog_cache_hits_total');
  results.cacheHitsCounted = sources;
  // 1d. nginx serving the same bytes.
  const rendered = await (await fetch(`${L2}${hot}`)).text();
  nginx = await startNginx(new URL(tw.url('l2-fr-2')).port, rendered, hot);
  results.nginx = await loadgen({ url: tw.url('l2-fr-2'), paths: [hot], connections: 10 });
  results.cacheVsNginx = results.cache.rps / results.nginx.rps;
  results.responseBytes = Buffer.byteLength(rendered);

  // 2. write acknowledgement latency: one writer, one write at a time.
  results.write = await loadgen({
    url: L2,
    paths: ['/api/blogs'],
    connections: 1,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ title: 'bench post', body: BODY }),
  });

  // 3. replication: a fresh l1-asia pulls all of l1-europe's log by sync pages at its start.
  const target = (await http('GET', `${tw.url('l1-europe')}/healthz`)).body.headSeq;
  await tw.start('l1-asia');
  const AS = tw.url('l1-asia');
  const t0 = performance.now();
  const seq0 = (await http('GET', `${AS}/healthz`)).body.headSeq;
  await eventually('l1-asia to hold everything', 600_000, async () => ((await http('GET', `${AS}/healthz`)).body.headSeq >= target ? true : undefined));
  const seconds = (performance.now() - t0) / 1000;
  const bytes = await metric(AS, 'blog_link_bytes_received_total', 'peer="l1-europe"');
  results.replication = { changes: target - seq0, seconds, changesPerS: (target - seq0) / seconds, bytesPerChange: bytes / target };
} finally {
  if (nginx) {
    nginx.kill('SIGTERM');
    rmSync(nginx.dir, { recursive: true, force: true });
  }
  await tw.stopAll();
  tw.cleanup();
}

const row = (name, r) => `${name.padEnd(34)} ${String(Math.round(r.rps)).padStart(8)} req/s   p50 ${String(r.p50Ms).padStart(4)} ms   p99 ${String(r.p99Ms).padStart(4)} ms   (${r.requests} requests, ${r.non2xx} non-2xx, ${r.errors} errors)`;
const lines = [
  `blog bench, ${durationS} s per phase, ${SEEDED} seeded blogs, response ${results.responseBytes} bytes`,
  row('read: miss -> L1 (then stored)', results.miss),
  row('read: L2 database', results.db),
  row('read: L2 cache hit', results.cache),
  row('read: nginx static file (1 worker)', results.nginx),
  `cache hit / nginx: ${(results.cacheVsNginx * 100).toFixed(0)}%`,
  row('write ack (L2 -> L1 -> ack), 1 writer', results.write),
  `replication l1-europe -> l1-asia (sync pages): ${Math.round(results.replication.changesPerS)} changes/s, ${Math.round(results.replication.bytesPerChange)} bytes/change (${results.replication.changes} changes in ${results.replication.seconds.toFixed(1)} s)`,
  `machine: ${execFileSync('nproc').toString().trim()} cores, node ${process.version}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
process.stdout.write(`${JSON.stringify(results)}\n`);
