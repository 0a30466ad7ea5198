import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserMissing, startCluster, openStudentPage, screenshot, TestBrowser } from '../helpers/browser.js';
import type { UpCluster } from '../helpers/up.js';

// The student page (/) in Debian's chromium against a `codearena up` cluster: a C program typed
// into the editor, run, answered through the terminal; a compile error marked on its line; Stop;
// API errors (413, 429) shown as sentences.

const skip = browserMissing();
let cluster: UpCluster | null = null;
let browser: TestBrowser | null = null;
let page: Page;

before(async () => {
  if (skip) return;
  cluster = await startCluster(['--workers', '1', '--queue-max', '1']);
  browser = await TestBrowser.launch();
  page = await browser.page();
});
after(async () => {
  await browser?.close();
  await cluster?.stopCleanly();
});

interface PageHooks {
  source: string;
  setSource(text: string): void;
  terminalText: string;
  session: { id: string | null; gateway: string; phase: string } | null;
}

const hooks = () => page.evaluate(() => {
  const c = (window as unknown as { codearena: PageHooks }).codearena;
  return { source: c.source, terminal: c.terminalText };
});

async function waitForTerminal(text: string, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction((t) => (window as unknown as { codearena: PageHooks }).codearena.terminalText.includes(t), text, { timeout: timeoutMs });
}

async function waitForStatus(re: RegExp, timeoutMs = 60_000): Promise<string> {
  await page.waitForFunction((src) => new RegExp(src).test(document.getElementById('status')?.textContent ?? ''), re.source, { timeout: timeoutMs });
  return (await page.textContent('#status')) ?? '';
}

async function setSource(text: string): Promise<void> {
  await page.evaluate((t) => (window as unknown as { codearena: PageHooks }).codearena.setSource(t), text);
}

/** Typed on one line per statement block: the editor closes brackets and quotes as they are typed. */
const C_TYPED = [
  '#include <stdio.h>',
  'int main(void) { int a = 0, b = 0; printf("first number? "); fflush(stdout); if (scanf("%d", &a) != 1) return 1; printf("second number? "); fflush(stdout); if (scanf("%d", &b) != 1) return 1; printf("sum %d\\n", a + b); return 0; }',
];

