import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RunChunkWire, RunMessage, RunSpecWire } from '../../src/protocol/run-messages.js';
import { unmeasuredResult } from '../../src/protocol/run-wire.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';
import { ACK_WAIT_MS_MAX, END_RESEND_MS, HELD_END_MS_MAX, OFFERER_FORGET_MS, UNACKED_BYTES_MAX, WorkerCore, type WorkerAction } from '../../src/worker/core.js';

// The Worker core driven by hand with a scripted clock: each decision of the run path in one process.

const OPTS = { name: 'w-1', slots: 2, psiAcceptBelow: 0.6, psiPauseAbove: 0.85, languages: ['python', 'c'] };
const CALM = { cpu: 0.1, memory: 0, io: 0 };
const spec = (id: string, o: { language?: string; interactive?: boolean } = {}): RunSpecWire => ({ id, user: 'u', language: o.language ?? 'python', files: [{ name: 'main.py', content: 'print(1)' }], main: 'main.py', stdin: '', interactive: o.interactive ?? false, limits: { ...DEFAULT_LIMITS } });
const sends = (a: WorkerAction[]) => a.filter((x): x is Extract<WorkerAction, { kind: 'send' }> => x.kind === 'send');
const msgs = (a: WorkerAction[]) => sends(a).map((s) => [s.to, s.msg.type]);
const kinds = (a: WorkerAction[]) => a.map((x) => x.kind);
function reply(a: WorkerAction[]): Extract<RunMessage, { type: 'offer_reply' }> {
  const r = sends(a).find((s) => s.msg.type === 'offer_reply');
  assert.ok(r && r.msg.type === 'offer_reply');
  return r.msg;
}
const chunk = (seq: number, bytes: number): RunChunkWire => ({ seq, stream: 'stdout', data: new Uint8Array(bytes) });
const ok = unmeasuredResult('ok', 'python');

test('an offer is taken with a free slot: the reply counts it, the buddy hears the claim, the program starts with its input ended', () => {
  const w = new WorkerCore(OPTS);
  const out = w.onOffer('asg-a', spec('r1'), 'asg-b', CALM, 0);
  assert.deepEqual(msgs(out), [['asg-a', 'offer_reply'], ['asg-b', 'run_claim']]);
  assert.deepEqual(reply(out).load, { psiCpu: 0.1, psiMemory: 0, psiIo: 0, slotsFree: 1, slotsBusy: 1 });
  assert.equal(reply(out).accepted, true);
  assert.deepEqual(kinds(out), ['send', 'send', 'start', 'end_input'], 'the answer leaves before the sandbox work starts');
  const interactive = w.onOffer('asg-a', spec('r2', { interactive: true }), null, CALM, 0);
  assert.deepEqual(kinds(interactive), ['send', 'start'], 'an interactive run keeps its input open, and no buddy: no claim');
  assert.equal(w.runningCount, 2);
});

test("a Worker's answer names its life once its heartbeat thread told it, not before", () => {
  const core = new WorkerCore(OPTS);
  assert.equal(reply(core.onOffer('a-1', spec('r1'), null, CALM, 0)).life, undefined, 'not known yet: not named');
  core.life = 3;
  assert.equal(reply(core.onOffer('a-1', spec('r2'), null, CALM, 1)).life, 3);
});

test('an offer is refused when the slots are full, above the PSI bound, or without the toolchain', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('r1'), null, CALM, 0);
  w.onOffer('asg-a', spec('r2'), null, CALM, 0);
  const full = w.onOffer('asg-a', spec('r3'), null, CALM, 0);
  assert.deepEqual({ accepted: reply(full).accepted, reason: reply(full).reason, free: reply(full).load?.slotsFree }, { accepted: false, reason: 'no free slot', free: 0 });
  assert.ok(!kinds(full).includes('start'));
  assert.ok(full.some((a) => a.kind === 'note' && a.note.what === 'refused'));

  const idle = new WorkerCore(OPTS);
  const hot = idle.onOffer('asg-a', spec('r4'), null, { cpu: 0.1, memory: 0.6, io: 0 }, 0);
  assert.equal(reply(hot).accepted, false);
  assert.equal(reply(hot).reason, 'PC pressure 0.60 is at or above 0.6', 'the bound is inclusive and the worst resource counts');
  const java = idle.onOffer('asg-a', spec('r5', { language: 'java' }), null, CALM, 0);
  assert.equal(reply(java).reason, 'no java toolchain here');
  assert.equal(idle.runningCount, 0);
  assert.equal(reply(idle.onOffer('asg-a', spec('r6'), null, { cpu: 0.59, memory: 0, io: 0 }, 0)).accepted, true, 'just below the bound is taken');
});

