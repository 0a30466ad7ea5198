import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { createCodec, packEnvelope, PROTOCOL_VERSION } from '../../src/wire/codec.js';
import { isWireError, type WireErrorCode } from '../../src/wire/errors.js';
import { testSchema, type TestMsg } from './helpers.js';

const fails = (code: WireErrorCode, pattern?: RegExp) => (err: unknown) =>
  isWireError(err, code) && (pattern === undefined || pattern.test(err.message));

test('codec round-trips messages in order', () => {
  const sender = createCodec(testSchema);
  const receiver = createCodec(testSchema);
  const msgs: TestMsg[] = [{ type: 'ping', n: 1 }, { type: 'text', body: 'héllo\n' }, { type: 'ping', n: 0 }];
  assert.deepEqual(
    msgs.map((m) => receiver.decode(sender.encode(m))),
    msgs,
  );
});

test('codec refuses an unknown message type and invalid fields, naming the field', () => {
  const receiver = createCodec(testSchema);
  assert.throws(() => receiver.decode(packEnvelope({ v: PROTOCOL_VERSION, seq: 1, msg: { type: 'nuke' } })), fails('WIRE_INVALID'));
  const second = createCodec(testSchema);
  assert.throws(
    () => second.decode(packEnvelope({ v: PROTOCOL_VERSION, seq: 1, msg: { type: 'ping', n: -1 } })),
    fails('WIRE_INVALID', /\bn\b/),
  );
  const third = createCodec(testSchema);
  assert.throws(
    () => third.decode(packEnvelope({ v: PROTOCOL_VERSION, seq: 1, msg: { type: 'ping', n: 1, extra: true } })),
    fails('WIRE_INVALID'),
  );
});

test('codec refuses payloads that are not one MessagePack envelope', () => {
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['truncated map', Buffer.from('de0003a176', 'hex')],
    ['never-used byte 0xc1', Buffer.from('c1', 'hex')],
    ['a bare number', pack(1)],
    ['an array', pack([1, 1, {}])],
    ['a missing seq', pack({ v: PROTOCOL_VERSION, msg: {} })],
    ['an extra envelope field', pack({ v: PROTOCOL_VERSION, seq: 1, msg: {}, x: 1 })],
    ['a fractional seq', pack({ v: PROTOCOL_VERSION, seq: 1.5, msg: {} })],
    ['trailing bytes', Buffer.concat([packEnvelope({ v: PROTOCOL_VERSION, seq: 1, msg: { type: 'ping', n: 1 } }), Buffer.from([0])])],
  ];
  for (const [what, payload] of cases) {
    assert.throws(() => createCodec(testSchema).decode(payload), fails('WIRE_BAD_FRAME'), what);
  }
});

test('a deeply nested payload is a bad frame, not a crashed node', () => {
  const NESTING_DEPTH = 1024 * 1024; // each 0x91 opens a one-element array
  const payload = Buffer.concat([Buffer.alloc(NESTING_DEPTH, 0x91), Buffer.from([0x01])]);
  assert.throws(() => createCodec(testSchema).decode(payload), fails('WIRE_BAD_FRAME'));
});

test('codec refuses a peer of another protocol version, naming both versions', () => {
  const receiver = createCodec(testSchema);
  const payload = packEnvelope({ v: PROTOCOL_VERSION + 1, seq: 1, msg: { type: 'ping', n: 1 } });
  assert.throws(
    () => receiver.decode(payload),
    fails('WIRE_VERSION', new RegExp(`v${PROTOCOL_VERSION + 1}\\b.*v${PROTOCOL_VERSION}\\b`)),
  );
  // A future envelope may change shape; its peer still hears "version", not "bad frame".
  assert.throws(() => createCodec(testSchema).decode(pack({ v: 9, frames: [] })), fails('WIRE_VERSION'));
});

test('codec refuses a replayed frame', () => {
  const sender = createCodec(testSchema);
  const receiver = createCodec(testSchema);
  const first = sender.encode({ type: 'ping', n: 1 });
  const second = sender.encode({ type: 'ping', n: 2 });
  receiver.decode(first);
  receiver.decode(second);
  assert.throws(() => receiver.decode(first), fails('WIRE_REPLAY', /seq 1 replayed.*expected 3/));
});

test('codec refuses reordered and skipped frames', () => {
  const sender = createCodec(testSchema);
  const first = sender.encode({ type: 'ping', n: 1 });
  const second = sender.encode({ type: 'ping', n: 2 });
  assert.throws(() => createCodec(testSchema).decode(second), fails('WIRE_REPLAY', /expected 1/));
  const receiver = createCodec(testSchema);
  receiver.decode(first);
  assert.throws(() => receiver.decode(packEnvelope({ v: PROTOCOL_VERSION, seq: 5, msg: { type: 'ping', n: 5 } })), fails('WIRE_REPLAY', /lost/));
});

test('a message refused on send spends no seq, so the peer sees no gap', () => {
  const sender = createCodec(testSchema, { payloadBytesMax: 64 });
  const receiver = createCodec(testSchema);
  assert.throws(() => sender.encode({ type: 'ping', n: -1 }), fails('WIRE_INVALID', /outgoing/));
  assert.throws(() => sender.encode({ type: 'text', body: 'x'.repeat(100) }), fails('WIRE_TOO_LARGE'));
  assert.deepEqual(receiver.decode(sender.encode({ type: 'ping', n: 7 })), { type: 'ping', n: 7 });
});

test('property: any valid message survives the codec unchanged', () => {
  const msgArb: fc.Arbitrary<TestMsg> = fc.oneof(
    fc.record({ type: fc.constant('ping' as const), n: fc.nat() }, { noNullPrototype: true }),
    fc.record({ type: fc.constant('text' as const), body: fc.string({ unit: 'binary', maxLength: 200 }) }, { noNullPrototype: true }),
  );
  fc.assert(
    fc.property(fc.array(msgArb, { maxLength: 20 }), (msgs) => {
      const sender = createCodec(testSchema);
      const receiver = createCodec(testSchema);
      assert.deepEqual(
        msgs.map((m) => receiver.decode(sender.encode(m))),
        msgs,
      );
    }),
  );
});
