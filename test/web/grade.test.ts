import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { browserSuite, screenshot } from '../helpers/browser.js';

// The grading page (/grade) in Debian's chromium against a `codearena up` cluster (auth on: the
// token is typed into the suite.page): a Kattis zip and a folder of .in/.out pairs become problems, the
// tests are listed, one C solution is judged test by test, a class of 5 fills the student × test
// grid, the CSV downloads with the same verdicts; a bad upload is a sentence; the Gateway killed
// mid-class, the grid finishes from the standby.

const suite = browserSuite(['--workers', '1', '--auth']);
const skip = suite.skip;
const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-grade-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SUM = '#include <stdio.h>\nint main(void){long a,b;if(scanf("%ld %ld",&a,&b)!=2)return 1;printf("%ld\\n",a+b);return 0;}\n';
const CLASS: Record<string, { file: string; source: string; verdict: string; cells: string[]; score: number }> = {
  alice: { file: 'sum.c', source: SUM, verdict: 'AC', cells: ['AC', 'AC', 'AC'], score: 2 },
  // int overflows on the big test only.
  bob: { file: 'main.c', source: '#include <stdio.h>\nint main(){int a,b;scanf("%d%d",&a,&b);printf("%d\\n",a+b);}\n', verdict: 'WA', cells: ['AC', 'WA', 'AC'], score: 1 },
  carol: { file: 'sum.c', source: '#include <stdio.h>\nint main(){int a,b;scanf("%d%d",&a,&b);printf("%d\\n",a-b);}\n', verdict: 'WA', cells: ['WA', 'WA', 'WA'], score: 0 },
  // Only the sample's answer, printed whatever the input: right on the sample, wrong on the rest.
  dave: { file: 'sum.c', source: '#include <stdio.h>\nint main(){puts("3");}\n', verdict: 'WA', cells: ['AC', 'WA', 'WA'], score: 0 },
  erin: { file: 'sum.c', source: 'int main( { return 0 }\n', verdict: 'CE', cells: ['CE', 'CE', 'CE'], score: 0 },
};

function writeZip(name: string, files: Record<string, string>): string {
  const file = path.join(dir, name);
  writeFileSync(file, zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)]))));
  return file;
}

const messageText = async () => ((await suite.page.isHidden('#message')) ? '' : ((await suite.page.textContent('#message')) ?? ''));