test('a second offer of a run held here: yes and a resend from its buddy, silence from anyone else', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('r1'), 'asg-b', CALM, 0);
  w.onOutput('r1', [chunk(0, 10), chunk(1, 10)], 1);
  assert.deepEqual(w.onOffer('asg-c', spec('r1'), null, CALM, 2), [], 'a stale offer');
  const again = w.onOffer('asg-b', spec('r1'), null, CALM, 3);
  assert.deepEqual(msgs(again), [['asg-b', 'offer_reply'], ['asg-b', 'run_output']]);
  assert.ok(again.some((a) => a.kind === 'moved' && a.to === 'asg-b'));
  assert.equal(w.assignerOf('r1'), 'asg-b');
  assert.equal(w.runningCount, 1, 'not started twice');
});

test('the output window closes past UNACKED_BYTES_MAX and opens on the ack that brings it under', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('r1'), null, CALM, 0);
  const per = 64 * 1024;
  const n = UNACKED_BYTES_MAX / per;
  for (let i = 0; i < n; i++) assert.deepEqual(kinds(w.onOutput('r1', [chunk(i, per)], 10)), ['send'], 'up to the bound: no pause');
  const over = w.onOutput('r1', [chunk(n, 1)], 10);
  assert.deepEqual(over.at(-1), { kind: 'output_window', run: 'r1', open: false });
  assert.equal(w.nextWakeMs(), 10 + ACK_WAIT_MS_MAX);
  assert.deepEqual(w.onAck('asg-z', 'r1', n, false), [], 'an ack from another Assigner is not the pair');
  assert.deepEqual(w.onAck('asg-a', 'r1', -1, false), [], 'nothing acknowledged: still closed');
  assert.deepEqual(w.onAck('asg-a', 'r1', 0, false), [{ kind: 'output_window', run: 'r1', open: true }]);
  assert.equal(w.nextWakeMs(), null, 'nothing waits for time');
});

test('a closed window opens after ACK_WAIT_MS_MAX without acks: a run with its pair gone still ends', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('r1'), null, CALM, 0);
  w.onOutput('r1', [chunk(0, UNACKED_BYTES_MAX + 1)], 100);
  assert.deepEqual(w.onTick(100 + ACK_WAIT_MS_MAX - 1), []);
  assert.deepEqual(w.onTick(100 + ACK_WAIT_MS_MAX), [{ kind: 'output_window', run: 'r1', open: true }]);
});

test('an end is sent with its last seq, the offerers hear a slot is free, and it is resent until acknowledged', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('r1'), null, CALM, 0);
  w.onOffer('asg-x', spec('r2'), null, CALM, 0);
  w.onOutput('r1', [chunk(0, 5), chunk(1, 5)], 10);
  w.onAck('asg-a', 'r1', 0, false);
  const end = w.onExit('r1', { ...ok, message: 'x'.repeat(5000) }, CALM, 1000);
  const exit = sends(end)[0];
  assert.ok(exit?.msg.type === 'run_exit');
  assert.equal(exit.msg.lastSeq, 1);
  assert.equal(exit.msg.result.message?.length, 4000, 'a long message is cut');
  assert.deepEqual(msgs(end).slice(1).sort(), [['asg-a', 'worker_load'], ['asg-x', 'worker_load']]);
  assert.equal(w.nextWakeMs(), 1000 + END_RESEND_MS);
  assert.deepEqual(w.onTick(1000 + END_RESEND_MS - 1), []);
  assert.deepEqual(msgs(w.onTick(1000 + END_RESEND_MS)), [['asg-a', 'run_output'], ['asg-a', 'run_exit']], 'the unacknowledged chunk, then the end');
  assert.deepEqual(w.onAck('asg-a', 'r1', 1, true), []);
  assert.equal(w.heldCount, 1, 'only r2 is left');
  assert.deepEqual(msgs(w.onTakeover('asg-b', 'r1')), [['asg-b', 'run_evicted']], 'a takeover of a forgotten run: not here');
});

