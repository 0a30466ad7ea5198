import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { zipSync, strToU8 } from 'fflate';
import { PackageError, readZip } from '../../src/judge/package-files.js';
import { loadProblem, problemFromFiles, problemFromJson, PROBLEM_BOUNDS } from '../../src/judge/problem.js';

function tree(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ca-problem-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return root;
}

const KATTIS = {
  'problem.yaml': 'name: Sum\nlimits:\n  time_limit: 1.5\n  memory: 128\npoints:\n  secret/big: 5\ntest_limits:\n  secret/big/2: {time: 3}\n',
  'data/sample/1.in': '1 2\n',
  'data/sample/1.ans': '3\n',
  'data/secret/01.in': '5 5\n',
  'data/secret/01.ans': '10\n',
  'data/secret/big/1.in': '100 1\n',
  'data/secret/big/1.ans': '101\n',
  'data/secret/big/2.in': '7 7\n',
  'data/secret/big/2.ans': '14\n',
};

function expectError(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof PackageError && err.code === code && re.test(err.message), `expected ${code} ${re}`);
}

test('a Kattis package imports with limits, samples, groups, points and per-test limits', () => {
  const p = loadProblem(tree(KATTIS));
  assert.equal(p.name, 'Sum');
  assert.deepEqual(p.tests.map((t) => t.name), ['sample/1', 'secret/01', 'secret/big/1', 'secret/big/2']);
  assert.deepEqual(p.tests.map((t) => t.sample), [true, false, false, false]);
  assert.deepEqual(p.tests.map((t) => t.group), [null, null, 'secret/big', 'secret/big']);
  assert.deepEqual(p.tests.map((t) => t.points), [0, 1, 1, 1]);
  assert.deepEqual(p.groups, [{ name: 'secret/big', points: 5 }]);
  assert.equal(p.limits.cpuTimeMs, 1500);
  assert.equal(p.limits.memoryKb, 128 * 1024);
  assert.equal(p.tests[3]?.limits.cpuTimeMs, 3000);
  assert.equal(p.tests[2]?.limits.cpuTimeMs, 1500);
  assert.equal(p.checker.kind, 'tokens', 'Kattis default validator compares tokens');
  assert.equal(p.tests[0]?.input, '1 2\n');
  // Same content, same id: a content hash.
  assert.equal(loadProblem(tree(KATTIS)).id, p.id);
  assert.notEqual(loadProblem(tree({ ...KATTIS, 'data/secret/01.ans': '11\n' })).id, p.id);
});

test('Kattis float tolerance and output validators become checkers', () => {
  const f = loadProblem(tree({ ...KATTIS, 'problem.yaml': 'name: F\nvalidator_flags: float_tolerance 1e-4\n' }));
  assert.deepEqual(f.checker, { kind: 'float', absEps: 1e-4, relEps: 1e-4 });
  const c = loadProblem(tree({ ...KATTIS, 'problem.yaml': 'name: C\nvalidation: custom\n', 'output_validators/v/validator.py': 'import sys\nsys.exit(42)\n' }));
  assert.ok(c.checker.kind === 'custom' && c.checker.language === 'python' && c.checker.protocol === 'kattis');
});

test('plain NAME.in/NAME.out folders and zips import; a zip with one top folder is that folder', () => {
  const plain = loadProblem(tree({ 'a.in': '1\n', 'a.out': '1\n', 'b.in': '2\n', 'b.ans': '2\n' }));
  assert.deepEqual(plain.tests.map((t) => [t.name, t.points, t.sample]), [['a', 1, false], ['b', 1, false]]);
  assert.equal(plain.checker.kind, 'lines');
  const zipped = zipSync(Object.fromEntries(Object.entries(KATTIS).map(([k, v]) => [`sum/${k}`, strToU8(v)])));
  const root = tree({});
  writeFileSync(path.join(root, 'sum.zip'), zipped);
  const z = loadProblem(path.join(root, 'sum.zip'));
  assert.equal(z.id, loadProblem(tree(KATTIS)).id);
});

test('bad problems are refused with a sentence: missing .ans, bad yaml, limits over the maxima, no tests', () => {
  const { 'data/secret/01.ans': _drop, ...noAns } = KATTIS;
  expectError(() => loadProblem(tree(noAns)), 'BAD_PROBLEM', /01\.in has no 01\.ans/);
  expectError(() => loadProblem(tree({ 'x.in': '1' })), 'BAD_PROBLEM', /x\.in has no x\.out or x\.ans/);
  expectError(() => loadProblem(tree({ 'x.out': '1' })), 'BAD_PROBLEM', /no test cases|has no x\.in/);
  expectError(() => loadProblem(tree({ ...KATTIS, 'problem.yaml': 'name: [unclosed\n' })), 'BAD_PROBLEM', /not valid YAML/);
  expectError(() => loadProblem(tree({ ...KATTIS, 'problem.yaml': 'limits:\n  time_limit: 600\n' })), 'BAD_PROBLEM', /over the maximum/);
  expectError(() => loadProblem(tree({ ...KATTIS, 'problem.yaml': 'limits:\n  memory: 99999\n' })), 'BAD_PROBLEM', /memory limit .* over the maximum/);
  expectError(() => loadProblem(tree({ 'readme.txt': 'hi' })), 'BAD_PROBLEM', /no test cases/);
  expectError(() => loadProblem(tree({ ...KATTIS, 'problem.yaml': 'points:\n  nosuch: 3\n' })), 'BAD_PROBLEM', /neither a test nor a group/);
  expectError(() => loadProblem('/nonexistent/problem'), 'NOT_FOUND', /does not exist/);
});

