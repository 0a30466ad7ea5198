import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeOutputFrame, encodeOutputFrame, OUTPUT_FRAME_HEADER_BYTES } from '../../src/gateway/output-frame.js';

test('an output frame decodes to what was encoded; anything else is refused', () => {
  fc.assert(
    fc.property(fc.constantFrom('stdout' as const, 'stderr' as const, 'compile' as const), fc.nat({ max: 2 ** 31 }), fc.nat({ max: 64 }), fc.array(fc.uint8Array({ maxLength: 1500 }), { maxLength: 5 }), (stream, firstSeq, extra, parts) => {
      const frame = encodeOutputFrame({ stream, firstSeq, seq: firstSeq + extra }, parts.map((p) => Buffer.from(p)));
      const f = decodeOutputFrame(frame);
      assert.deepEqual(f && { ...f, data: Buffer.from(f.data) }, { stream, firstSeq, seq: firstSeq + extra, data: Buffer.concat(parts.map((p) => Buffer.from(p))) });
    }),
    { numRuns: 300 },
  );
  assert.equal(decodeOutputFrame(Buffer.alloc(OUTPUT_FRAME_HEADER_BYTES - 1)), null, 'too short');
  assert.equal(decodeOutputFrame(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0])), null, 'no such channel');
  assert.equal(decodeOutputFrame(Buffer.from([1, 0, 0, 0, 5, 0, 0, 0, 4])), null, 'seq before first_seq');
  assert.equal(encodeOutputFrame({ stream: 'stderr', firstSeq: 3, seq: 3 }, [Buffer.from('x')])[0], 2, 'stderr is channel 2, as in Kubernetes exec streams');
});
