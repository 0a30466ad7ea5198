import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { browserSuite, openStudentPage, screenshot } from '../helpers/browser.js';

// The student page (/) in Debian's chromium against a `codearena up` cluster: a C program typed
// into the editor, run, answered through the terminal; a compile error marked on its line; Stop;
// API errors (413, 429) shown as sentences.

const suite = browserSuite(['--workers', '1', '--queue-max', '1']);
const skip = suite.skip;

interface PageHooks {
  source: string;
  setSource(text: string): void;
  terminalText: string;
  session: { id: string | null; gateway: string; phase: string } | null;
}

const hooks = () => suite.page.evaluate(() => {
  const c = (window as unknown as { codearena: PageHooks }).codearena;
  return { source: c.source, terminal: c.terminalText };
});

async function waitForTerminal(text: string, timeoutMs = 60_000): Promise<void> {
  await suite.page.waitForFunction((t) => (window as unknown as { codearena: PageHooks }).codearena.terminalText.includes(t), text, { timeout: timeoutMs });
}

async function waitForStatus(re: RegExp, timeoutMs = 60_000): Promise<string> {
  await suite.page.waitForFunction((src) => new RegExp(src).test(document.getElementById('status')?.textContent ?? ''), re.source, { timeout: timeoutMs });
  return (await suite.page.textContent('#status')) ?? '';
}

async function setSource(text: string): Promise<void> {
  await suite.page.evaluate((t) => (window as unknown as { codearena: PageHooks }).codearena.setSource(t), text);
}

/** Typed on one line per statement block: the editor closes brackets and quotes as they are typed. */
const C_TYPED = [
  '#include <stdio.h>',
  'int main(void) { int a = 0, b = 0; printf("first number? "); fflush(stdout); if (scanf("%d", &a) != 1) return 1; printf("second number? "); fflush(stdout); if (scanf("%d", &b) != 1) return 1; printf("sum %d\\n", a + b); return 0; }',
];

