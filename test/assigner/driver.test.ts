import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { AssignerCore } from '../../src/assigner/core.js';
import { ACK_COALESCE_MS, AssignerDriver, Deadlines, HANDOFF_LOOK_MS, WORKER_SILENT_LOST_MS, type AssignerSight } from '../../src/assigner/driver.js';
import type { KnownWorker } from '../../src/cluster/assigner-view.js';
import type { AssignerState } from '../../src/cluster/messages.js';
import type { RunMessage, RunSpecWire } from '../../src/protocol/run-messages.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';
import { ManualClock } from '../../src/worker/twins.js';

const OFFER_TIMEOUT_MS = 500;
const OPTS = { name: 'asg-1', queueMax: 3, offerTimeoutMs: OFFER_TIMEOUT_MS, psiAcceptBelow: 0.6, workerStaleMs: 5000, retryAfterMs: 200, runsMax: 16, finishedRetainMs: 60_000, finishedRetainBytesMax: 1 << 20, finishedRetainCountMax: 100 };
const spec = (id: string, interactive = false): RunSpecWire => ({ id, user: 'u', language: 'python', files: [{ name: 'main.py', content: 'print(1)' }], main: 'main.py', stdin: '', interactive, limits: { ...DEFAULT_LIMITS } });
const known = (name: string, free = 2): KnownWorker => ({ name, incarnation: 1, life: 1, load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: free, slotsBusy: 0 }, languages: ['python'], monitor: 'm-1', heardAtMs: 0 });
const result = { status: 'ok' as const, exit_code: 0, signal: null, cpu_time_ms: 1, wall_time_ms: 1, memory_kb: 1, language: 'python', version: '' };

/** The node's view as a test sets it: Workers the Monitors report, deaths, Assigners' states, the table. */
class FakeSight implements AssignerSight {
  workers: KnownWorker[] = [];
  deaths: string[] = [];
  assigners = new Map<string, AssignerState>();
  buddyName: string | null = null;
  live: string[] = [];
  view() {
    return {
      known: () => this.workers,
      takeDeaths: () => this.deaths.splice(0),
      assigner: (name: string) => this.assigners.get(name),
    };
  }
  buddy() {
    return this.buddyName;
  }
  liveAssigners() {
    return this.live;
  }
  /** The node's cluster core steps (a Monitor's heartbeat arrived, its own heartbeat beat). */
  private readonly listeners = new Set<() => void>();
  watch(listener: () => void) {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  get watchers() {
    return this.listeners.size;
  }
  step() {
    for (const l of [...this.listeners]) l();
  }
}

/** Time between two steps of the node's cluster core in these tests (any will do). */
const STEP_MS = 100;

/** Links that record every send; whenWritable resolves when the test says the link has room. */
class RecordingLinks {
  sent: Array<{ to: string; msg: RunMessage }> = [];
  private waiting: Array<() => void> = [];
  send(to: string, msg: RunMessage) {
    this.sent.push({ to, msg });
    return true;
  }
  whenWritable(_to: string) {
    return new Promise<void>((r) => this.waiting.push(r));
  }
  drainLinks() {
    for (const r of this.waiting.splice(0)) r();
  }
  take(): Array<[string, string]> {
    return this.sent.splice(0).map((s) => [s.to, s.msg.type]);
  }
}

function setup() {
  const clock = new ManualClock(1_000);
  const core = new AssignerCore(OPTS);
  const links = new RecordingLinks();
  const sight = new FakeSight();
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  const driver = new AssignerDriver({ core, clock, links, sight, log, self: 'asg-1', runsMax: OPTS.runsMax });
  driver.start();
  /** Time passes, then the node's cluster core steps: the driver reads the view. */
  const nodeStep = (): void => {
    clock.advance(STEP_MS);
    sight.step();
  };
  return { clock, core, links, sight, lines, driver, nodeStep };
}

test('the Monitors\' loads reach the core each poll; an unanswered offer moves on by the one wake timer', () => {
  const { clock, links, sight, driver, nodeStep } = setup();
  sight.workers = [known('w1', 4), known('w2', 1)];
  nodeStep();
  driver.onMessage('gw', { type: 'run_submit', from: 'gw', run: spec('r1') });
  assert.deepEqual(links.take(), [['w1', 'offer']]);
  // One wake timer, however many deadlines the core holds; the view is read in the node's steps.
  assert.equal(clock.pendingTimers, 1);
  clock.advance(OFFER_TIMEOUT_MS - 1);
  assert.deepEqual(links.take().filter(([, t]) => t === 'offer'), [], 'not yet');
  clock.advance(1);
  assert.deepEqual(links.take(), [['w2', 'offer']], 'w1 stayed silent: the next Worker is asked');
  driver.stop();
  assert.equal(clock.pendingTimers, 0, 'stop leaves no timer behind');
  assert.equal(sight.watchers, 0, 'nor a listener on the node\'s steps');
});

test('acks to a Worker are merged within ACK_COALESCE_MS; the end\'s ack goes at once; output waits for the Gateway\'s link', async () => {
  const { clock, links, sight, driver, nodeStep } = setup();
  sight.workers = [known('w1')];
  nodeStep();
  driver.onMessage('gw', { type: 'run_submit', from: 'gw', run: spec('r1', true) });
  driver.onMessage('w1', { type: 'offer_reply', from: 'w1', id: 'r1', accepted: true });
  links.take();
  const chunk = (seq: number) => ({ seq, stream: 'stdout' as const, data: new Uint8Array([65 + seq]) });
  const held = driver.onMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(0)] });
  assert.ok(held instanceof Promise, 'output to the Gateway holds the Worker\'s link until the Gateway\'s has room');
  let released = false;
  void held.then(() => (released = true));
  driver.onMessage('w1', { type: 'run_output', from: 'w1', id: 'r1', chunks: [chunk(1)] });
  assert.deepEqual(links.take(), [['gw', 'run_output'], ['gw', 'run_output']], 'no ack yet: merged');
  clock.advance(ACK_COALESCE_MS);
  const acks = links.sent.splice(0);
  assert.deepEqual(acks.map((s) => [s.to, s.msg.type, (s.msg as { seq: number }).seq]), [['w1', 'run_ack', 1]], 'one ack, the newest');
  await Promise.resolve();
  assert.equal(released, false);
  links.drainLinks();
  await held;
  assert.equal(released, true);
  driver.onMessage('w1', { type: 'run_exit', from: 'w1', id: 'r1', result, lastSeq: 1 });
  const end = links.sent.splice(0);
  assert.deepEqual(end.map((s) => [s.to, s.msg.type]), [['gw', 'run_exit'], ['w1', 'run_ack']], 'the end and its ack go at once');
  assert.equal((end[1]?.msg as { exit: boolean }).exit, true);
  driver.stop();
});

