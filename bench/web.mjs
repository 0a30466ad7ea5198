// The web client's costs (npm run bench -- web):
//  1. Page weight: gzipped JS+CSS the student page loads (and with every language's grammar), and the lab page's.
//  2. Navigation → an editable editor holding the program (p50 over LOADS page loads; the first is cold).
//  3. Run → the first output byte of a Python hello world, in the browser (the page's own clock), vs
//     the same run through the WebSocket messages `codearena run` sends (a Node client, no process
//     start), vs the whole `codearena run` process (spawn → first byte, Node start-up included).
//     p50 over RUNS runs each, interleaved.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { startUp } from './up.mjs';

const RUNS = Number(process.env.RUNS ?? 20);
const LOADS = Number(process.env.LOADS ?? 10);
const CHROMIUM = '/usr/bin/chromium';
const CLI = fileURLToPath(new URL('../bin/codearena.js', import.meta.url));
const HELLO = 'print("hello")\n';
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const f1 = (x) => (x === undefined ? '—' : x.toFixed(1));

// 1. page weight
const manifest = JSON.parse(readFileSync('dist/web/manifest.json', 'utf8'));
const gz = (files) => files.reduce((n, f) => n + gzipSync(readFileSync(path.join('dist/web', f)), { level: 9 }).length, 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const student = gz([...manifest.student.js, ...manifest.student.css]);
const studentAll = student + gz(manifest.student.lazy);
const lab = gz([...manifest.lab.js, ...manifest.lab.css]);
console.log(`page weight (gzip -9, JS+CSS): student page ${kb(student)} loaded at start, ${kb(studentAll)} with every language's grammar (budget 400 KB); lab page ${kb(lab)}`);

if (!existsSync(CHROMIUM)) {
  console.log(`browser timings skipped: ${CHROMIUM} is missing (Debian's chromium; scripts/setup.sh installs it)`);
  process.exit(0);
}
const { chromium } = await import('playwright-core');
const up = await startUp({ args: ['--workers', '2'], port: 19_050, basePort: 18_900 });
const profile = mkdtempSync(path.join(os.tmpdir(), 'codearena-bench-chromium-'));
const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-bench-web-'));
const helloFile = path.join(dir, 'hello.py');
writeFileSync(helloFile, HELLO);
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1400, height: 860 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  // 2. navigation → editable editor
  const loads = [];
  for (let i = 0; i < LOADS; i++) {
    const page = await context.newPage();
    await page.goto(up.url, { waitUntil: 'commit' });
    const at = await page.waitForFunction(() => {
      const c = window.codearena;
      const ed = document.querySelector('.cm-content');
      return c && c.source.length > 0 && ed?.getAttribute('contenteditable') === 'true' ? performance.now() : 0;
    }, undefined, { polling: 'raf', timeout: 30_000 });
    loads.push(await at.jsonValue());
    await page.close();
  }
  console.log(`navigation → editable editor: first (cold cache) ${f1(loads[0])} ms, p50 ${f1(pct(loads, 0.5))} ms over ${LOADS} loads`);

  // 3. run → first output byte
  const page = await context.newPage();
  await page.goto(up.url);
  await page.waitForSelector('#run:not([disabled])');
  await page.selectOption('#lang', 'python');
  await page.evaluate((src) => window.codearena.setSource(src), HELLO);
  const browser = [];
  const client = [];
  const cli = [];
  const viaBrowser = async () => {
    await page.click('#run');
    const t = await page.waitForFunction(() => {
      const r = window.codearena.lastRun;
      return r.exitAtMs > 0 ? r : null;
    }, undefined, { polling: 'raf', timeout: 30_000 });
    const r = await t.jsonValue();
    return r.firstOutputAtMs - r.runAtMs;
  };
  const viaClient = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const ws = new WebSocket(`${up.url.replace('http', 'ws')}/api/v1/runs/stream`);
      let first = 0;
      ws.on('open', () => ws.send(JSON.stringify({ type: 'start', language: 'python', source: HELLO, interactive: true, binary_output: true })));
      ws.on('message', (d, binary) => {
        if (binary && first === 0) first = performance.now() - t0;
        if (!binary && JSON.parse(d.toString()).type === 'exit') {
          ws.close();
          resolve(first);
        }
      });
      ws.on('error', reject);
    });
  const viaCli = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const child = spawn(process.execPath, [CLI, 'run', helloFile, '--gateway', up.url], { stdio: ['ignore', 'pipe', 'inherit'] });
      let first = 0;
      child.stdout.on('data', () => {
        if (first === 0) first = performance.now() - t0;
      });
      child.on('exit', (code) => (code === 0 ? resolve(first) : reject(new Error(`codearena run exited ${code}`))));
    });
  for (let i = 0; i < 3; i++) {
    await viaBrowser();
    await viaClient();
    await viaCli();
  }
  for (let i = 0; i < RUNS; i++) {
    browser.push(await viaBrowser());
    client.push(await viaClient());
    cli.push(await viaCli());
  }
  const row = (name, xs) => console.log(`  ${name.padEnd(52)} p50 ${f1(pct(xs, 0.5))} ms  p90 ${f1(pct(xs, 0.9))} ms`);
  console.log(`run → first output byte of a Python hello world (${RUNS} runs each, interleaved):`);
  row('browser (Run → first byte in the page)', browser);
  row("Node client, codearena run's messages (connect → first byte)", client);
  row('codearena run process (spawn → first byte on stdout)', cli);
  console.log(`browser path minus the Node client at p50: ${f1(pct(browser, 0.5) - pct(client, 0.5))} ms`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  await up.stop();
}
