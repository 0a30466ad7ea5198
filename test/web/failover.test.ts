import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { browserSuite, openStudentPage, screenshot } from '../helpers/browser.js';

// The student page across a Gateway failover: the Gateway process is SIGKILLed while a Python
// program prints a line every 100 ms; the page resumes the run on the standby (a Monitor serving
// on the other port, which the page learnt from /api/v1/gateways) and the terminal holds every
// line exactly once, in order.

const LINES = 80;
const PROGRAM = `import time\nfor i in range(1, ${LINES + 1}):\n    print(f"line {i}", flush=True)\n    time.sleep(0.1)\n`;

const suite = browserSuite(['--workers', '1']);
const skip = suite.skip;

interface Hooks {
  setSource(t: string): void;
  terminalText: string;
  session: { gateway: string; phase: string } | null;
  gateways: string[];
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

describe('student page across a Gateway failover', { skip: skip ?? false }, () => {
  test('SIGKILL of the Gateway mid-run: the page carries on at the standby, no line lost or repeated', async () => {
    await openStudentPage(suite.page, suite.cluster.url);
    assert.deepEqual(await suite.page.evaluate(() => (window as unknown as { codearena: Hooks }).codearena.gateways), [suite.cluster.url, suite.cluster.standbyUrl]);
    // A standby must be designated and hear the Gateway before the kill (its log says so).
    const logs = () => readLog(path.join(suite.cluster.logDir, 'mon-1.log')) + readLog(path.join(suite.cluster.logDir, 'mon-2.log'));
    for (let i = 0; i < 200 && !/"event":"gateway_standby","acting":true/.test(logs()); i++) await new Promise((r) => setTimeout(r, 100));
    const view = (await (await fetch(`${suite.cluster.url}/api/v1/cluster`)).json()) as { nodes: Array<{ name: string; pid: number | null }> };
    const pid = view.nodes.find((n) => n.name === 'gw')?.pid;
    assert.ok(pid, 'the Gateway has a pid');

    await suite.page.selectOption('#lang', 'python');
    await suite.page.evaluate((src) => (window as unknown as { codearena: Hooks }).codearena.setSource(src), PROGRAM);
    await suite.page.click('#run');
    await suite.page.waitForFunction(() => (window as unknown as { codearena: Hooks }).codearena.terminalText.includes('line 10\n'), undefined, { timeout: 60_000 });
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();

    await suite.page.waitForFunction(() => /status \w+/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    console.log(`# run finished ${Date.now() - killedAt} ms after the Gateway's SIGKILL`);
    const status = (await suite.page.textContent('#status')) ?? '';
    assert.match(status, /^status ok · exit code 0 .* · resumed on 127\.0\.0\.1:\d+ after the Gateway changed$/);
    const text = await suite.page.evaluate(() => (window as unknown as { codearena: Hooks }).codearena.terminalText);
    const printed = text.split('\n').filter((l) => l.startsWith('line '));
    assert.deepEqual(printed, Array.from({ length: LINES }, (_, i) => `line ${i + 1}`), 'every line exactly once, in order');
    const finishedOn = await suite.page.evaluate(() => document.getElementById('status')?.getAttribute('data-gateway'));
    assert.equal(finishedOn, suite.cluster.standbyUrl, 'the run was finished through the standby');
    // The standby serves the pages too (it builds its Gateway with the same server builder).
    for (const p of ['/', '/lab']) {
      const r = await fetch(`${suite.cluster.standbyUrl}${p}`);
      assert.equal(r.status, 200, `${p} on the standby`);
      assert.match(await r.text(), /<script type="module" src="\/assets\//);
    }
    await screenshot(suite.page, 'student-failover');
    assert.deepEqual(suite.browser.pageErrors, []);
  });
});
