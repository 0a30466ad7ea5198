import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AssignerCore, DEFERRED_MAX, HELD_INPUT_MAX, type AssignerAction, type WorkerLoadView } from '../../src/assigner/core.js';
import type { RunSpecWire } from '../../src/protocol/run-messages.js';
import { unmeasuredResult } from '../../src/protocol/run-wire.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';

const OPTS = { name: 'asg-1', queueMax: 3, offerTimeoutMs: 500, psiAcceptBelow: 0.6, workerStaleMs: 5000, retryAfterMs: 200, runsMax: 16, finishedRetainMs: 60_000, finishedRetainBytesMax: 1 << 20, finishedRetainCountMax: 100 };
const spec = (id: string, language = 'python', interactive = false): RunSpecWire => ({ id, user: 'u', language, files: [{ name: 'main.py', content: 'print(1)' }], main: 'main.py', stdin: '', interactive, limits: { ...DEFAULT_LIMITS } });
const worker = (name: string, free: number, busy = 0, psi = 0, languages = ['python', 'c']): WorkerLoadView => ({ name, incarnation: 1, life: 1, load: { psiCpu: psi, psiMemory: 0, psiIo: 0, slotsFree: free, slotsBusy: busy }, languages });
const unmeasured = (status: 'ok') => unmeasuredResult(status, 'python');
const sends = (a: AssignerAction[]) => a.filter((x): x is Extract<AssignerAction, { kind: 'send' }> => x.kind === 'send');
const offers = (a: AssignerAction[]) => sends(a).filter((s) => s.msg.type === 'offer').map((s) => s.to);

test('offers a run to the least-loaded Worker that has the language', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w-busy', 1, 3), worker('w-idle', 4, 0), worker('w-nojava', 8, 0, 0, ['python']), worker('w-hot', 8, 0, 0.9)], 0);
  assert.deepEqual(offers(a.onSubmit('gw', spec('r1'), 0)), ['w-idle']);
  assert.deepEqual(offers(a.onSubmit('gw', spec('r2', 'java'), 0)), [], 'nobody has java');
});

test('a refusal or a silent Worker passes the run to the next; acceptance starts it and flushes input', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 2), worker('w2', 1, 1)], 0);
  assert.deepEqual(offers(a.onSubmit('gw', spec('r1'), 0)), ['w1']);
  a.onGatewayMessage({ type: 'run_input', from: 'gw', id: 'r1', data: 'hello\n' }, 1);
  assert.deepEqual(offers(a.onOfferReply('w1', 'r1', false, 10)), ['w2'], 'refused: next');
  const timed = a.onTimer('offer|r1|2', 600);
  assert.deepEqual(offers(timed), [], 'both tried: nobody left now');
  assert.ok(timed.some((x) => x.kind === 'timer' && x.key === 'retry'));
  assert.deepEqual(offers(a.onTimer('retry', 800)), ['w1'], 'asked around again');
  const started = sends(a.onOfferReply('w1', 'r1', true, 810));
  assert.deepEqual(started.map((s) => [s.to, s.msg.type]), [['gw', 'run_started'], ['w1', 'run_input']]);
});

test('the queue is bounded: past it runs are refused with QUEUE_FULL, and positions are reported', () => {
  const a = new AssignerCore(OPTS);
  const positions: number[] = [];
  for (const id of ['a', 'b', 'c']) {
    const out = sends(a.onSubmit('gw', spec(id), 0));
    positions.push(...out.flatMap((s) => (s.msg.type === 'run_queued' && s.msg.id === id ? [s.msg.position] : [])));
  }
  assert.deepEqual(positions, [1, 2, 3]);
  const refused = sends(a.onSubmit('gw', spec('d'), 0));
  assert.equal(refused[0]?.msg.type, 'run_refused');
  assert.match(JSON.stringify(refused[0]?.msg), /QUEUE_FULL/);
});

