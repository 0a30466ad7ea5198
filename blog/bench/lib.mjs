// The blog benches' shared machinery (bench/blog.mjs and bench/scale.mjs): the load generator in its
// own process, seeding an L1's database before it starts, nginx as the physical limit of a read,
// Prometheus counters, write load, and L1-to-L1 replication timing. Every phase is bounded in time.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, http } from '../dist/test/e2e/harness.js';
import { SqliteStore } from '../dist/src/store/sqlite-store.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BODY = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(35); // ~2 KB, a short post
const NGINX = '/usr/sbin/nginx';
const started = Date.now();

/** One progress line on stderr (stdout carries only the results). */
export function progress(text) {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}\n`);
}

/**
 * Runs bench/loadgen.mjs for `durationS` seconds. The options go on its stdin as JSON: a path list
 * of 20,000 entries on argv overflowed the kernel's argument limit (E2BIG). The child is killed if
 * it has not answered 20 s after its duration.
 */
export function loadgen(opts) {
  const durationS = opts.durationS ?? 10;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'loadgen.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), (durationS + 20) * 1000);
    child.stdout.on('data', (d) => (out += d));
    child.on('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()));
      else reject(new Error(`loadgen exited ${code ?? signal}`));
    });
    child.stdin.end(JSON.stringify({ ...opts, durationS }));
  });
}

/**
 * Writes `count` blogs of another country's writer straight into an L1's database file before the
 * L1 starts: one transaction, the real store (what is measured is reading them, not seeding them).
 */
export function seedBlogs(dbFile, count, { origin = 'l1-europe', country = 'de', prefix = 'seeded' } = {}) {
  const store = new SqliteStore(dbFile);
  const t = Date.now() - 60_000;
  const ids = [];
  store.atomically(() => {
    for (let i = 0; i < count; i++) {
      const id = `b.${prefix}-${String(i).padStart(6, '0')}`;
      ids.push(id);
      store.apply({
        kind: 'blog',
        hlc: { wallMs: t + i, logical: 0, origin },
        blog: { id, authorId: `u.${prefix}-writer`, authorCountry: country, publicationId: `p.${prefix}-writer`, title: `Post ${i}`, body: BODY, imageRefs: [], createdMs: t + i, updatedMs: t + i },
      });
    }
  });
  store.close();
  return ids;
}

/** nginx (one worker: one core, like one L2 process) serving `content` at `urlPath` on 127.0.0.1:port. */
export async function startNginx(port, content, urlPath) {
  // Its own folder, readable by nginx's unprivileged worker (the world's folder is private).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-bench-nginx-'));
  chmodSync(dir, 0o755);
  const www = path.join(dir, 'www');
  mkdirSync(path.dirname(path.join(www, urlPath)), { recursive: true });
  writeFileSync(path.join(www, urlPath), content);
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
  const stop = () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually('nginx to serve the file', 10_000, async () => ((await fetch(`http://127.0.0.1:${port}${urlPath}`)).ok ? true : undefined));
  } catch (err) {
    stop(); // never leave a server behind
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}

/** The sum of a Prometheus counter's samples on one server (those whose labels contain `label`). */
export async function metric(url, name, label) {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && (!label || line.includes(label))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** A registered writer at an L2: its bearer token. */
export async function registerWriter(l2Url, slug) {
  const reg = await http('POST', `${l2Url}/api/users`, { name: slug, slug });
  if (reg.status !== 201) throw new Error(`registering ${slug} at ${l2Url}: ${reg.status} ${JSON.stringify(reg.body)}`);
  return reg.body.token;
}

/** Blog creations through an L2 (each acknowledged only after its L1 committed it). */
export function writeLoad(l2Url, token, { connections, durationS }) {
  return loadgen({
    url: l2Url,
    paths: ['/api/blogs'],
    connections,
    durationS,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ title: 'bench post', body: BODY }),
  });
}

/**
 * Starts `toL1` (fresh) and times how fast it pulls `fromL1`'s whole log by sync pages, for at most
 * `boundS` seconds (then it reports the part it got). Changes/s and bytes on the link per change.
 * fromL1 must be the only other L1 up: a fresh L1 pulls from every peer, and the same changes
 * from two peers would count twice in the time and not at all in these bytes.
 */
export async function replicationPull(tw, fromL1, toL1, boundS) {
  const target = (await http('GET', `${tw.url(fromL1)}/healthz`)).body.headSeq;
  await tw.start(toL1);
  const to = tw.url(toL1);
  const t0 = performance.now();
  const seq0 = (await http('GET', `${to}/healthz`)).body.headSeq;
  let seq = seq0;
  const deadline = t0 + boundS * 1000;
  let lastNote = t0;
  while (seq < target && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    seq = (await http('GET', `${to}/healthz`)).body.headSeq;
    if (performance.now() - lastNote > 10_000) {
      lastNote = performance.now();
      progress(`  ${toL1} holds ${seq} of ${target} changes`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const bytes = await metric(to, 'blog_link_bytes_received_total', `peer="${fromL1}"`);
  const pages = await metric(to, 'blog_sync_pages_total', `peer="${fromL1}"`);
  return { changes: seq - seq0, complete: seq >= target, seconds, changesPerS: (seq - seq0) / seconds, bytesPerChange: bytes / Math.max(1, seq), syncPages: pages };
}

export function row(name, r) {
  return `${name.padEnd(38)} ${String(Math.round(r.rps)).padStart(8)} req/s   p50 ${String(r.p50Ms).padStart(4)} ms   p99 ${String(r.p99Ms).padStart(4)} ms   (${r.requests} requests, ${r.non2xx} non-2xx, ${r.errors} errors)`;
}
