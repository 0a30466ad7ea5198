import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argsProblem } from '../../src/gateway/compat/common.js';
import { jobeClean } from '../../src/gateway/compat/jobe.js';
import { judge0Strip, splitArgs } from '../../src/gateway/compat/judge0.js';
import { signalName, versionMatches } from '../../src/gateway/compat/piston.js';

test("Jobe's clean(): valid UTF-8 unchanged, otherwise bytes above 0x7E and control characters as \\xNN", () => {
  assert.equal(jobeClean(Buffer.from('h\u00e9\tllo\r\n')), 'h\u00e9\tllo\r\n');
  assert.equal(jobeClean(Buffer.from([0x61, 0xff, 0x01, 0x0a, 0x7f])), 'a\\xff\\x01\n\\x7f');
});

test("Piston's version selectors and signal names", () => {
  for (const s of ['*', 'x', '3', '3.11', '3.11.2', 'v3.11.2', '3.x']) assert.ok(versionMatches(s, '3.11.2'), s);
  for (const s of ['2', '3.1', '3.11.3', '15.10.0']) assert.ok(!versionMatches(s, '3.11.2'), s);
  assert.equal(signalName(9), 'SIGKILL');
  assert.equal(signalName(11), 'SIGSEGV');
  assert.equal(signalName(null), null);
});

test("Judge0's output comparison and argument splitting", () => {
  assert.equal(judge0Strip('1 2 \n3\t\n\n'), '1 2\n3');
  assert.equal(judge0Strip(' lead\n'), ' lead', 'leading space counts');
  assert.notEqual(judge0Strip('1  2'), judge0Strip('1 2'));
  assert.deepEqual(splitArgs('a "b c"  \'d e\' f|g'), ['a', 'b c', 'd e', 'fg']);
  assert.deepEqual(splitArgs('   '), []);
});

test('argument bounds', () => {
  assert.equal(argsProblem(['a', 'b'], 'args'), null);
  assert.match(argsProblem('a b', 'args') ?? '', /array of strings/);
  assert.match(argsProblem([1], 'args') ?? '', /array of strings/);
  assert.match(argsProblem(Array(65).fill('x'), 'args') ?? '', /over the 64/);
  assert.match(argsProblem(['x'.repeat(4097)], 'args') ?? '', /over 4096 bytes/);
  assert.match(argsProblem(['a\0b'], 'args') ?? '', /NUL/);
});

test('a Jobe file copied to the standby is bounded on the wire', async () => {
  const { GatewayDataMessageSchema, GATEWAY_FILE_BYTES_MAX } = await import('../../src/cluster/gateway-messages.js');
  const msg = (n: number) => ({ type: 'gw_jobe_file', from: 'gw', id: 'abcdef0123', data: new Uint8Array(n) });
  assert.ok(GatewayDataMessageSchema.safeParse(msg(GATEWAY_FILE_BYTES_MAX)).success);
  assert.ok(!GatewayDataMessageSchema.safeParse(msg(GATEWAY_FILE_BYTES_MAX + 1)).success);
  assert.ok(!GatewayDataMessageSchema.safeParse({ ...msg(1), id: '' }).success);
});