test('a dead Worker ends its interactive runs as node_lost', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 2)], 0);
  a.onSubmit('gw', spec('r1', 'python', true), 0);
  a.onOfferReply('w1', 'r1', true, 1);
  const out = sends(a.onWorkerDead('w1', 2));
  assert.equal(out[0]?.msg.type, 'run_exit');
  assert.equal((out[0]?.msg as { result: { status: string } }).result.status, 'node_lost');
  assert.equal(a.runCount, 0);
});

test('a stale load report does not make the Assigner offer a slot its own run holds', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  a.onOfferReply('w1', 'r1', true, 1);
  a.onMonitorHeartbeat([worker('w1', 1)], 100); // sent before r1 started: still says 1 free
  assert.deepEqual(offers(a.onSubmit('gw', spec('r2'), 100)), [], 'w1 is busy with r1');
  const done = a.onWorkerMessage('w1', { type: 'run_exit', from: 'w1', id: 'r1', result: { status: 'ok', exit_code: 0, signal: null, cpu_time_ms: 1, wall_time_ms: 1, memory_kb: 1, language: 'python', version: '' } }, 200);
  assert.deepEqual(offers(done), ['w1'], 'the freed slot is offered at once');
});

test('a Worker\'s own word on its load: a full Worker is not asked again until it says a slot is free, then at once', () => {
  // Two Assigners place on the same Worker: this one learns of the other's run only from the Worker.
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1)], 0);
  assert.deepEqual(offers(a.onSubmit('gw', spec('r1'), 0)), ['w1']);
  const full = { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 0, slotsBusy: 1 };
  const refused = a.onOfferReply('w1', 'r1', false, 5, full);
  assert.deepEqual(offers(refused), [], 'the Worker said it is full');
  assert.deepEqual(offers(a.onMonitorHeartbeat([], 10)), [], 'still full as far as this Assigner knows');
  assert.deepEqual(offers(a.onMonitorHeartbeat([worker('w1', 1)], 12)), [], 'the Monitors\' older copy does not override the Worker\'s word');
  assert.deepEqual(offers(a.onWorkerLoad('w1', { ...full, slotsFree: 1, slotsBusy: 0 }, 20)), ['w1'], 'a slot came free: offered at once, not after the retry');
  assert.deepEqual(offers(a.onWorkerLoad('nobody', { ...full, slotsFree: 4 }, 21)), [], 'a Worker the Monitors never listed is ignored');
  const accepted = a.onOfferReply('w1', 'r1', true, 25, full);
  assert.ok(sends(accepted).some((x) => x.msg.type === 'run_started'));
  assert.deepEqual(offers(a.onSubmit('gw', spec('r2'), 30)), [], 'its reply counted the run it took');
  assert.deepEqual(offers(a.onMonitorHeartbeat([worker('w1', 1)], 40)), [], 'the run counts against the Monitors\' copy too');
  assert.deepEqual(offers(a.onWorkerMessage('w1', { type: 'run_exit', from: 'w1', id: 'r1', result: unmeasured('ok'), lastSeq: -1 }, 50)), ['w1'], 'its own run ended: the slot is free');
  a.onOfferReply('w1', 'r2', true, 60, full);
  assert.deepEqual(offers(a.onSubmit('gw', spec('r3'), 70)), []);
  assert.deepEqual(offers(a.onMonitorHeartbeat([worker('w1', 2, 0)], 500)), [], 'within a second the Worker\'s word stands');
  assert.deepEqual(offers(a.onMonitorHeartbeat([worker('w1', 2, 0)], 2000)), ['w1'], 'a second later the Monitors\' copy counts again');
});

test('a dead Worker\'s batch run starts again elsewhere, at most 3 placements', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1), worker('w2', 1), worker('w3', 1), worker('w4', 1)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  const placements: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const w = [...['w1', 'w2', 'w3', 'w4']].find((n) => a.runsOn(n).includes('r1')) ?? '';
    placements.push(w);
    a.onOfferReply(w, 'r1', true, attempt * 10);
    const out = sends(a.onWorkerDead(w, attempt * 10 + 1));
    if (attempt < 3) {
      assert.deepEqual(out.filter((s) => s.to === 'gw').map((s) => s.msg.type), ['run_restart']);
      assert.equal(offers(out).length, 1, 'offered to another Worker at once');
    } else {
      const exit = out.find((s) => s.msg.type === 'run_exit');
      assert.equal((exit?.msg as { result: { status: string } } | undefined)?.result.status, 'node_lost');
    }
  }
  assert.equal(new Set(placements).size, 3, `three different Workers: ${placements.join(',')}`);
  assert.equal(a.runCount, 0);
});

