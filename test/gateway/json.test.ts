import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { serverMessageJson } from '../../src/gateway/server.js';

test('output messages put together by hand are the JSON of the message, key for key', () => {
  fc.assert(
    fc.property(fc.constantFrom('stdout' as const, 'stderr' as const, 'compile' as const), fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 3000 }), (stream, a, b, bytes) => {
      const msg = { type: 'output' as const, stream, seq: Math.max(a, b), first_seq: Math.min(a, b), data: Buffer.from(bytes).toString('base64') };
      const text = serverMessageJson(msg);
      assert.deepEqual(JSON.parse(text), msg);
      assert.equal(text, JSON.stringify(msg));
    }),
    { numRuns: 300 },
  );
  assert.equal(serverMessageJson({ type: 'error', code: 'X', message: 'a "quoted"\nline' }), JSON.stringify({ type: 'error', code: 'X', message: 'a "quoted"\nline' }));
});
