import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check, interpretCheckerExit, type CheckerSpec } from '../../src/judge/checkers.js';

type Pure = Exclude<CheckerSpec, { kind: 'custom' }>;
const exact: Pure = { kind: 'exact' };
const lines: Pure = { kind: 'lines' };
const tokens: Pure = { kind: 'tokens' };
const float: Pure = { kind: 'float', absEps: 1e-6, relEps: 1e-6 };

// [checker, expected, got, accepted?]
const TABLE: Array<[Pure, string, string, boolean]> = [
  [exact, 'a b\n', 'a b\n', true],
  [exact, 'a b\n', 'a b \n', false],
  [exact, 'a\n', 'a', false],
  [exact, 'a\n', 'a\r\n', false],
  [exact, '', '', true],
  [exact, '', '\n', false],
  [lines, 'a b\nc\n', 'a b   \nc\t\n', true],
  [lines, 'a b\nc\n', 'a b\r\nc\r\n', true],
  [lines, 'a b\nc\n', 'a b\nc', true],
  [lines, 'a b\nc\n', 'a b\nc\n\n\n', true],
  [lines, 'a b\nc\n', ' a b\nc\n', false],
  [lines, 'a b\nc\n', 'a  b\nc\n', false],
  [lines, 'a\n\nb\n', 'a\nb\n', false],
  [lines, 'a\n', '', false],
  [lines, '', '', true],
  [lines, '', '\n\n', true],
  [lines, '\n', '', true],
  [tokens, '1 2 3\n', '1\n2\n3', true],
  [tokens, '1 2 3\n', '  1   2\r\n3  \n\n', true],
  [tokens, '1 2 3\n', '1 2', false],
  [tokens, '1 2 3\n', '1 2 3 4', false],
  [tokens, '1.0\n', '1', false],
  [tokens, '', '   \n', true],
  [tokens, 'x', '', false],
  [float, '0.1234567\n', '0.1234568\n', true], // 1e-7 apart
  [float, '0.12345\n', '0.12346\n', false], // 1e-5 apart
  [float, '1000000\n', '1000000.5\n', true], // relative: 5e-7
  [float, '1000000\n', '1000010\n', false],
  [float, '0.0\n', '-0.0\n', true],
  [float, '-0.0\n', '0\n', true],
  [float, '0\n', '1e-7\n', true],
  [float, '1e-5\n', '0\n', false],
  [float, 'nan\n', 'nan\n', true],
  [float, 'nan\n', 'NaN\n', true],
  [float, '1.0\n', 'nan\n', false],
  [float, 'nan\n', '1.0\n', false],
  [float, 'inf\n', 'inf\n', true],
  [float, 'inf\n', '-inf\n', false],
  [float, 'YES 1.5\n', 'YES 1.5000001\n', true],
  [float, 'YES 1.5\n', 'yes 1.5\n', false],
  [float, '1.5\n', 'abc\n', false],
  [float, '1.5 2.5', '1.5', false],
];

test('checkers: table of tricky outputs', () => {
  for (const [spec, expected, got, ok] of TABLE) {
    const r = check(spec, Buffer.from(expected), Buffer.from(got));
    assert.equal(r.verdict === 'accepted', ok, `${spec.kind}: expected ${JSON.stringify(expected)} vs got ${JSON.stringify(got)} → ${JSON.stringify(r)}`);
  }
});

test('checkers: a wrong answer names the first difference (line, expected, got)', () => {
  const r = check(lines, Buffer.from('1\n2\n3\n'), Buffer.from('1\n2\n4\n'));
  assert.deepEqual(r, { verdict: 'wrong_answer', diff: { line: 3, expected: '3', got: '4' } });
  const missing = check(lines, Buffer.from('1\n2\n'), Buffer.from('1\n'));
  assert.deepEqual(missing, { verdict: 'wrong_answer', diff: { line: 2, expected: '2', got: '<end of output>' } });
  const t = check(tokens, Buffer.from('a\nb c\n'), Buffer.from('a b d'));
  assert.deepEqual(t, { verdict: 'wrong_answer', diff: { line: 2, expected: 'c', got: 'd' } });
  const e = check(exact, Buffer.from('ab\ncd\n'), Buffer.from('ab\ncd \n'));
  assert.deepEqual(e, { verdict: 'wrong_answer', diff: { line: 2, expected: 'cd\\n', got: 'cd \\n' } });
  const long = check(lines, Buffer.from('x'.repeat(1000)), Buffer.from('y'.repeat(1000)));
  assert.ok(long.verdict === 'wrong_answer' && long.diff !== null && long.diff.expected.length <= 81, 'excerpts are clipped');
});

test('checkers: huge token counts are compared without trouble', () => {
  const n = 500_000;
  const nums = Array.from({ length: n }, (_, i) => String(i));
  const expected = Buffer.from(nums.join(' ') + '\n');
  const got = Buffer.from(nums.join('\n'));
  for (const spec of [tokens, float]) assert.equal(check(spec, expected, got).verdict, 'accepted');
  nums[n - 1] = 'x';
  const bad = check(tokens, got, Buffer.from(nums.join(' ')));
  assert.ok(bad.verdict === 'wrong_answer' && bad.diff?.line === n, JSON.stringify(bad));
  const bigLines = Buffer.from('a\n'.repeat(n));
  assert.equal(check(lines, bigLines, bigLines).verdict, 'accepted');
});

test('custom checker exits follow testlib: 0, 1, 7 with points; anything else is internal_error', () => {
  assert.deepEqual(interpretCheckerExit({ status: 'ok', exitCode: 0, stderr: '' }), { verdict: 'accepted' });
  assert.deepEqual(interpretCheckerExit({ status: 'runtime_error', exitCode: 1, stderr: 'wrong sum\n' }), { verdict: 'wrong_answer', diff: null, message: 'wrong sum' });
  assert.deepEqual(interpretCheckerExit({ status: 'runtime_error', exitCode: 7, stderr: 'points 0.25\nclose' }), { verdict: 'partial', fraction: 0.25, message: 'points 0.25\nclose' });
  assert.equal(interpretCheckerExit({ status: 'runtime_error', exitCode: 7, stderr: 'no points' }).verdict, 'internal_error');
  assert.equal(interpretCheckerExit({ status: 'runtime_error', exitCode: 3, stderr: '' }).verdict, 'internal_error');
  assert.equal(interpretCheckerExit({ status: 'runtime_error', exitCode: null, stderr: '' }).verdict, 'internal_error', 'a crash (signal)');
  assert.equal(interpretCheckerExit({ status: 'time_limit', exitCode: 0, stderr: '' }).verdict, 'internal_error', 'a timeout is never accepted');
  assert.equal(interpretCheckerExit({ status: 'memory_limit', exitCode: 0, stderr: '' }).verdict, 'internal_error');
  assert.equal(interpretCheckerExit({ status: 'compile_error', exitCode: 1, stderr: '' }).verdict, 'internal_error');
});