test('a Worker that refuted a suspicion (higher incarnation, same life) keeps its runs: it was only slow', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1)], 0);
  a.onSubmit('gw', spec('r1', 'python', true), 0);
  a.onOfferReply('w1', 'r1', true, 1);
  const out = sends(a.onMonitorHeartbeat([{ ...worker('w1', 1), incarnation: 2 }], 500));
  assert.deepEqual(out.map((s) => s.msg.type), [], 'no node_lost, no kill');
  assert.equal(a.runCount, 1);
  assert.deepEqual(a.runsOn('w1'), ['r1']);
});

test('a Worker that restarted (higher life) lost its runs', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1)], 0);
  a.onSubmit('gw', spec('r1', 'python', true), 0);
  a.onOfferReply('w1', 'r1', true, 1);
  const out = sends(a.onMonitorHeartbeat([{ ...worker('w1', 1), incarnation: 2, life: 2 }], 500));
  const exit = out.find((s) => s.msg.type === 'run_exit');
  assert.equal((exit?.msg as { result: { status: string } } | undefined)?.result.status, 'node_lost');
  assert.equal(a.runCount, 0);
});

test("a run a restarted Worker's new life took before the Monitors told of that life is not lost when they do (run path simulator, seed 1858)", () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 2)], 0);
  a.onSubmit('gw', spec('old', 'python', true), 0);
  a.onOfferReply('w1', 'old', true, 1, undefined, 1); // started on life 1
  a.onSubmit('gw', spec('new', 'python', true), 2);
  a.onOfferReply('w1', 'new', true, 3, undefined, 2); // w1 restarted: life 2 said yes
  const out = sends(a.onMonitorHeartbeat([{ ...worker('w1', 2), incarnation: 2, life: 2 }], 500));
  const exits = out.flatMap((s) => (s.msg.type === 'run_exit' ? [s.msg.id] : []));
  assert.deepEqual(exits, ['old'], "only the old life's run is lost");
  assert.equal(a.runCount, 1, "the new life's run goes on");
});

test('a Worker back with a new life: the run offered to the new life at once stays offered (found by the run path simulator, seed 12852)', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1)], 0);
  assert.deepEqual(offers(a.onSubmit('gw', spec('r1'), 0)), ['w1']);
  a.onSubmit('gw', spec('r2'), 1);
  // w1 restarted: r1's offer went to the old life; passing it over offers r2 to the new one.
  const back = a.onMonitorHeartbeat([{ ...worker('w1', 1), incarnation: 2, life: 2 }], 10);
  assert.deepEqual(offers(back), ['w1']);
  const started = sends(a.onOfferReply('w1', 'r2', true, 11));
  assert.deepEqual(started.map((x) => [x.to, x.msg.type]), [['gw', 'run_started']], 'started, not killed as a lost offer');
});

test('an ended attempt the Assigner gave up on is acknowledged, so the Worker takes the run again when offered (seed 12852)', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  a.onTimer('offer|r1|1', 600); // the yes is late
  const late = sends(a.onOfferReply('w1', 'r1', true, 601));
  assert.deepEqual(late.map((x) => [x.to, x.msg.type]), [['w1', 'run_kill']]);
  const ended = sends(a.onWorkerMessage('w1', { type: 'run_exit', from: 'w1', id: 'r1', result: unmeasured('ok'), lastSeq: -1 }, 602));
  assert.deepEqual(ended.map((x) => x.msg), [{ type: 'run_ack', from: OPTS.name, id: 'r1', seq: -1, exit: true }]);
});