test('offerers not heard from for a minute are not told of free slots', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-old', spec('r0', { language: 'java' }), null, CALM, 0);
  w.onOffer('asg-a', spec('r1'), null, CALM, 10);
  const end = w.onExit('r1', ok, CALM, OFFERER_FORGET_MS + 5);
  assert.deepEqual(msgs(end), [['asg-a', 'run_exit'], ['asg-a', 'worker_load']]);
});

test('an end nobody acknowledges is forgotten after HELD_END_MS_MAX', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('r1'), null, CALM, 0);
  w.onExit('r1', ok, CALM, 0);
  let resends = 0;
  let t = 0;
  for (let i = 0; i < 1000 && w.heldCount > 0; i++) {
    const at = w.nextWakeMs();
    assert.ok(at !== null && at > t, 'each wake is later than the last');
    t = at;
    const out = w.onTick(t);
    resends += sends(out).length;
    if (w.heldCount === 0) assert.ok(out.some((a) => a.kind === 'note' && a.note.what === 'end_forgotten'));
  }
  assert.equal(t, HELD_END_MS_MAX);
  assert.equal(resends, HELD_END_MS_MAX / END_RESEND_MS - 1, 'resent every END_RESEND_MS until forgotten');
  assert.equal(w.nextWakeMs(), null);
});

test('above the second PSI bound batch runs are evicted (once), interactive ones stay', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('batch'), null, CALM, 0);
  w.onOffer('asg-a', spec('typing', { interactive: true }), null, CALM, 0);
  assert.deepEqual(w.onPressure({ cpu: 0.84, memory: 0, io: 0 }), [], 'below the bound: nothing');
  const out = w.onPressure({ cpu: 0.2, memory: 0.9, io: 0 });
  assert.deepEqual(out.filter((a) => a.kind === 'kill'), [{ kind: 'kill', run: 'batch' }]);
  assert.deepEqual(w.onPressure({ cpu: 0.95, memory: 0, io: 0 }), [], 'evicted already');
  const end = w.onExit('batch', unmeasuredResult('killed', 'python'), CALM, 5);
  assert.ok(sends(end)[0]?.msg.type === 'run_evicted', 'its end says evicted, so the Assigner places it again');
});

test('input: numbered lines resent after a takeover are dropped; input for an ended run goes nowhere', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('r1', { interactive: true }), 'asg-b', CALM, 0);
  assert.deepEqual(w.onInput('r1', 'a\n', 1), [{ kind: 'input', run: 'r1', data: 'a\n' }]);
  assert.deepEqual(w.onInput('r1', 'b\n', 2), [{ kind: 'input', run: 'r1', data: 'b\n' }]);
  w.onTakeover('asg-b', 'r1');
  assert.deepEqual(w.onInput('r1', 'b\n', 2), [], 'seen already');
  assert.deepEqual(w.onInput('r1', 'x', undefined), [{ kind: 'input', run: 'r1', data: 'x' }], 'unnumbered input always passes');
  assert.deepEqual(w.onEof('r1', 3), [{ kind: 'end_input', run: 'r1' }]);
  assert.deepEqual(w.onKill('r1'), [{ kind: 'kill', run: 'r1' }]);
  w.onExit('r1', ok, CALM, 1);
  assert.deepEqual(w.onInput('r1', 'late\n', 4), []);
  assert.deepEqual(w.onKill('r1'), []);
  assert.deepEqual(w.onKill('nope'), []);
});

test('a takeover moves the run and sends what is unacknowledged, in messages of at most CHUNKS_PER_MESSAGE_MAX', () => {
  const w = new WorkerCore(OPTS);
  w.onOffer('asg-a', spec('r1'), 'asg-b', CALM, 0);
  for (let i = 0; i < 100; i++) w.onOutput('r1', [chunk(i, 1)], 1);
  w.onAck('asg-a', 'r1', 9, false);
  const out = w.onTakeover('asg-b', 'r1');
  const outputs = sends(out).map((s) => (s.msg.type === 'run_output' ? s.msg.chunks.map((c) => c.seq) : []));
  assert.deepEqual(outputs.map((o) => o.length), [64, 26]);
  assert.deepEqual(outputs.flat(), Array.from({ length: 90 }, (_, i) => i + 10));
  assert.deepEqual(w.onAck('asg-a', 'r1', 99, false), [], 'the dead Assigner no longer acknowledges');
});