describe('student page', { skip: skip ?? false }, () => {
  test('the page loads with the languages and their versions, from the Gateway alone', async () => {
    const requests: string[] = [];
    suite.page.on('request', (r) => requests.push(r.url()));
    await openStudentPage(suite.page, suite.cluster.url);
    const options = await suite.page.$$eval('#lang option', (os) => os.map((o) => `${(o as HTMLOptionElement).value}: ${o.textContent}`));
    assert.equal(options.length, 5, options.join('\n'));
    assert.ok(options.some((o) => /^c: C \(gcc\) — gcc \d/.test(o)), options.join('\n'));
    assert.ok(requests.length > 0);
    for (const r of requests) assert.ok(r.startsWith(suite.cluster.url), `request outside the Gateway: ${r}`);
  });

  test('a C program typed in the editor prompts, takes the numbers typed in the terminal and prints the sum', async () => {
    await suite.page.selectOption('#lang', 'c');
    await suite.page.click('.cm-content');
    await suite.page.keyboard.press('Control+A');
    await suite.page.keyboard.press('Delete');
    await suite.page.keyboard.type(`${C_TYPED[0]}\n`);
    await suite.page.keyboard.type(C_TYPED[1] as string);
    const { source } = await hooks();
    assert.equal(source, C_TYPED.join('\n'), 'the editor holds exactly what was typed');
    await suite.page.keyboard.press('Control+Enter');
    // The prompt has no newline: it must show before any input is given.
    await waitForTerminal('first number? ');
    await suite.page.click('#terminal');
    await suite.page.keyboard.type('3');
    await suite.page.keyboard.press('Enter');
    await waitForTerminal('second number? ');
    await suite.page.keyboard.type('4');
    await suite.page.keyboard.press('Enter');
    const status = await waitForStatus(/status \w+/);
    assert.match(status, /status ok · exit code 0 · CPU \d+ ms · wall \d+ ms · memory [\d.]+ (KB|MB)/);
    const { terminal } = await hooks();
    assert.ok(terminal.startsWith('first number? 3\nsecond number? 4\nsum 7\n'), JSON.stringify(terminal));
    await screenshot(suite.page, 'student-run');
  });

  test('the source is kept per language across a reload', async () => {
    await suite.page.reload();
    await suite.page.waitForSelector('#run:not([disabled])', { timeout: 30_000 });
    assert.equal(await suite.page.inputValue('#lang'), 'c');
    assert.equal((await hooks()).source, C_TYPED.join('\n'));
  });

  test('a compile error marks its line in the editor', async () => {
    await setSource('#include <stdio.h>\nint main(void) {\n    printf("x\\n")\n    return 0;\n}\n');
    await suite.page.click('#run');
    await waitForStatus(/status compile_error/);
    await suite.page.waitForSelector('.cm-error-line');
    const marked = await suite.page.$$eval('.cm-line', (ls) => ls.map((l, i) => (l.classList.contains('cm-error-line') ? i + 1 : 0)).filter((n) => n > 0));
    // gcc reports the missing ';' on line 3 (or at the start of line 4, where it noticed it).
    assert.ok(marked.length > 0 && marked.every((n) => n === 3 || n === 4), `marked lines ${marked.join(',')}`);
    assert.match((await suite.page.textContent('#message')) ?? '', /did not compile/);
    await screenshot(suite.page, 'student-compile-error');
  });

  test('Stop kills an endless loop', async () => {
    await setSource('#include <stdio.h>\nint main(void) {\n    printf("looping\\n");\n    fflush(stdout);\n    for (;;) {}\n}\n');
    await suite.page.click('#run');
    await waitForTerminal('looping\n');
    assert.equal(await suite.page.isEnabled('#stop'), true);
    // Meanwhile a second tab may not start another run (`up --queue-max 1`: one run at a time): a 429, as a sentence.
    const other = await suite.browser.page();
    await openStudentPage(other, suite.cluster.url);
    await other.click('#run');
    await other.waitForSelector('#message:not([hidden])', { timeout: 30_000 });
    assert.equal(await other.textContent('#message'), 'You already have as many programs running as you are allowed: stop one or wait for it to finish.');
    await other.close();
    await suite.page.click('#stop');
    const status = await waitForStatus(/status \w+/, 30_000);
    assert.match(status, /status killed/);
    assert.equal(await suite.page.isEnabled('#run'), true);
    await screenshot(suite.page, 'student-stopped');
  });

  test('Ctrl-D in the terminal: a partial line goes as it is, then the input ends', async () => {
    await suite.page.selectOption('#lang', 'python');
    await setSource('import sys\nprint("ready", flush=True)\ndata = sys.stdin.read()\nprint(f"got {len(data)} characters: {data!r}")\n');
    await suite.page.click('#run');
    await waitForTerminal('ready\n');
    await suite.page.click('#terminal');
    await suite.page.keyboard.type('ab');
    await suite.page.keyboard.press('Enter');
    await suite.page.keyboard.type('cd');
    // As in a terminal: the first Ctrl-D hands over "cd", the second (on an empty line) ends the input.
    await suite.page.keyboard.press('Control+D');
    await suite.page.keyboard.press('Control+D');
    await waitForStatus(/status ok/);
    assert.match((await hooks()).terminal, /got 5 characters: 'ab\\ncd'\n/);
  });

  test('a Python traceback marks the line that failed', async () => {
    await suite.page.selectOption('#lang', 'python');
    await setSource('def f():\n    return undefined_name\n\nprint("start")\nf()\n');
    await suite.page.click('#run');
    await waitForStatus(/status runtime_error/);
    await suite.page.waitForSelector('.cm-error-line');
    const marked = await suite.page.$$eval('.cm-line', (ls) => ls.map((l, i) => (l.classList.contains('cm-error-line') ? i + 1 : 0)).filter((n) => n > 0));
    assert.deepEqual(marked, [2]);
  });

  test('Java: the starter program has two files in tabs; both are compiled and run', async () => {
    await suite.page.selectOption('#lang', 'java');
    await suite.page.waitForFunction(() => document.querySelectorAll('#tabs .tab[role="tab"]').length === 2);
    assert.deepEqual(await suite.page.$$eval('#tabs .tab[role="tab"]', (ts) => ts.map((t) => t.firstChild?.textContent)), ['Main.java', 'Greeting.java']);
    await suite.page.click('#tabs .tab:nth-child(2)');
    assert.match((await hooks()).source, /class Greeting/);
    await suite.page.keyboard.press('Control+Enter');
    await waitForTerminal('What is your name? ', 180_000); // javac and a JVM: slow on a busy machine
    await suite.page.click('#terminal');
    await suite.page.keyboard.type('Ada');
    await suite.page.keyboard.press('Enter');
    await waitForStatus(/status ok/, 120_000);
    assert.match((await hooks()).terminal, /What is your name\? Ada\nHello, Ada!\n/);
    await screenshot(suite.page, 'student-java');
    await suite.page.selectOption('#lang', 'c');
  });

  test('an oversized program gets a sentence, not a stack trace', async () => {
    await setSource(`// ${'x'.repeat(1_100_000)}\nint main(void) { return 0; }\n`);
    await suite.page.click('#run');
    await suite.page.waitForSelector('#message:not([hidden])');
    const text = (await suite.page.textContent('#message')) ?? '';
    assert.match(text, /^The program is too large to run \(source is \d+ bytes, over the 1048576-byte cap\)\.$/);
    assert.doesNotMatch(text, /object Object|Error:|at \w+ \(/);
    assert.match((await suite.page.textContent('#status')) ?? '', /Not run/);
    await setSource('int main(void) { return 0; }\n');
    await screenshot(suite.page, 'student-error');
    assert.deepEqual(suite.browser.pageErrors, []);
  });
});