test('an earlier attempt\'s end that comes while the run is offered to the same Worker again is acknowledged (seed 22977)', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1)], 0);
  assert.deepEqual(offers(a.onSubmit('gw', spec('r1'), 0)), ['w1']);
  // w1 restarted: the offer went to its new life, which ran the run; the Assigner passed it over
  // (and will kill that yes), then offers it to w1 again.
  assert.deepEqual(offers([...a.onMonitorHeartbeat([{ ...worker('w1', 1), incarnation: 2, life: 2 }], 10), ...a.onTimer('retry', 300)]), ['w1']);
  const ended = sends(a.onWorkerMessage('w1', { type: 'run_exit', from: 'w1', id: 'r1', result: unmeasured('ok'), lastSeq: -1 }, 301));
  assert.deepEqual(ended.map((x) => x.msg), [{ type: 'run_ack', from: OPTS.name, id: 'r1', seq: -1, exit: true }], 'the Worker may forget it and take the new offer');
});

test('a run killed while offered gives its offer\'s slot back: the next run is offered there (seed 12852)', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1)], 0);
  assert.deepEqual(offers(a.onSubmit('gw', spec('r1'), 0)), ['w1']);
  a.onGatewayMessage({ type: 'run_kill', from: 'gw', id: 'r1' }, 1); // the Worker never answers
  assert.deepEqual(offers(a.onSubmit('gw', spec('r2'), 2)), ['w1']);
});

test('a late yes for a run that moved on is told to stop', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1), worker('w2', 1)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  a.onTimer('offer|r1|1', 600); // w1 silent: offered to w2
  const late = sends(a.onOfferReply('w1', 'r1', true, 700));
  assert.deepEqual(late.map((s) => [s.to, s.msg.type]), [['w1', 'run_kill']]);
});

test('property: every accepted run ends with exactly one terminal message, whatever Workers do', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('yes', 'no', 'silent', 'die', 'kill'), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 6 }), (behaviour, runCount) => {
      const a = new AssignerCore({ ...OPTS, queueMax: 8 });
      let now = 0;
      const terminal = new Map<string, number>();
      const pendingOffers: Array<{ to: string; id: string }> = [];
      const timers: Array<{ key: string; atMs: number }> = [];
      const handle = (acts: AssignerAction[]) => {
        for (const x of acts) {
          if (x.kind === 'timer') timers.push(x);
          else if (x.kind === 'dropped') continue;
          else if (x.msg.type === 'offer') pendingOffers.push({ to: x.to, id: x.msg.run.id });
          else if (x.msg.type === 'run_exit' || x.msg.type === 'run_refused') terminal.set(x.msg.id, (terminal.get(x.msg.id) ?? 0) + 1);
        }
      };
      handle(a.onMonitorHeartbeat([worker('w1', 2), worker('w2', 2), worker('w3', 1)], now));
      for (let i = 0; i < runCount; i++) handle(a.onSubmit('gw', spec(`r${i}`), now));
      let step = 0;
      const running: Array<{ w: string; id: string }> = [];
      while ((pendingOffers.length || timers.length || running.length) && step < 400) {
        const b = behaviour[step++ % behaviour.length];
        now += 100;
        if (b === 'kill' && running.length) {
          const r = running.shift() as { w: string; id: string };
          handle(a.onGatewayMessage({ type: 'run_kill', from: 'gw', id: r.id }, now));
          handle(a.onWorkerMessage(r.w, { type: 'run_exit', from: r.w, id: r.id, result: { status: 'killed', exit_code: null, signal: 9, cpu_time_ms: 0, wall_time_ms: 0, memory_kb: 0, language: 'python', version: '' } }, now));
        } else if (pendingOffers.length) {
          const o = pendingOffers.shift() as { to: string; id: string };
          if (b === 'yes') {
            handle(a.onOfferReply(o.to, o.id, true, now));
            running.push({ w: o.to, id: o.id });
          } else if (b === 'no') handle(a.onOfferReply(o.to, o.id, false, now));
          else if (b === 'die') {
            handle(a.onWorkerDead(o.to, now));
            handle(a.onMonitorHeartbeat([worker(o.to, 1)], now)); // it came back
          }
        } else if (running.length && step % 3 === 0) {
          const r = running.shift() as { w: string; id: string };
          handle(a.onWorkerMessage(r.w, { type: 'run_exit', from: r.w, id: r.id, result: { status: 'ok', exit_code: 0, signal: null, cpu_time_ms: 1, wall_time_ms: 1, memory_kb: 1, language: 'python', version: '' } }, now));
        } else if (timers.length) {
          timers.sort((x, y) => x.atMs - y.atMs);
          const t = timers.shift() as { key: string; atMs: number };
          now = Math.max(now, t.atMs);
          handle(a.onMonitorHeartbeat([worker('w1', 2), worker('w2', 2), worker('w3', 1)], now));
          handle(a.onTimer(t.key, now));
        }
      }
      for (const [id, n] of terminal) assert.equal(n, 1, `run ${id} ended ${n} times`);
      if (a.runCount === 0) assert.equal(terminal.size, runCount, 'every run ended');
    }),
    { numRuns: 300 },
  );
});