test('a Worker the Monitors declare dead, or one missing from their loads for WORKER_SILENT_LOST_MS, loses its runs', () => {
  const { clock, links, sight, lines, driver, nodeStep } = setup();
  sight.workers = [known('w1'), known('w2')];
  nodeStep();
  for (const id of ['r1', 'r2']) driver.onMessage('gw', { type: 'run_submit', from: 'gw', run: spec(id, true) });
  const offered = links.sent.splice(0).map((s) => s.to);
  assert.deepEqual(offered, ['w1', 'w2']);
  driver.onMessage('w1', { type: 'offer_reply', from: 'w1', id: 'r1', accepted: true });
  driver.onMessage('w2', { type: 'offer_reply', from: 'w2', id: 'r2', accepted: true });
  links.take();

  sight.deaths = ['w1'];
  sight.workers = [known('w2')];
  nodeStep();
  const lost1 = links.sent.splice(0).filter((s) => s.msg.type === 'run_exit');
  assert.deepEqual(lost1.map((s) => [s.to, (s.msg as { id: string }).id, (s.msg as { result: { status: string } }).result.status]), [['gw', 'r1', 'node_lost']]);

  sight.workers = [];
  nodeStep();
  clock.advance(WORKER_SILENT_LOST_MS - 1);
  assert.deepEqual(links.take().filter(([, t]) => t === 'run_exit'), [], 'missing, not yet lost');
  // No step of the node's core came meanwhile: the driver's own timer for it is due.
  clock.advance(1);
  const lost2 = links.sent.splice(0).filter((s) => s.msg.type === 'run_exit');
  assert.deepEqual(lost2.map((s) => (s.msg as { id: string }).id), ['r2']);
  assert.ok(lines.some((l) => l.includes('missing from the Monitors')));
  driver.stop();
});

test('the buddy of the newest order is copied to; a buddy back with a higher life is lost, its runs taken over; a refuting one is not', () => {
  const { clock, core, sight, lines, driver, nodeStep } = setup();
  sight.buddyName = 'asg-2';
  sight.assigners.set('asg-2', { name: 'asg-2', incarnation: 1, life: 1, status: 'alive', buddy: 'asg-1' });
  nodeStep();
  assert.equal(core.buddyName, 'asg-2');
  assert.ok(!lines.some((l) => l.includes('buddy_lost')));
  sight.assigners.set('asg-2', { name: 'asg-2', incarnation: 2, life: 1, status: 'alive', buddy: 'asg-1' });
  nodeStep();
  assert.ok(!lines.some((l) => l.includes('buddy_lost')), 'suspected and refuted, the same life: its runs are its own still');
  sight.assigners.set('asg-2', { name: 'asg-2', incarnation: 3, life: 3, status: 'alive', buddy: 'asg-1' });
  nodeStep();
  assert.equal(lines.filter((l) => l.includes('"buddy_lost"')).length, 1, 'a new life: its state is gone');
  nodeStep();
  assert.equal(lines.filter((l) => l.includes('"buddy_lost"')).length, 1, 'lost once, then watched as the new life');
  driver.stop();
});

