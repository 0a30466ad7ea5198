import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ControlParser, encodePhase, type ControlMessage } from '../../src/sandbox/control.js';
import { Chunker, CHUNK_BYTES_MAX } from '../../src/sandbox/chunker.js';

const stream = Buffer.concat([
  Buffer.from('READY\nO 5\nhe\nlo'),
  Buffer.from('X 3 0 1200 1500 2048 0\n'),
  Buffer.from('X -1 9 10 20 30 1\n'),
]);

test('control parser: whole stream in one buffer', () => {
  const msgs = new ControlParser().feed(stream);
  assert.deepEqual(msgs.map((m) => m.kind), ['ready', 'output', 'exit', 'exit']);
  assert.equal((msgs[1] as { data: Buffer }).data.toString(), 'he\nlo');
  assert.deepEqual((msgs[2] as Extract<ControlMessage, { kind: 'exit' }>).report, {
    exitCode: 3, signal: null, cpuUs: 1200, wallUs: 1500, maxRssKb: 2048, wallLimitHit: false,
  });
  const last = (msgs[3] as Extract<ControlMessage, { kind: 'exit' }>).report;
  assert.equal(last.exitCode, null);
  assert.equal(last.signal, 9);
  assert.equal(last.wallLimitHit, true);
});

test('control parser: any split of the stream gives the same messages', () => {
  const whole = JSON.stringify(new ControlParser().feed(stream));
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 8 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const p = new ControlParser();
      const out: ControlMessage[] = [];
      let prev = 0;
      for (const c of [...points, stream.length]) {
        out.push(...p.feed(stream.subarray(prev, c)));
        prev = c;
      }
      assert.equal(JSON.stringify(out), whole);
    }),
  );
});

test('control parser: garbage is refused', () => {
  assert.throws(() => new ControlParser().feed(Buffer.from('HELLO\n')), /unknown sandbox control line/);
  assert.throws(() => new ControlParser().feed(Buffer.from('O 99999999\n')), /bad output frame/);
  assert.throws(() => new ControlParser().feed(Buffer.from('X 1 2\n')), /bad exit report/);
  assert.throws(() => new ControlParser().feed(Buffer.alloc(9000, 65)), /too long/);
});

test('phase encoding refuses newlines in arguments', () => {
  const base = { mode: 'pipes' as const, env: {}, cpuTimeMs: 1, wallTimeMs: 1, addressSpaceKb: 0, fileSizeKb: 0, openFilesMax: 0, processesMax: 0 };
  assert.match(encodePhase({ ...base, argv: ['./main'] }).toString(), /^R 0 1 1 0 0 0 0 1 0\n\.\/main\n$/);
  assert.throws(() => encodePhase({ ...base, argv: ['a\nb'] }), /newlines/);
});

test('chunker: chunks at most 1500 bytes, dense sequence numbers, bytes preserved', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('stdout', 'stderr'), fc.uint8Array({ maxLength: 5000 })), { maxLength: 20 }), (writes) => {
      const ch = new Chunker();
      const chunks = writes.flatMap(([s, d]) => ch.cut(s as 'stdout' | 'stderr', Buffer.from(d)));
      chunks.forEach((c, i) => {
        assert.equal(c.seq, i);
        assert.ok(c.data.length > 0 && c.data.length <= CHUNK_BYTES_MAX);
      });
      for (const s of ['stdout', 'stderr']) {
        const want = Buffer.concat(writes.filter(([x]) => x === s).map(([, d]) => Buffer.from(d)));
        const got = Buffer.concat(chunks.filter((c) => c.stream === s).map((c) => c.data));
        assert.ok(got.equals(want));
      }
    }),
  );
});