test('an evicted batch run is placed on another Worker', () => {
  const a = new AssignerCore(OPTS);
  a.onMonitorHeartbeat([worker('w1', 1), worker('w2', 1)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  const first = ['w1', 'w2'].find((n) => a.runsOn(n).includes('r1')) as string;
  a.onOfferReply(first, 'r1', true, 1);
  const out = sends(a.onEvicted(first, 'r1', 2));
  assert.deepEqual(out.filter((s) => s.to === 'gw').map((s) => s.msg.type), ['run_restart']);
  assert.deepEqual(offers(out), [first === 'w1' ? 'w2' : 'w1']);
});

// ---- buddy replication and takeover ------------------------------------------------------------

const chunk = (seq: number, text = `line ${seq}\n`) => ({ seq, stream: 'stdout' as const, data: new Uint8Array(Buffer.from(text)) });
const to = (a: AssignerAction[], who: string, type?: string) => sends(a).filter((s) => s.to === who && (type === undefined || s.msg.type === type)).map((s) => s.msg);

/** Delivers every replica message one Assigner sent to another, returning what the receiver answered. */
function deliver(from: AssignerCore, fromName: string, toCore: AssignerCore, toName: string, actions: AssignerAction[]): AssignerAction[] {
  const out: AssignerAction[] = [];
  for (const s of sends(actions)) {
    if (s.to !== toName || !s.msg.type.startsWith('replica_')) continue;
    out.push(...toCore.onReplica(fromName, s.msg as Parameters<AssignerCore['onReplica']>[1], 0));
  }
  void from;
  return out;
}

test('output is copied to the buddy and the Worker is acknowledged only once the buddy holds it', () => {
  const a = new AssignerCore({ ...OPTS, name: 'a' });
  const b = new AssignerCore({ ...OPTS, name: 'b' });
  a.setBuddy('b');
  b.setBuddy('a');
  a.onMonitorHeartbeat([worker('w1', 2)], 0);
  const submitted = a.onSubmit('gw', spec('r1'), 0);
  assert.deepEqual(to(submitted, 'w1', 'offer').map((m) => (m as { buddy: string }).buddy), ['b'], 'the offer names the buddy');
  const holdAck = deliver(a, 'a', b, 'b', submitted);
  const started = a.onOfferReply('w1', 'r1', true, 1);
  assert.equal(to(started, 'gw', 'run_started').length, 0, 'the Gateway hears of the run only once the buddy holds it');
  deliver(a, 'a', b, 'b', started);
  const released = a.onReplica('b', (sends(holdAck)[0] as { msg: Parameters<AssignerCore['onReplica']>[1] }).msg, 1);
  assert.equal(to(released, 'gw', 'run_started').length, 1, 'released by the buddy\'s acknowledgement of the hold');
  const out = a.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(0), chunk(1)] }, 2);
  assert.equal(to(out, 'gw', 'run_output').length, 1, 'relayed at once');
  assert.equal(to(out, 'w1', 'run_ack').length, 0, 'not acknowledged before the buddy has it');
  const replies = deliver(a, 'a', b, 'b', out);
  assert.deepEqual(replies.map((r) => r.kind === 'send' && r.msg), [{ type: 'replica_ack', from: 'b', id: 'r1', seq: 1, exit: false }]);
  const acked = a.onReplica('b', (sends(replies)[0] as { msg: Parameters<AssignerCore['onReplica']>[1] }).msg, 3);
  assert.deepEqual(to(acked, 'w1'), [{ type: 'run_ack', from: 'a', id: 'r1', seq: 1, exit: false }]);
});

