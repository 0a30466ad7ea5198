import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isWireError } from '../../src/wire/errors.js';
import { encodeFrame, FRAME_BYTES_MAX_DEFAULT, FRAME_HEADER_BYTES, FrameDecoder } from '../../src/wire/frame.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const asHex = (frames: Buffer[]): string[] => frames.map((f) => f.toString('hex'));
const isTooLarge = (err: unknown): boolean => isWireError(err, 'WIRE_TOO_LARGE');

test('encodeFrame writes a big-endian length then the payload', () => {
  assert.equal(encodeFrame(Buffer.from('abc')).toString('hex'), '00000003616263');
  assert.equal(encodeFrame(Buffer.alloc(0)).toString('hex'), '00000000');
  assert.equal(encodeFrame(Buffer.alloc(0x0102)).subarray(0, 4).toString('hex'), '00000102');
});

test('encodeFrame refuses a payload over the bound', () => {
  assert.throws(() => encodeFrame(Buffer.alloc(17), 16), isTooLarge);
  assert.equal(encodeFrame(Buffer.alloc(16), 16).length, 16 + FRAME_HEADER_BYTES);
});

test('decoder waits on a truncated header and body, then yields the frame', () => {
  const d = new FrameDecoder();
  assert.deepEqual(d.push(hex('00 00')), []);
  assert.deepEqual(d.push(hex('00 03 61')), []);
  assert.equal(d.bufferedBytes, 1);
  assert.deepEqual(asHex(d.push(hex('62 63'))), ['616263']);
  assert.equal(d.bufferedBytes, 0);
});

test('decoder yields several frames from one chunk, empty frames included, in order', () => {
  const d = new FrameDecoder();
  const frames = d.push(hex('00000001 aa 00000000 00000002 bbcc 000000'));
  assert.deepEqual(asHex(frames), ['aa', '', 'bbcc']);
  assert.equal(d.bufferedBytes, 3, 'the next header is partly there');
  assert.deepEqual(asHex(d.push(hex('00'))), [''], 'an empty frame completes with its header');
});

test('decoder refuses an oversized length as soon as the header is complete', () => {
  const d = new FrameDecoder(16);
  assert.deepEqual(d.push(hex('00 00')), []);
  assert.throws(() => d.push(hex('00 11')), (err) => isTooLarge(err) && /17 bytes/.test((err as Error).message));
  assert.equal(d.bufferedBytes, 0, 'nothing of the body is kept');
  assert.throws(() => d.push(hex('00000001 aa')), isTooLarge, 'the stream stays failed');
});

test('decoder refuses a 4 GiB length without allocating it', () => {
  const d = new FrameDecoder();
  const heapBefore = process.memoryUsage().arrayBuffers;
  assert.throws(() => d.push(hex('ffffffff 00')), isTooLarge);
  assert.equal(d.bufferedBytes, 0);
  assert.ok(process.memoryUsage().arrayBuffers - heapBefore < FRAME_BYTES_MAX_DEFAULT, 'no large buffer was made');
});

test('decoder accepts a frame of exactly the bound', () => {
  const d = new FrameDecoder(8);
  assert.deepEqual(asHex(d.push(hex('00000008 0102030405060708'))), ['0102030405060708']);
});

test('decoder keeps its own copy of partial bodies', () => {
  const d = new FrameDecoder();
  const chunk = hex('00000002 aa');
  d.push(chunk);
  chunk.fill(0); // a socket may reuse its read buffer
  assert.deepEqual(asHex(d.push(hex('bb'))), ['aabb']);
});

/** Splits bytes at the given cut points (taken modulo the length), keeping every byte once. */
function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let start = 0;
  for (const p of [...points, bytes.length]) {
    parts.push(bytes.subarray(start, p));
    start = p;
  }
  return parts;
}

test('property: any split of a frame stream decodes to the same frames', () => {
  const FRAME_BYTES_MAX = 300;
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: FRAME_BYTES_MAX }), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (payloads, cuts) => {
        const stream = Buffer.concat(payloads.map((p) => encodeFrame(p, FRAME_BYTES_MAX)));
        const d = new FrameDecoder(FRAME_BYTES_MAX);
        const out = splitAt(stream, cuts).flatMap((part) => d.push(part));
        assert.deepEqual(asHex(out), payloads.map((p) => Buffer.from(p).toString('hex')));
        assert.equal(d.bufferedBytes, 0);
      },
    ),
  );
});

test('property: random bytes never make the decoder hold more than one bounded frame', () => {
  const FRAME_BYTES_MAX = 64;
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 20 }), (chunks) => {
      const d = new FrameDecoder(FRAME_BYTES_MAX);
      for (const chunk of chunks) {
        try {
          for (const frame of d.push(chunk)) assert.ok(frame.length <= FRAME_BYTES_MAX, 'frame over the bound');
        } catch (err) {
          assert.ok(isTooLarge(err), `only WIRE_TOO_LARGE may escape, got ${String(err)}`);
          return;
        }
        assert.ok(d.bufferedBytes <= FRAME_BYTES_MAX + FRAME_HEADER_BYTES, `decoder holds ${d.bufferedBytes} bytes`);
      }
    }),
  );
});