describe('student page', { skip: skip ?? false }, () => {
  test('the page loads with the languages and their versions, from the Gateway alone', async () => {
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await openStudentPage(page, cluster!.url);
    const options = await page.$$eval('#lang option', (os) => os.map((o) => `${(o as HTMLOptionElement).value}: ${o.textContent}`));
    assert.equal(options.length, 5, options.join('\n'));
    assert.ok(options.some((o) => /^c: C \(gcc\) — gcc \d/.test(o)), options.join('\n'));
    assert.ok(requests.length > 0);
    for (const r of requests) assert.ok(r.startsWith(cluster!.url), `request outside the Gateway: ${r}`);
  });

  test('a C program typed in the editor prompts, takes the numbers typed in the terminal and prints the sum', async () => {
    await page.selectOption('#lang', 'c');
    await page.click('.cm-content');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.type(`${C_TYPED[0]}\n`);
    await page.keyboard.type(C_TYPED[1] as string);
    const { source } = await hooks();
    assert.equal(source, C_TYPED.join('\n'), 'the editor holds exactly what was typed');
    await page.keyboard.press('Control+Enter');
    // The prompt has no newline: it must show before any input is given.
    await waitForTerminal('first number? ');
    await page.click('#terminal');
    await page.keyboard.type('3');
    await page.keyboard.press('Enter');
    await waitForTerminal('second number? ');
    await page.keyboard.type('4');
    await page.keyboard.press('Enter');
    const status = await waitForStatus(/status \w+/);
    assert.match(status, /status ok · exit code 0 · CPU \d+ ms · wall \d+ ms · memory [\d.]+ (KB|MB)/);
    const { terminal } = await hooks();
    assert.ok(terminal.startsWith('first number? 3\nsecond number? 4\nsum 7\n'), JSON.stringify(terminal));
    await screenshot(page, 'student-run');
  });

  test('the source is kept per language across a reload', async () => {
    await page.reload();
    await page.waitForSelector('#run:not([disabled])', { timeout: 30_000 });
    assert.equal(await page.inputValue('#lang'), 'c');
    assert.equal((await hooks()).source, C_TYPED.join('\n'));
  });

  test('a compile error marks its line in the editor', async () => {
    await setSource('#include <stdio.h>\nint main(void) {\n    printf("x\\n")\n    return 0;\n}\n');
    await page.click('#run');
    await waitForStatus(/status compile_error/);
    await page.waitForSelector('.cm-error-line');
    const marked = await page.$$eval('.cm-line', (ls) => ls.map((l, i) => (l.classList.contains('cm-error-line') ? i + 1 : 0)).filter((n) => n > 0));
    // gcc reports the missing ';' on line 3 (or at the start of line 4, where it noticed it).
    assert.ok(marked.length > 0 && marked.every((n) => n === 3 || n === 4), `marked lines ${marked.join(',')}`);
    assert.match((await page.textContent('#message')) ?? '', /did not compile/);
    await screenshot(page, 'student-compile-error');
  });

  test('Stop kills an endless loop', async () => {
    await setSource('#include <stdio.h>\nint main(void) {\n    printf("looping\\n");\n    fflush(stdout);\n    for (;;) {}\n}\n');
    await page.click('#run');
    await waitForTerminal('looping\n');
    assert.equal(await page.isEnabled('#stop'), true);
    // Meanwhile a second tab may not start another run (`up --queue-max 1`: one run at a time): a 429, as a sentence.
    const other = await browser!.page();
    await openStudentPage(other, cluster!.url);
    await other.click('#run');
    await other.waitForSelector('#message:not([hidden])', { timeout: 30_000 });
    assert.equal(await other.textContent('#message'), 'You already have as many programs running as you are allowed: stop one or wait for it to finish.');
    await other.close();
    await page.click('#stop');
    const status = await waitForStatus(/status \w+/, 30_000);
    assert.match(status, /status killed/);
    assert.equal(await page.isEnabled('#run'), true);
    await screenshot(page, 'student-stopped');
  });

  test('Ctrl-D in the terminal: a partial line goes as it is, then the input ends', async () => {
    await page.selectOption('#lang', 'python');
    await setSource('import sys\nprint("ready", flush=True)\ndata = sys.stdin.read()\nprint(f"got {len(data)} characters: {data!r}")\n');
    await page.click('#run');
    await waitForTerminal('ready\n');
    await page.click('#terminal');
    await page.keyboard.type('ab');
    await page.keyboard.press('Enter');
    await page.keyboard.type('cd');
    // As in a terminal: the first Ctrl-D hands over "cd", the second (on an empty line) ends the input.
    await page.keyboard.press('Control+D');
    await page.keyboard.press('Control+D');
    await waitForStatus(/status ok/);
    assert.match((await hooks()).terminal, /got 5 characters: 'ab\\ncd'\n/);
  });

  test('a Python traceback marks the line that failed', async () => {
    await page.selectOption('#lang', 'python');
    await setSource('def f():\n    return undefined_name\n\nprint("start")\nf()\n');
    await page.click('#run');
    await waitForStatus(/status runtime_error/);
    await page.waitForSelector('.cm-error-line');
    const marked = await page.$$eval('.cm-line', (ls) => ls.map((l, i) => (l.classList.contains('cm-error-line') ? i + 1 : 0)).filter((n) => n > 0));
    assert.deepEqual(marked, [2]);
  });

  test('Java: the starter program has two files in tabs; both are compiled and run', async () => {
    await page.selectOption('#lang', 'java');
    await page.waitForFunction(() => document.querySelectorAll('#tabs .tab[role="tab"]').length === 2);
    assert.deepEqual(await page.$$eval('#tabs .tab[role="tab"]', (ts) => ts.map((t) => t.firstChild?.textContent)), ['Main.java', 'Greeting.java']);
    await page.click('#tabs .tab:nth-child(2)');
    assert.match((await hooks()).source, /class Greeting/);
    await page.keyboard.press('Control+Enter');
    await waitForTerminal('What is your name? ', 180_000); // javac and a JVM: slow on a busy machine
    await page.click('#terminal');
    await page.keyboard.type('Ada');
    await page.keyboard.press('Enter');
    await waitForStatus(/status ok/, 120_000);
    assert.match((await hooks()).terminal, /What is your name\? Ada\nHello, Ada!\n/);
    await screenshot(page, 'student-java');
    await page.selectOption('#lang', 'c');
  });

  test('an oversized program gets a sentence, not a stack trace', async () => {
    await setSource(`// ${'x'.repeat(1_100_000)}\nint main(void) { return 0; }\n`);
    await page.click('#run');
    await page.waitForSelector('#message:not([hidden])');
    const text = (await page.textContent('#message')) ?? '';
    assert.match(text, /^The program is too large to run \(source is \d+ bytes, over the 1048576-byte cap\)\.$/);
    assert.doesNotMatch(text, /object Object|Error:|at \w+ \(/);
    assert.match((await page.textContent('#status')) ?? '', /Not run/);
    await setSource('int main(void) { return 0; }\n');
    await screenshot(page, 'student-error');
    assert.deepEqual(browser!.pageErrors, []);
  });
});