test('an unpaired Assigner acknowledges the Worker at once', () => {
  const a = new AssignerCore({ ...OPTS, name: 'a' });
  a.onMonitorHeartbeat([worker('w1', 2)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  a.onOfferReply('w1', 'r1', true, 1);
  const out = a.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(0)] }, 2);
  assert.deepEqual(to(out, 'w1', 'run_ack'), [{ type: 'run_ack', from: 'a', id: 'r1', seq: 0, exit: false }]);
});

test('the buddy takes a dead Assigner\'s runs over: Worker and Gateway are told, nothing is lost or repeated', () => {
  const a = new AssignerCore({ ...OPTS, name: 'a' });
  const b = new AssignerCore({ ...OPTS, name: 'b' });
  a.setBuddy('b');
  b.setBuddy('a');
  a.onMonitorHeartbeat([worker('w1', 2), worker('w2', 2)], 0);
  b.onMonitorHeartbeat([worker('w1', 2), worker('w2', 2)], 0);
  // r1 runs on w1 with 3 chunks, of which the buddy got 2 (the 3rd was in flight when a died).
  deliver(a, 'a', b, 'b', a.onSubmit('gw', spec('r1', 'python', true), 0));
  deliver(a, 'a', b, 'b', a.onOfferReply('w1', 'r1', true, 1));
  deliver(a, 'a', b, 'b', a.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(0), chunk(1)] }, 2));
  a.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(2)] }, 3); // never copied
  // r2 was queued at a (no Worker yet).
  deliver(a, 'a', b, 'b', a.onSubmit('gw', spec('r2'), 4));
  const taken = b.onBuddyLost('a', 10);
  assert.deepEqual(to(taken, 'w1', 'run_takeover').map((m) => (m as { id: string }).id), ['r1']);
  assert.deepEqual(to(taken, 'gw', 'run_takeover').map((m) => (m as { id: string }).id).sort(), ['r1', 'r2']);
  assert.equal(b.runCount, 2);
  // The Worker sends again what was not acknowledged (chunks 1 and 2): only 2 is new.
  const resent = b.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(1), chunk(2)] }, 11);
  assert.deepEqual(to(resent, 'gw', 'run_output').flatMap((m) => (m as { chunks: Array<{ seq: number }> }).chunks.map((c) => c.seq)), [2]);
  assert.deepEqual(to(resent, 'w1', 'run_ack'), [{ type: 'run_ack', from: 'b', id: 'r1', seq: 2, exit: false }], 'unpaired now: acknowledged at once');
  // The Gateway got 0..1 before a died and attaches after seq 1.
  const attached = b.onAttach('gw', 'r1', 1);
  assert.equal(to(attached, 'gw', 'run_attached').length, 1);
  assert.deepEqual(to(attached, 'gw', 'run_output').flatMap((m) => (m as { chunks: Array<{ seq: number }> }).chunks.map((c) => c.seq)), [2]);
  // Input sent again after the takeover reaches the Worker; the exit ends the run once.
  assert.deepEqual(to(b.onGatewayMessage({ type: 'run_input', from: 'gw', id: 'r1', data: 'x\n', n: 1 }, 12), 'w1', 'run_input').length, 1);
  const exit = b.onWorkerMessage('w1', { type: 'run_exit', from: 'w1', id: 'r1', result: unmeasured('ok') }, 13);
  assert.equal(to(exit, 'gw', 'run_exit').length, 1);
  assert.deepEqual(to(exit, 'w1', 'run_ack'), [{ type: 'run_ack', from: 'b', id: 'r1', seq: 2, exit: true }]);
  assert.equal(b.runCount, 1, 'r2 still to place');
});

