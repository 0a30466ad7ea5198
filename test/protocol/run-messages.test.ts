import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { WireMessageForm, type WireMessage } from '../../src/agent/wire-messages.js';
import { CHUNK_BYTES_MAX, CHUNKS_PER_MESSAGE_MAX, type RunChunkWire } from '../../src/protocol/run-messages.js';
import { packChunks, unpackChunks } from '../../src/protocol/run-wire.js';
import { createCodec } from '../../src/wire/codec.js';
import { WireError } from '../../src/wire/errors.js';

const plain = (chunks: RunChunkWire[]) => chunks.map((c) => ({ seq: c.seq, stream: c.stream, data: Buffer.from(c.data).toString('hex') }));

/** Chunks as a runner makes them: numbered from `start`, streams switching, some cut from one read buffer. */
const chunkLists = fc
  .record({
    start: fc.nat({ max: 1_000_000 }),
    parts: fc.array(fc.record({ stream: fc.constantFrom('stdout' as const, 'stderr' as const, 'compile' as const), sizes: fc.array(fc.integer({ min: 0, max: CHUNK_BYTES_MAX }), { minLength: 1, maxLength: 8 }), oneBuffer: fc.boolean(), gapAfter: fc.boolean() }), { minLength: 1, maxLength: 8 }),
  })
  .map(({ start, parts }) => {
    const out: RunChunkWire[] = [];
    let seq = start;
    let fill = 0;
    for (const p of parts) {
      const read = Buffer.alloc(p.sizes.reduce((a, b) => a + b, 0), fill++ % 251);
      let off = 0;
      for (const size of p.sizes) {
        const data = p.oneBuffer ? read.subarray(off, off + size) : Buffer.alloc(size, (seq * 7) % 256);
        out.push({ seq: seq++, stream: p.stream, data: data as Uint8Array<ArrayBuffer> });
        off += size;
      }
      if (p.gapAfter) seq += 3;
    }
    return out.slice(0, CHUNKS_PER_MESSAGE_MAX);
  });

test('packed chunks unpack to the same chunks: numbers, streams and bytes', () => {
  fc.assert(
    fc.property(chunkLists, (chunks) => {
      const packed = packChunks(chunks);
      assert.deepEqual(plain(unpackChunks(packed)), plain(chunks));
      // A run is consecutive numbers of one stream: never fewer runs than stream changes or gaps.
      for (const p of packed) assert.equal(p.data.length, p.sizes.reduce((a, b) => a + b, 0));
    }),
    { numRuns: 500 },
  );
});

test('chunks cut from one read buffer travel without a copy', () => {
  const read = Buffer.alloc(3 * CHUNK_BYTES_MAX, 120);
  const chunks = [0, 1, 2].map((i) => ({ seq: 10 + i, stream: 'stdout' as const, data: read.subarray(i * CHUNK_BYTES_MAX, (i + 1) * CHUNK_BYTES_MAX) as Uint8Array<ArrayBuffer> }));
  const [one, ...more] = packChunks(chunks);
  assert.equal(more.length, 0);
  assert.equal(one?.data.buffer, read.buffer, 'a view of the read buffer');
  assert.deepEqual(one?.sizes, [CHUNK_BYTES_MAX, CHUNK_BYTES_MAX, CHUNK_BYTES_MAX]);
});

test('run output crosses the wire codec packed and arrives as the chunks sent', () => {
  fc.assert(
    fc.property(chunkLists, fc.constantFrom('run_output' as const, 'replica_output' as const), (chunks, type) => {
      const msg = { type, from: 'wrk-1-w0', id: 'run-1', chunks } as WireMessage;
      const got = createCodec(WireMessageForm).decode(createCodec(WireMessageForm).encode(msg)) as typeof msg & { chunks: RunChunkWire[] };
      assert.equal(got.type, type);
      assert.deepEqual(plain(got.chunks), plain(chunks));
    }),
    { numRuns: 200 },
  );
  const other: WireMessage = { type: 'run_ack', from: 'asg-1', id: 'run-1', seq: 4, exit: false };
  assert.deepEqual(createCodec(WireMessageForm).decode(createCodec(WireMessageForm).encode(other)), other);
});

test('a packed message that lies about its chunks is refused with a clear error', () => {
  const sender = { toWire: (m: unknown) => m, fromWire: (w: unknown) => w, schema: WireMessageForm.schema };
  const lying = { type: 'run_output', from: 'w', id: 'r', chunks: [{ seq: 0, stream: 'stdout', sizes: [10, 10], data: Buffer.alloc(15) }] };
  // Packed by hand, as a broken peer would: the outgoing check catches it on our side too.
  assert.throws(() => createCodec(sender).encode(lying), (e: unknown) => e instanceof WireError && /sizes/.test(e.message));
  const tooMany = { type: 'run_output', from: 'w', id: 'r', chunks: Array.from({ length: 2 }, (_, i) => ({ seq: i * 64, stream: 'stdout', sizes: Array(64).fill(1), data: Buffer.alloc(64) })) };
  assert.throws(() => createCodec(sender).encode(tooMany), (e: unknown) => e instanceof WireError && /more than 64 chunks/.test(e.message));
  const oversize = { type: 'run_output', from: 'w', id: 'r', chunks: [{ seq: 0, stream: 'stdout', sizes: [CHUNK_BYTES_MAX + 1], data: Buffer.alloc(CHUNK_BYTES_MAX + 1) }] };
  assert.throws(() => createCodec(sender).encode(oversize), WireError);
});