test('a test over the size cap, and symbolic links, are refused', () => {
  const big = Buffer.alloc(PROBLEM_BOUNDS.fileBytesMax + 1, 0x31);
  expectError(() => loadProblem(tree({ 'a.in': big, 'a.out': '1' })), 'PACKAGE_TOO_LARGE', /over the \d+-byte cap/);
  const root = tree({ 'a.in': '1', 'a.out': '1' });
  symlinkSync('/etc/passwd', path.join(root, 'b.in'));
  expectError(() => loadProblem(root), 'BAD_PATH', /symbolic link/);
});

test('zips: path traversal and absolute paths refused; zip bombs stopped before inflating everything', () => {
  const evil = zipSync({ '../../etc/x.in': strToU8('1'), 'x.out': strToU8('1') });
  expectError(() => readZip(evil, PROBLEM_BOUNDS), 'BAD_PATH', /leaves the package/);
  const abs = zipSync({ '/etc/x.in': strToU8('1') });
  expectError(() => readZip(abs, PROBLEM_BOUNDS), 'BAD_PATH', /unsafe path/);
  // An honest bomb: its directory admits 40 MiB.
  const zeros = new Uint8Array(40 * 1024 * 1024);
  const bomb = zipSync({ 'a.in': zeros }, { level: 9 });
  assert.ok(bomb.length < 200 * 1024, `compressed ${bomb.length}`);
  expectError(() => readZip(bomb, PROBLEM_BOUNDS), 'PACKAGE_TOO_LARGE', /cap for one file|uncompressed/);
  // A lying bomb: its headers claim 100 bytes; the inflating pass counts real bytes and stops.
  const liar = Buffer.from(bomb);
  for (let i = 0; i + 4 <= liar.length; i++) {
    const sig = liar.readUInt32LE(i);
    if (sig === 0x04034b50) liar.writeUInt32LE(100, i + 22);
    if (sig === 0x02014b50) liar.writeUInt32LE(100, i + 24);
  }
  const before = process.memoryUsage().rss;
  expectError(() => readZip(liar, PROBLEM_BOUNDS), 'PACKAGE_TOO_LARGE', /cap for one file|uncompressed/);
  assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'stopped early, not inflated whole');
  // Too many entries.
  const many: Record<string, Uint8Array> = {};
  for (let i = 0; i <= PROBLEM_BOUNDS.filesMax; i++) many[`t${i}.in`] = strToU8('1');
  expectError(() => readZip(zipSync(many), PROBLEM_BOUNDS), 'PACKAGE_TOO_LARGE', /more than \d+ entries/);
  expectError(() => readZip(strToU8('not a zip at all'), PROBLEM_BOUNDS), 'BAD_ZIP', /not a readable zip/);
});

test('JSON problems: defaults, groups and their points, custom checkers', () => {
  const p = problemFromJson({
    name: 'Echo',
    limits: { cpu_time_limit: 1, memory_limit: 65536 },
    tests: [
      { input: '1\n', answer: '1\n', sample: true },
      { input: '2\n', answer: '2\n', group: 'g', points: 2 },
      { input: '3\n', answer: '3\n', group: 'g', points: 2, limits: { cpu_time_limit: 2 } },
    ],
  });
  assert.deepEqual(p.tests.map((t) => [t.name, t.points, t.group, t.limits.cpuTimeMs]), [['1', 0, null, 1000], ['2', 2, 'g', 1000], ['3', 2, 'g', 2000]]);
  assert.deepEqual(p.groups, [{ name: 'g', points: 4 }]);
  assert.equal(p.checker.kind, 'lines');
  expectError(() => problemFromJson({ name: 'x', checker: { kind: 'custom', language: 'cobol', files: [{ name: 'a', content: '' }] }, tests: [{ input: '', answer: '' }] }), 'BAD_PROBLEM', /unknown language/);
  assert.equal(problemFromFiles(new Map([['a.in', Buffer.from('1')], ['a.out', Buffer.from('1')]]), 'd').name, 'd');
});

test('codearena problem check: one line per problem found, exit 2 if any is bad', async () => {
  const { problemCheckCommand } = await import('../../src/cli/problem.js');
  const root = tree({ 'good/problem.yaml': 'name: G\n', 'good/data/secret/1.in': '1', 'good/data/secret/1.ans': '1', 'bad/x.in': '1', 'notes.txt': 'x' });
  writeFileSync(path.join(root, 'z.zip'), zipSync({ 'a.in': strToU8('1'), 'a.out': strToU8('1') }));
  const lines: string[] = [];
  assert.equal(problemCheckCommand(root, (l) => lines.push(l)), 2);
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.match(lines[0] as string, /^FAIL bad: x\.in has no x\.out or x\.ans$/);
  assert.match(lines[1] as string, /^ok {3}good: "G", 1 tests/);
  assert.match(lines[2] as string, /^ok {3}z\.zip: /);
  const one: string[] = [];
  assert.equal(problemCheckCommand(path.join(root, 'good'), (l) => one.push(l)), 0);
  assert.equal(one.length, 1);
});