test('the buddy takes over a run whose Worker was declared dead first: it ends (interactive) or starts again (batch) at once', () => {
  // Found by the run path simulator (seed 2144): the Worker died, then its Assigner; the Workers'
  // death reached only the buddy, which did not hold the run yet; taking it over later it waited
  // for that Worker for ever and the client never read an exit.
  const a = new AssignerCore({ ...OPTS, name: 'a' });
  const b = new AssignerCore({ ...OPTS, name: 'b' });
  a.setBuddy('b');
  b.setBuddy('a');
  for (const x of [a, b]) x.onMonitorHeartbeat([worker('w1', 2)], 0);
  deliver(a, 'a', b, 'b', a.onSubmit('gw', spec('r1', 'python', true), 0));
  deliver(a, 'a', b, 'b', a.onOfferReply('w1', 'r1', true, 1));
  deliver(a, 'a', b, 'b', a.onSubmit('gw', spec('r2'), 2));
  deliver(a, 'a', b, 'b', a.onOfferReply('w1', 'r2', true, 3));
  b.onMonitorHeartbeat([worker('w1', 2), worker('w2', 2)], 4);
  b.onWorkerDead('w1', 5);
  const taken = b.onBuddyLost('a', 10);
  assert.deepEqual(to(taken, 'w1', 'run_takeover'), [], 'nothing goes to the dead Worker');
  const exits = to(taken, 'gw', 'run_exit') as Array<{ id: string; result: { status: string } }>;
  assert.deepEqual(exits.map((m) => [m.id, m.result.status]), [['r1', 'node_lost']]);
  assert.deepEqual(to(taken, 'gw', 'run_restart').map((m) => (m as { id: string }).id), ['r2']);
  assert.deepEqual(offers(taken), ['w2'], 'the batch run is placed again');
});

test('a new buddy gets a full copy of every run; a Worker claim settles a run taken over while offered', () => {
  const a = new AssignerCore({ ...OPTS, name: 'a' });
  const b = new AssignerCore({ ...OPTS, name: 'b' });
  a.onMonitorHeartbeat([worker('w1', 2)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  a.onOfferReply('w1', 'r1', true, 1);
  a.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(0), chunk(1)] }, 2);
  const copy = a.setBuddy('b');
  assert.deepEqual(sends(copy).map((s) => s.msg.type), ['replica_hold', 'replica_placed', 'replica_output']);
  deliver(a, 'a', b, 'b', copy);
  assert.equal(b.replicaCount, 1);
  // r2: offered by a to w1, a dies before telling b where it went; w1's claim tells b.
  deliver(a, 'a', b, 'b', a.onSubmit('gw', spec('r2'), 3));
  const taken = b.onBuddyLost('a', 10);
  assert.equal(to(taken, 'gw', 'run_takeover').length, 2);
  const claimed = b.onClaim('w1', 'r2');
  assert.deepEqual(sends(claimed).map((s) => [s.to, s.msg.type]), [['w1', 'run_takeover'], ['gw', 'run_started']]);
});

test('finished runs are kept for a Gateway failover, then forgotten', () => {
  const a = new AssignerCore({ ...OPTS, name: 'a', finishedRetainMs: 1000 });
  a.onMonitorHeartbeat([worker('w1', 2)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  a.onOfferReply('w1', 'r1', true, 1);
  a.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(0)] }, 2);
  const exit = a.onWorkerMessage('w1', { type: 'run_exit', from: 'w1', id: 'r1', result: unmeasured('ok') }, 3);
  const timer = exit.find((x) => x.kind === 'timer' && x.key === 'expire');
  assert.ok(timer);
  const late = a.onAttach('gw-2', 'r1', -1);
  assert.deepEqual(sends(late).map((s) => [s.to, s.msg.type]), [['gw-2', 'run_attached'], ['gw-2', 'run_output'], ['gw-2', 'run_exit']]);
  a.onTimer('expire', 2000);
  assert.deepEqual(a.onAttach('gw-2', 'r1', -1), [], 'forgotten after finishedRetainMs');
});