test('property: whatever the events, slots are never exceeded, no deadline is overdue, and the current Assigner has been sent every unacknowledged chunk', () => {
  type Ev =
    | { e: 'offer'; run: number; from: number; psi: number }
    | { e: 'output'; run: number; bytes: number }
    | { e: 'exit'; run: number }
    | { e: 'ack'; run: number; all: boolean }
    | { e: 'takeover'; run: number; to: number }
    | { e: 'pressure'; psi: number }
    | { e: 'tick'; ms: number };
  const ev: fc.Arbitrary<Ev> = fc.oneof(
    fc.record({ e: fc.constant('offer' as const), run: fc.nat(2), from: fc.nat(2), psi: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ e: fc.constant('output' as const), run: fc.nat(2), bytes: fc.integer({ min: 1, max: 1024 * 1024 }) }),
    fc.record({ e: fc.constant('exit' as const), run: fc.nat(2) }),
    fc.record({ e: fc.constant('ack' as const), run: fc.nat(2), all: fc.nat(3).map((n) => n === 0) }),
    fc.record({ e: fc.constant('takeover' as const), run: fc.nat(2), to: fc.nat(2) }),
    fc.record({ e: fc.constant('pressure' as const), psi: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ e: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
  );
  fc.assert(
    fc.property(fc.array(ev, { maxLength: 200 }), (events) => {
      const w = new WorkerCore(OPTS);
      let now = 0;
      const running = new Set<string>();
      const produced = new Map<string, number>();
      const acked = new Map<string, number>();
      // Chunks each Assigner was sent of each run (keyed by Assigner, then run).
      const sent = new Map<string, Map<string, Set<number>>>();
      const windowClosed = new Set<string>();
      const apply = (out: WorkerAction[]) => {
        for (const a of out) {
          if (a.kind === 'start') {
            running.add(a.run.id);
            produced.set(a.run.id, 0);
            acked.set(a.run.id, -1);
            for (const m of sent.values()) m.delete(a.run.id);
          }
          if (a.kind === 'output_window') {
            if (a.open) windowClosed.delete(a.run);
            else windowClosed.add(a.run);
          }
          if (a.kind === 'send' && a.msg.type === 'run_output') {
            const m = sent.get(a.to) ?? new Map<string, Set<number>>();
            sent.set(a.to, m);
            const seqs = m.get(a.msg.id) ?? new Set<number>();
            m.set(a.msg.id, seqs);
            for (const c of a.msg.chunks) seqs.add(c.seq);
          }
        }
      };
      for (const x of events) {
        const id = `r${'run' in x ? x.run : 0}`;
        switch (x.e) {
          case 'offer':
            apply(w.onOffer(`asg-${x.from}`, spec(id), `asg-${(x.from + 1) % 3}`, { cpu: x.psi, memory: 0, io: 0 }, now));
            break;
          case 'output': {
            // A driver takes no output while the window is closed.
            if (!running.has(id) || windowClosed.has(id)) break;
            const seq = produced.get(id) ?? 0;
            produced.set(id, seq + 1);
            apply(w.onOutput(id, [chunk(seq, x.bytes)], now));
            break;
          }
          case 'exit':
            if (!running.has(id)) break;
            running.delete(id);
            windowClosed.delete(id);
            apply(w.onExit(id, ok, CALM, now));
            break;
          case 'ack': {
            const to = w.assignerOf(id);
            if (to === undefined) break;
            const seq = x.all ? Number.MAX_SAFE_INTEGER : (produced.get(id) ?? 0) - 2;
            acked.set(id, Math.max(acked.get(id) ?? -1, seq));
            apply(w.onAck(to, id, seq, x.all));
            break;
          }
          case 'takeover':
            apply(w.onTakeover(`asg-${x.to}`, id));
            break;
          case 'pressure':
            apply(w.onPressure({ cpu: x.psi, memory: 0, io: 0 }));
            break;
          case 'tick':
            now += x.ms;
            apply(w.onTick(now));
            break;
        }
        assert.ok(w.runningCount <= OPTS.slots);
        assert.equal(w.runningCount, running.size);
        const wake = w.nextWakeMs();
        assert.ok(wake === null || wake > now, 'every deadline due by now was handled');
        for (const r of running) {
          const to = w.assignerOf(r);
          assert.ok(to !== undefined, 'a running run is held');
          const have = sent.get(to)?.get(r) ?? new Set<number>();
          for (let s = (acked.get(r) ?? -1) + 1; s < (produced.get(r) ?? 0); s++) assert.ok(have.has(s), `${to} lacks chunk ${s} of ${r}`);
        }
      }
    }),
    { numRuns: 500 },
  );
});