test('a buddy declared dead while the pair order still names it is taken over once: no copy to it, its runs not re-taken every poll', () => {
  const { clock, core, links, sight, lines, driver, nodeStep } = setup();
  sight.workers = [known('w1')];
  sight.buddyName = 'asg-2';
  sight.assigners.set('asg-2', { name: 'asg-2', incarnation: 1, life: 1, status: 'alive', buddy: 'asg-1' });
  nodeStep();
  assert.equal(core.buddyName, 'asg-2');
  driver.onMessage('gw', { type: 'run_submit', from: 'gw', run: spec('r1', true) });
  driver.onMessage('w1', { type: 'offer_reply', from: 'w1', id: 'r1', accepted: true });
  driver.onMessage('asg-2', { type: 'replica_hold', from: 'asg-2', id: 'r2', gateway: 'gw', run: spec('r2', true), attempts: 0 });
  driver.onMessage('asg-2', { type: 'replica_placed', from: 'asg-2', id: 'r2', worker: 'w1' });
  links.take();

  // The Monitors declare it dead; the leader has not re-paired yet (the order is stale).
  sight.assigners.set('asg-2', { name: 'asg-2', incarnation: 1, life: 1, status: 'dead', buddy: 'asg-1' });
  for (let i = 0; i < 20; i++) nodeStep();
  assert.equal(lines.filter((l) => l.includes('"buddy_lost"')).length, 1, 'its runs are taken over once');
  assert.equal(core.buddyName, null, 'a dead buddy is no buddy, whatever the stale order says');
  const sent = links.sent.splice(0);
  assert.deepEqual(sent.filter((s) => s.to === 'asg-2').map((s) => s.msg.type), [], 'nothing copied to the dead buddy');
  assert.deepEqual(sent.filter((s) => s.msg.type === 'run_takeover').map((s) => s.to), ['gw', 'w1'], 'its run taken over once: its Gateway and Worker told once');

  // Its next life is the buddy again (the same order): one full copy, no takeover.
  sight.assigners.set('asg-2', { name: 'asg-2', incarnation: 2, life: 2, status: 'alive', buddy: 'asg-1' });
  nodeStep();
  assert.equal(core.buddyName, 'asg-2');
  const copied = links.take().filter(([to]) => to === 'asg-2');
  assert.deepEqual(copied.filter(([, t]) => t === 'replica_hold'), [['asg-2', 'replica_hold'], ['asg-2', 'replica_hold']], 'its own run and the one taken over, copied once');
  for (let i = 0; i < 5; i++) nodeStep();
  assert.deepEqual(links.take().filter(([to, t]) => to === 'asg-2' && t === 'replica_hold'), [], 'and not again');
  assert.equal(lines.filter((l) => l.includes('"buddy_lost"')).length, 1);
  driver.stop();
});

test('drain hands the runs to another live Assigner (never itself or its buddy), looking again every HANDOFF_LOOK_MS', async () => {
  const { clock, links, sight, driver, nodeStep } = setup();
  sight.buddyName = 'asg-2';
  nodeStep();
  driver.onMessage('gw', { type: 'run_submit', from: 'gw', run: spec('r1') });
  links.take();
  sight.live = ['asg-1', 'asg-2'];
  const drained = driver.drain();
  await Promise.resolve();
  assert.deepEqual(links.take().filter(([, t]) => t === 'replica_handoff'), [], 'only itself and its buddy: wait');
  sight.live = ['asg-1', 'asg-2', 'asg-3'];
  clock.advance(HANDOFF_LOOK_MS);
  await drained;
  const sent = links.take();
  assert.ok(sent.some(([to, t]) => to === 'asg-3' && t === 'replica_hold'), 'the run is copied over');
  assert.deepEqual(sent.at(-1), ['asg-3', 'replica_handoff']);
  assert.deepEqual(driver.load(), { slotsBusy: 0, slotsFree: OPTS.runsMax, queued: 0 });
  driver.stop();
});

test('Deadlines: a key set again moves; due keys come out earliest first and only once', () => {
  const d = new Deadlines();
  assert.equal(d.next(), null);
  d.set('a', 30);
  d.set('b', 10);
  d.set('a', 5);
  d.set('c', 50);
  assert.equal(d.next(), 5);
  assert.deepEqual(d.takeDue(10), ['a', 'b']);
  assert.deepEqual(d.takeDue(10), []);
  assert.equal(d.next(), 50);
});
