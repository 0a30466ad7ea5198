import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunSpecWireSchema, type RunSpecWire } from '../../src/protocol/run-messages.js';
import { sandboxRequestOf } from '../../src/protocol/run-spec.js';
import { checkFiles } from '../../src/sandbox/runner.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';

const spec = (files: RunSpecWire['files'], main: string): RunSpecWire => ({ id: 'r1', user: 'u', language: 'python', files, main, stdin: 'in', interactive: false, limits: { ...DEFAULT_LIMITS } });

test('the main file becomes the source, the others go beside it, in order', () => {
  const req = sandboxRequestOf(spec([{ name: 'data.txt', content: 'd' }, { name: 'prog.py', content: 'print(1)' }, { name: 'lib.py', content: 'x = 1' }], 'prog.py'));
  assert.equal(req.language.id, 'python');
  assert.equal(req.source.toString(), 'print(1)');
  assert.deepEqual(req.files?.map((f) => [f.name, f.content.toString()]), [['data.txt', 'd'], ['lib.py', 'x = 1']]);
  assert.equal(req.stdin?.toString(), 'in');
  assert.equal('args' in req, false);
});

test('a spec whose main is not among its files, or that names a file twice, is refused at the edge', () => {
  assert.equal(RunSpecWireSchema.safeParse(spec([{ name: 'a.py', content: '' }], 'a.py')).success, true);
  assert.equal(RunSpecWireSchema.safeParse(spec([{ name: 'a.py', content: '' }], 'b.py')).success, false);
  assert.equal(RunSpecWireSchema.safeParse(spec([{ name: 'a.py', content: '1' }, { name: 'a.py', content: '2' }], 'a.py')).success, false);
  assert.throws(() => sandboxRequestOf(spec([{ name: 'a.py', content: '' }], 'b.py')), /not among its files/);
});

test('the Gateway\'s file check refuses a name given twice (BAD_FILE_NAME)', () => {
  const f = (name: string) => ({ name, content: Buffer.alloc(0) });
  assert.doesNotThrow(() => checkFiles({ source: Buffer.alloc(0), files: [f('a.py'), f('b.py')] }));
  assert.throws(() => checkFiles({ source: Buffer.alloc(0), files: [f('a.py'), f('a.py')] }), (err: Error & { code?: string }) => err.code === 'BAD_FILE_NAME' && /twice/.test(err.message));
});
