import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { browserSuite, openStudentPage, screenshot } from '../helpers/browser.js';
import { UpCluster } from '../helpers/up.js';

// The lab dashboard (/lab) in Debian's chromium against a `codearena up` cluster (auth on: the
// token is typed into the suite.page): every node is a tile, the charts fill from the Gateway's metrics,
// a Worker host switched off (its agent and its Worker processes SIGKILLed) turns dead, and the
// feed moves to the standby when the Gateway is killed.

/** heartbeat 500 ms × missedLimit 5 to suspect, then the Monitors' dead verdict: well inside this. */
const DEAD_WITHIN_MS = 5_000;

const suite = browserSuite(['--workers', '1', '--auth']);
const skip = suite.skip;

interface NodeRow {
  name: string;
  role: string;
  pid: number | null;
  state: string;
}

/** The cluster view from whichever Gateway serves (on a very busy machine the standby may have taken over already). */
async function clusterView(): Promise<{ nodes: NodeRow[] }> {
  let last: unknown = null;
  for (const url of [suite.cluster.url, suite.cluster.standbyUrl]) {
    try {
      return (await (await fetch(`${url}/api/v1/cluster`, { headers: suite.cluster.headers() })).json()) as { nodes: NodeRow[] };
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Every node on the page: a PC's tile, or a Worker process inside its host's tile. */
const tiles = () => suite.page.$$eval('[data-node]', (ts) => ts.map((t) => ({ name: t.getAttribute('data-node'), state: t.getAttribute('data-state'), role: t.getAttribute('data-role'), text: (t as HTMLElement).innerText })));

describe('lab dashboard', { skip: skip ?? false }, () => {
  test('without a token it says so in a sentence; with the token it shows every node of the cluster', async () => {
    await suite.page.goto(`${suite.cluster.url}/lab`);
    await suite.page.waitForSelector('#message:not([hidden])');
    assert.match((await suite.page.textContent('#message')) ?? '', /^The Gateway needs a valid access token: paste the one your lab gave you into the Token field\.$/);
    await suite.page.fill('#token', suite.cluster.token as string);
    await suite.page.press('#token', 'Enter');
    // Every node the Gateway knows, once every one has reported (7 nodes and a Worker process in `up --workers 1`).
    await suite.page.waitForFunction(() => document.querySelectorAll('[data-node][data-state="alive"]').length >= 8, undefined, { timeout: 30_000 });
    const view = await clusterView();
    const shown = await tiles();
    assert.deepEqual(shown.map((t) => t.name).sort(), view.nodes.map((n) => n.name).sort());
    for (const n of view.nodes) {
      const t = shown.find((x) => x.name === n.name);
      assert.equal(t?.role, n.role, `${n.name}'s tile is in its role's group`);
      assert.ok((t?.text ?? '').toLowerCase().includes(t?.state ?? '?'), `${n.name}: the state is written, not only coloured: ${t?.text}`);
    }
    assert.match((await suite.page.textContent('#leader')) ?? '', /^Monitor leader: mon-\d \(term \d+\)$/);
    assert.match((await suite.page.textContent('#gateway')) ?? '', /^Gateway epoch \d+ · standby (mon-\d|none yet)$/);
    await screenshot(suite.page, 'lab-alive');
  });

  test('runs started show on the charts', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${suite.cluster.url}/api/v1/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...suite.cluster.headers() },
        body: JSON.stringify({ language: 'python', source: 'print(1)\n', wait: true }),
      });
      assert.equal(r.status, 200);
    }
    // The samples come once a second; the page adds each to its charts.
    await suite.page.waitForFunction(() => (window as unknown as { codearena: { samples: number } }).codearena.samples >= 3, undefined, { timeout: 10_000 });
    const points = await suite.page.$$eval('.chart canvas', (cs) => cs.length);
    assert.equal(points, 3);
  });

  test('the student page uses the token typed on the dashboard (kept in the browser)', async () => {
    const student = await suite.browser.page();
    await openStudentPage(student, suite.cluster.url);
    assert.equal(await student.inputValue('#token'), suite.cluster.token);
    await student.selectOption('#lang', 'python');
    await student.evaluate(() => (window as unknown as { codearena: { setSource(t: string): void } }).codearena.setSource('print("with a token")\n'));
    await student.click('#run');
    await student.waitForFunction(() => /status \w+/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    assert.match((await student.textContent('#status')) ?? '', /^status ok/);
    await student.close();
  });

  test('a Worker host switched off turns dead on the page within 5 s', async () => {
    const view = await clusterView();
    const host = view.nodes.find((n) => n.role === 'worker' && !/-w\d+$/.test(n.name));
    assert.ok(host?.pid, 'the Worker host has a pid');
    const workers = execFileSync('pgrep', ['-f', '--', `worker-proc --config-stdin --host ${host.name} --index [0-9]+ --state-dir ${suite.cluster.logDir}/state`], { encoding: 'utf8' }).trim().split('\n').map(Number);
    const killedAt = Date.now();
    for (const pid of [host.pid, ...workers]) process.kill(pid, 'SIGKILL');
    await suite.page.waitForSelector(`.tile[data-node="${host.name}"][data-state="dead"]`, { timeout: DEAD_WITHIN_MS + 5_000 });
    const tookMs = Date.now() - killedAt;
    console.log(`# ${host.name} shown dead on the dashboard ${tookMs} ms after SIGKILL`);
    assert.ok(tookMs <= DEAD_WITHIN_MS, `shown dead after ${tookMs} ms`);
    assert.match((await tiles()).find((t) => t.name === host.name)?.text ?? '', /DEAD/);
    await screenshot(suite.page, 'lab');
  });

  test('the Gateway killed: the dashboard follows the feed to the standby (another origin) and shows the new epoch', async (t) => {
    if (!(await UpCluster.healthy(suite.cluster.url))) {
      t.skip('the standby took over already (the machine was too busy for the Gateway\'s heartbeats): nothing left to fail over to');
      return;
    }
    const logs = () => readLog(path.join(suite.cluster.logDir, 'mon-1.log')) + readLog(path.join(suite.cluster.logDir, 'mon-2.log'));
    for (let i = 0; i < 200 && !/"event":"gateway_standby","acting":true/.test(logs()); i++) await new Promise((r) => setTimeout(r, 100));
    const gw = (await clusterView()).nodes.find((n) => n.role === 'gateway');
    assert.ok(gw?.pid, 'the Gateway has a pid');
    process.kill(gw.pid, 'SIGKILL');
    const standbyHost = new URL(suite.cluster.standbyUrl).host;
    await suite.page.waitForFunction((host) => document.getElementById('live')?.textContent === `live · ${host}`, standbyHost, { timeout: 30_000 });
    await suite.page.waitForFunction(() => /^Gateway epoch [2-9]/.test(document.getElementById('gateway')?.textContent ?? ''), undefined, { timeout: 10_000 });
    await screenshot(suite.page, 'lab-after-failover');
    assert.deepEqual(suite.browser.pageErrors, []);
  });
});

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
