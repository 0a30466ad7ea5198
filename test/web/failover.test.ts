import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserMissing, startCluster, openStudentPage, screenshot, TestBrowser } from '../helpers/browser.js';
import type { UpCluster } from '../helpers/up.js';

// The student page across a Gateway failover: the Gateway process is SIGKILLed while a Python
// program prints a line every 100 ms; the page resumes the run on the standby (a Monitor serving
// on the other port, which the page learnt from /api/v1/gateways) and the terminal holds every
// line exactly once, in order.

const LINES = 80;
const PROGRAM = `import time\nfor i in range(1, ${LINES + 1}):\n    print(f"line {i}", flush=True)\n    time.sleep(0.1)\n`;

const skip = browserMissing();
let cluster: UpCluster | null = null;
let browser: TestBrowser | null = null;
let page: Page;

before(async () => {
  if (skip) return;
  cluster = await startCluster(['--workers', '1']);
  browser = await TestBrowser.launch();
  page = await browser.page();
});
after(async () => {
  await browser?.close();
  await cluster?.stopCleanly();
});

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
    await openStudentPage(page, cluster!.url);
    assert.deepEqual(await page.evaluate(() => (window as unknown as { codearena: Hooks }).codearena.gateways), [cluster!.url, cluster!.standbyUrl]);
    // A standby must be designated and hear the Gateway before the kill (its log says so).
    const logs = () => readLog(path.join(cluster!.logDir, 'mon-1.log')) + readLog(path.join(cluster!.logDir, 'mon-2.log'));
    for (let i = 0; i < 200 && !/"event":"gateway_standby","acting":true/.test(logs()); i++) await new Promise((r) => setTimeout(r, 100));
    const view = (await (await fetch(`${cluster!.url}/api/v1/cluster`)).json()) as { nodes: Array<{ name: string; pid: number | null }> };
    const pid = view.nodes.find((n) => n.name === 'gw')?.pid;
    assert.ok(pid, 'the Gateway has a pid');

    await page.selectOption('#lang', 'python');
    await page.evaluate((src) => (window as unknown as { codearena: Hooks }).codearena.setSource(src), PROGRAM);
    await page.click('#run');
    await page.waitForFunction(() => (window as unknown as { codearena: Hooks }).codearena.terminalText.includes('line 10\n'), undefined, { timeout: 60_000 });
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();

    await page.waitForFunction(() => /status \w+/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    console.log(`# run finished ${Date.now() - killedAt} ms after the Gateway's SIGKILL`);
    const status = (await page.textContent('#status')) ?? '';
    assert.match(status, /^status ok · exit code 0 .* · resumed on 127\.0\.0\.1:\d+ after the Gateway changed$/);
    const text = await page.evaluate(() => (window as unknown as { codearena: Hooks }).codearena.terminalText);
    const printed = text.split('\n').filter((l) => l.startsWith('line '));
    assert.deepEqual(printed, Array.from({ length: LINES }, (_, i) => `line ${i + 1}`), 'every line exactly once, in order');
    const finishedOn = await page.evaluate(() => document.getElementById('status')?.getAttribute('data-gateway'));
    assert.equal(finishedOn, cluster!.standbyUrl, 'the run was finished through the standby');
    // The standby serves the pages too (it builds its Gateway with the same server builder).
    for (const p of ['/', '/lab']) {
      const r = await fetch(`${cluster!.standbyUrl}${p}`);
      assert.equal(r.status, 200, `${p} on the standby`);
      assert.match(await r.text(), /<script type="module" src="\/assets\//);
    }
    await screenshot(page, 'student-failover');
    assert.deepEqual(browser!.pageErrors, []);
  });
});