test('finished runs kept for failover do not crowd out new copies: the count bound forgets the oldest', () => {
  const b = new AssignerCore({ ...OPTS, name: 'b', runsMax: 4, queueMax: 2, finishedRetainCountMax: 3 });
  for (let i = 0; i < 20; i++) {
    const id = `r${i}`;
    b.onReplica('a', { type: 'replica_hold', from: 'a', id, gateway: 'gw', run: spec(id), attempts: 0 }, i);
    b.onReplica('a', { type: 'replica_exit', from: 'a', id, result: unmeasured('ok') }, i);
  }
  assert.equal(b.replicaCount, 3, 'only the newest 3 finished copies are kept');
  b.onReplica('a', { type: 'replica_hold', from: 'a', id: 'live', gateway: 'gw', run: spec('live'), attempts: 0 }, 30);
  const ack = b.onReplica('a', { type: 'replica_output', from: 'a', id: 'live', chunks: [chunk(0)] }, 31);
  assert.equal(sends(ack)[0]?.msg.type, 'replica_ack', 'a new run is still copied');
});

test('an Assigner leaving the role hands every run to another, which takes them over', () => {
  const a = new AssignerCore({ ...OPTS, name: 'a' });
  const c = new AssignerCore({ ...OPTS, name: 'c' });
  a.onMonitorHeartbeat([worker('w1', 2)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  a.onOfferReply('w1', 'r1', true, 1);
  a.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(0), chunk(1)] }, 2);
  const handed = a.handOff('c');
  assert.equal(a.runCount, 0);
  assert.deepEqual(sends(handed).map((s) => s.msg.type), ['replica_hold', 'replica_placed', 'replica_output', 'replica_handoff']);
  const out: AssignerAction[] = [];
  for (const s of sends(handed)) out.push(...c.onReplica('a', s.msg as Parameters<AssignerCore['onReplica']>[1], 3));
  assert.deepEqual(to(out, 'w1', 'run_takeover').length, 1);
  assert.deepEqual(to(out, 'gw', 'run_takeover').length, 1);
  assert.equal(c.runCount, 1);
  const attached = c.onAttach('gw', 'r1', 0);
  assert.deepEqual(to(attached, 'gw', 'run_output').flatMap((m) => (m as { chunks: Array<{ seq: number }> }).chunks.map((x) => x.seq)), [1]);
});

test('input held before a run has a Worker stops at HELD_INPUT_MAX: the drop is counted and reported once', () => {
  const a = new AssignerCore(OPTS);
  a.onSubmit('gw', spec('r1'), 0); // no Worker known: the run waits in the queue
  const drops: AssignerAction[] = [];
  for (let i = 0; i < HELD_INPUT_MAX + 3; i++) drops.push(...a.onGatewayMessage({ type: 'run_input', from: 'gw', id: 'r1', data: `${i}\n` }, 1));
  assert.deepEqual(drops, [{ kind: 'dropped', bound: 'held_input', run: 'r1', boundMax: HELD_INPUT_MAX }]);
  assert.equal(a.dropCounts.held_input, 3);
  assert.equal(a.dropCounts.deferred_gateway, 0);
});

test('messages for the Gateway waiting for the buddy\'s hold stop at DEFERRED_MAX: counted and reported once', () => {
  const a = new AssignerCore({ ...OPTS, name: 'a' });
  a.setBuddy('b');
  a.onMonitorHeartbeat([worker('w1', 2)], 0);
  a.onSubmit('gw', spec('r1'), 0);
  a.onOfferReply('w1', 'r1', true, 1); // run_started waits: the buddy never acknowledges the hold
  const drops: AssignerAction[] = [];
  for (let i = 0; i < DEFERRED_MAX + 1; i++) {
    drops.push(...a.onWorkerMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(i)] }, 2).filter((x) => x.kind === 'dropped'));
  }
  assert.deepEqual(drops, [{ kind: 'dropped', bound: 'deferred_gateway', run: 'r1', boundMax: DEFERRED_MAX }]);
  assert.equal(a.dropCounts.deferred_gateway, 2, 'run_started and DEFERRED_MAX outputs were offered; two did not fit');
});