describe('grading page', { skip: skip ?? false }, () => {
  test('without a token it says so in a sentence; with it the languages and problems load', async () => {
    await suite.page.goto(`${suite.cluster.url}/grade`);
    await suite.page.waitForSelector('#message:not([hidden])');
    assert.match(await messageText(), /^The Gateway needs a valid access token: paste the one your lab gave you into the Token field\.$/);
    await suite.page.fill('#token', suite.cluster.token as string);
    await suite.page.press('#token', 'Enter');
    await suite.page.waitForSelector('#lang option[value="c"]', { state: 'attached', timeout: 30_000 });
    // The languages come first; the message goes once the problems and the Gateway list answered too.
    await suite.page.waitForSelector('#message', { state: 'hidden', timeout: 30_000 });
    assert.equal(await messageText(), '');
    assert.ok(await suite.page.isHidden('#token-box'), 'the token field goes once the token works');
  });

  test('a Kattis zip becomes a problem whose tests are listed (samples with their data, secret ones hidden)', async () => {
    const zip = writeZip('sum.zip', {
      'sum/problem.yaml': 'name: Sum of two\nlimits:\n  time_limit: 2\n',
      'sum/data/sample/1.in': '1 2\n',
      'sum/data/sample/1.ans': '3\n',
      'sum/data/secret/big.in': '1000000000 2000000000\n',
      'sum/data/secret/big.ans': '3000000000\n',
      'sum/data/secret/neg.in': '-5 2\n',
      'sum/data/secret/neg.ans': '-3\n',
    });
    await suite.page.setInputFiles('#problem-zip', zip);
    await suite.page.waitForSelector('#tests tr[data-test]', { timeout: 30_000 });
    const rows = await suite.page.$$eval('#tests tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td as HTMLElement).innerText.trim())));
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((r) => r[0]), ['sample/1', 'secret/big', 'secret/neg']);
    assert.equal(rows[0]?.[1], 'sample');
    assert.deepEqual(rows[0]?.slice(4), ['1 2', '3']);
    assert.deepEqual(rows.slice(1).map((r) => [r[1], r[4], r[5]]), [['secret', 'hidden', 'hidden'], ['secret', 'hidden', 'hidden']]);
    assert.match(await suite.page.textContent('#problem-info') ?? '', /3 tests \(1 sample\)/);
    assert.match(await messageText(), /^Problem ".+" created with 3 tests\.$/);
  });

  test('a folder of .in/.out pairs is zipped in the page and becomes a problem; a bad zip is a sentence', async () => {
    const folder = path.join(dir, 'echo');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'a.in'), 'x\n');
    writeFileSync(path.join(folder, 'a.out'), 'x\n');
    writeFileSync(path.join(folder, 'b.in'), 'y\n');
    writeFileSync(path.join(folder, 'b.out'), 'y\n');
    await suite.page.setInputFiles('#problem-folder', folder);
    await suite.page.waitForFunction(() => /^Problem "echo" created with 2 tests\.$/.test(document.getElementById('message')?.textContent ?? ''), undefined, { timeout: 30_000 });
    assert.equal(await suite.page.$$eval('#tests tbody tr', (trs) => trs.length), 2);

    await suite.page.setInputFiles('#problem-zip', writeZip('junk.zip', { 'notes.txt': 'nothing to judge here\n' }));
    // Wait for the upload's own answer: right after setInputFiles the message may still be the
    // previous problem's (then "Uploading junk…"), so "not Uploading" alone was read too early.
    await suite.page
      .waitForFunction(() => /^The /.test(document.getElementById('message')?.textContent ?? ''), undefined, { timeout: 30_000 })
      .catch(() => undefined); // the assertion below names what the page said instead
    const sentence = await messageText();
    console.log(`# a zip without tests: ${sentence}`);
    assert.match(sentence, /^The (problem or class files are not usable|Gateway refused the request): .+\.$/);
    assert.doesNotMatch(sentence, /object Object|Error:|at .*\.js/);
  });

  test('one correct C solution: every test accepted, shown as it comes', async () => {
    const sumId = await suite.page.$eval('#problem', (s) => [...(s as HTMLSelectElement).options].find((o) => o.text.startsWith('Sum of two'))?.value ?? '');
    assert.ok(sumId, 'the Kattis problem is in the list');
    await suite.page.selectOption('#problem', sumId);
    await suite.page.waitForFunction(() => document.querySelectorAll('#tests tbody tr').length === 3);
    await suite.page.selectOption('#lang', 'c');
    await suite.page.fill('#source', SUM);
    await suite.page.click('#submit');
    await suite.page.waitForSelector('#sub-status[data-state="done"]', { timeout: 60_000 });
    const verdicts = await suite.page.$$eval('#sub-tests tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-test'), tr.getAttribute('data-verdict')]));
    assert.deepEqual(verdicts, [['sample/1', 'AC'], ['secret/big', 'AC'], ['secret/neg', 'AC']]);
    assert.match(await suite.page.textContent('#sub-status') ?? '', /^Done: AC · accepted · score 2\/2$/);
  });

  test('the stream socket failing: the page polls and still shows every verdict (here a wrong answer with its line)', async () => {
    let refused = 0;
    await suite.page.routeWebSocket(/\/api\/v1\/submissions\/[^/]+\/stream/, (ws) => {
      refused++;
      ws.close({ code: 1011, reason: 'refused by the test' });
    });
    try {
      await suite.page.fill('#source', CLASS.carol!.source);
      await suite.page.click('#submit');
      // The previous submission left the status at "done": wait for this one's end, not that one's.
      await suite.page.waitForFunction(() => /^Done: WA/.test(document.querySelector('#sub-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
      assert.ok(refused >= 1, 'the page tried the socket first');
      const rows = await suite.page.$$eval('#sub-tests tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-verdict'), (tr.querySelector('td.detail') as HTMLElement).innerText]));
      assert.deepEqual(rows.map((r) => r[0]), ['WA', 'WA', 'WA']);
      assert.match(rows[0]?.[1] ?? '', /^line 1: expected "3", got "-1"$/);
      assert.match(rows[1]?.[1] ?? '', /^line 1$/, 'a secret test shows the line only');
      assert.match(await suite.page.textContent('#sub-status') ?? '', /^Done: WA · wrong answer · score 0\/2$/);
    } finally {
      await suite.page.unrouteAll();
    }
  });

  test('a class of 5 fills the grid with the right verdicts and the CSV downloads with them', async () => {
    // A student without a source file: the whole upload is refused, in a sentence naming them.
    await suite.page.setInputFiles('#class-zip', writeZip('bad-class.zip', { 'class/alice/sum.c': SUM, 'class/zed/notes.txt': 'no code\n' }));
    await suite.page.click('#grade');
    await suite.page.waitForSelector('#message:not([hidden])', { timeout: 30_000 });
    const refusal = await messageText();
    console.log(`# a class with a student without code: ${refusal}`);
    assert.match(refusal, /^The problem or class files are not usable: zed: no source file.*\.$/);

    const files: Record<string, string> = {};
    for (const [student, s] of Object.entries(CLASS)) files[`class/${student}/${s.file}`] = s.source;
    await suite.page.setInputFiles('#class-zip', writeZip('class.zip', files));
    await suite.page.click('#grade');
    await suite.page.waitForSelector('#grid tr[data-student]', { timeout: 30_000 });
    await suite.page.waitForSelector('#progress[data-state="done"]', { timeout: 90_000 });
    const grid = await suite.page.$$eval('#grid tbody tr', (trs) =>
      trs.map((tr) => ({ student: tr.getAttribute('data-student'), verdict: tr.getAttribute('data-verdict'), cells: [...tr.querySelectorAll('td.cell')].map((td) => td.getAttribute('data-cell')) })),
    );
    assert.deepEqual(grid, Object.entries(CLASS).map(([student, s]) => ({ student, verdict: s.verdict, cells: s.cells })));
    assert.match(await suite.page.textContent('#progress-text') ?? '', /^Done: 5\/5 students · 15\/15 tests$/);
    await screenshot(suite.page, 'grade');

    const [download] = await Promise.all([suite.page.waitForEvent('download', { timeout: 30_000 }), suite.page.click('#csv')]);
    const file = path.join(dir, 'results.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/).map((l) => l.split(','));
    assert.deepEqual(lines[0], ['student', 'submission_id', 'verdict', 'sample/1', 'secret/big', 'secret/neg', 'score', 'max_score']);
    const byStudent = new Map(lines.slice(1).map((r) => [r[0], r]));
    assert.equal(byStudent.size, 5);
    for (const [student, s] of Object.entries(CLASS)) {
      const r = byStudent.get(student);
      assert.ok(r, `${student} has a row`);
      assert.deepEqual(r.slice(3, 6), s.cells, `${student}'s tests in the CSV`);
      assert.deepEqual(r.slice(6), [String(s.score), '2'], `${student}'s score`);
    }
    assert.deepEqual(suite.browser.pageErrors, []);
  });

  test('the Gateway SIGKILLed mid-class: the grid finishes from the standby (the same batch) and the CSV downloads from there', async () => {
    // The standby has the problem on its disk before the class starts (it copies every 2 s).
    const sumId = await suite.page.$eval('#problem', (s) => (s as HTMLSelectElement).value);
    const copied = () => ['mon-1', 'mon-2'].some((m) => existsSync(path.join(suite.cluster.logDir, 'state', `${m}-gateway`, 'problems', `${sumId}.json`)));
    for (let i = 0; i < 300 && !copied(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(copied(), 'the standby copied the problem');
    // Slow enough (0.3 s a test) to kill the Gateway mid-class: 6 students x 3 tests.
    const slow = (body: string) => `#include <stdio.h>\n#include <unistd.h>\nint main(void){long a,b;if(scanf("%ld %ld",&a,&b)!=2)return 1;usleep(300000);${body}return 0;}\n`;
    const want: Record<string, string[]> = {};
    const files: Record<string, string> = {};
    for (let i = 0; i < 6; i++) {
      const ok = i % 2 === 0;
      files[`class/p${i}/sum.c`] = `// ${i}\n${slow(ok ? 'printf("%ld\\n",a+b);' : 'printf("%ld\\n",a-b);')}`;
      want[`p${i}`] = ok ? ['AC', 'AC', 'AC'] : ['WA', 'WA', 'WA'];
    }
    await suite.page.setInputFiles('#class-zip', writeZip('slow-class.zip', files));
    await suite.page.click('#grade');
    await suite.page.waitForFunction(() => {
      const m = /· (\d+)\/18 tests/.exec(document.getElementById('progress-text')?.textContent ?? '');
      return m !== null && Number(m[1]) >= 4;
    }, undefined, { timeout: 90_000 });
    const nodes = (await (await fetch(`${suite.cluster.url}/api/v1/cluster`, { headers: suite.cluster.headers() })).json()) as { nodes: Array<{ name: string; pid: number | null }> };
    const pid = nodes.nodes.find((n) => n.name === 'gw')?.pid;
    assert.ok(pid, 'the Gateway has a pid');
    process.kill(pid, 'SIGKILL');
    console.log(`# killed the Gateway at ${await suite.page.textContent('#progress-text')}`);
    await suite.page.waitForSelector('#progress[data-state="done"]', { timeout: 120_000 });
    const grid = await suite.page.$$eval('#grid tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-student'), [...tr.querySelectorAll('td.cell')].map((td) => td.getAttribute('data-cell'))]));
    assert.deepEqual(grid, Object.entries(want));
    assert.equal(await suite.page.textContent('#progress-text'), `Done: 6/6 students · 18/18 tests · from ${new URL(suite.cluster.standbyUrl).host}`);
    const href = await suite.page.$eval('#csv', (a) => (a as HTMLAnchorElement).href);
    assert.ok(href.startsWith(`${suite.cluster.standbyUrl}/api/v1/batches/`), `the CSV comes from the standby: ${href}`);
    await screenshot(suite.page, 'grade-failover');
    const [download] = await Promise.all([suite.page.waitForEvent('download', { timeout: 30_000 }), suite.page.click('#csv')]);
    const file = path.join(dir, 'results-failover.csv');
    await download.saveAs(file);
    const rows = readFileSync(file, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(','));
    assert.deepEqual(rows.map((r) => [r[0], r.slice(3, 6)]), Object.entries(want));
    assert.deepEqual(suite.browser.pageErrors, []);
  });
});
