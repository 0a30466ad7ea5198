import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/agent/log.js';
import type { RunMessage, RunSpecWire } from '../../src/protocol/run-messages.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';
import { END_RESEND_MS, UNACKED_BYTES_MAX, WorkerCore } from '../../src/worker/core.js';
import { WorkerDriver, type WorkerLinks } from '../../src/worker/driver.js';
import type { Pressure } from '../../src/worker/psi.js';
import { ManualClock, ScriptedSandbox, type ProgramStep } from '../../src/worker/twins.js';

// The Worker's real driver and core, over the twins: a manual clock, scripted programs and links
// that record what is sent. No sockets, no sandbox, no sleeping.

const spec = (id: string, interactive = false): RunSpecWire => ({ id, user: 'u', language: 'python', files: [{ name: 'main.py', content: '' }], main: 'main.py', stdin: '', interactive, limits: { ...DEFAULT_LIMITS } });

class RecordingLinks implements WorkerLinks {
  readonly sent: Array<{ to: string; msg: RunMessage }> = [];
  send(to: string, msg: RunMessage): boolean {
    this.sent.push({ to, msg });
    return true;
  }
  /** Links that never drain (a dead peer's, until the transport gives up on it). */
  readonly stuck = new Set<string>();
  whenWritable(to: string): Promise<void> {
    return this.stuck.has(to) ? new Promise<void>(() => {}) : Promise.resolve();
  }
  of<T extends RunMessage['type']>(type: T): Array<Extract<RunMessage, { type: T }>> {
    return this.sent.map((s) => s.msg).filter((m): m is Extract<RunMessage, { type: T }> => m.type === type);
  }
  /** Everything the program wrote, as the Assigner reassembles it from run_output. */
  text(id: string): string {
    const bytes = this.of('run_output').filter((m) => m.id === id).flatMap((m) => m.chunks.map((c) => Buffer.from(c.data)));
    return Buffer.concat(bytes).toString();
  }
}

function setup(programOf: (run: RunSpecWire) => readonly ProgramStep[]) {
  const clock = new ManualClock(1_000);
  const sandbox = new ScriptedSandbox(programOf);
  const links = new RecordingLinks();
  let pressure: Pressure = { cpu: 0, memory: 0, io: 0 };
  const core = new WorkerCore({ name: 'w-1', slots: 2, psiAcceptBelow: 0.6, psiPauseAbove: 0.85, languages: ['python'] });
  const driver = new WorkerDriver({ core, clock, sandbox, links, pressure: () => pressure, log: createLogger('w-1', 'silent') });
  return { clock, sandbox, links, core, driver, setPressure: (p: Pressure) => (pressure = p) };
}

/** Lets the scripted programs and the driver's pumps run until cond holds (bounded). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never happened: ${what}`);
}

test('a batch run: accepted, its output relayed in order, its end sent and resent until acknowledged', async () => {
  const { clock, links, core, driver } = setup(() => [{ do: 'print', text: 'hello\n' }, { do: 'print', text: 'oops\n', stream: 'stderr' }, { do: 'exit', code: 3 }]);
  driver.onMessage('asg-a', { type: 'offer', from: 'asg-a', run: spec('r1'), buddy: 'asg-b' });
  assert.deepEqual(links.sent.slice(0, 2).map((s) => [s.to, s.msg.type]), [['asg-a', 'offer_reply'], ['asg-b', 'run_claim']]);
  await until(() => links.of('run_exit').length === 1, 'the run ends');
  assert.equal(links.text('r1'), 'hello\noops\n');
  const exit = links.of('run_exit')[0];
  assert.equal(exit?.result.status, 'runtime_error');
  assert.equal(exit?.lastSeq, 1);
  assert.equal(core.runningCount, 0);
  clock.advance(END_RESEND_MS);
  assert.equal(links.of('run_exit').length, 2, 'not acknowledged: sent again');
  driver.onMessage('asg-a', { type: 'run_ack', from: 'asg-a', id: 'r1', seq: 1, exit: true });
  assert.equal(clock.pendingTimers, 0, 'nothing left to wait for');
  clock.advance(60_000);
  assert.equal(links.of('run_exit').length, 2);
});

test('an interactive run: numbered input reaches the program once, EOF ends it', async () => {
  const { sandbox, links, driver } = setup(() => [{ do: 'echo_line' }, { do: 'echo_line' }, { do: 'echo_line' }]);
  driver.onMessage('asg-a', { type: 'offer', from: 'asg-a', run: spec('r1', true), buddy: null });
  driver.onMessage('asg-a', { type: 'run_input', from: 'asg-a', id: 'r1', data: 'one\n', n: 1 });
  driver.onMessage('asg-a', { type: 'run_input', from: 'asg-a', id: 'r1', data: 'one\n', n: 1 });
  driver.onMessage('asg-a', { type: 'run_input', from: 'asg-a', id: 'r1', data: 'two\n', n: 2 });
  await until(() => links.text('r1') === 'one\ntwo\n', 'both lines echoed');
  assert.deepEqual(sandbox.runOf('r1')?.written, ['one\n', 'two\n'], 'the resent line was dropped');
  driver.onMessage('asg-a', { type: 'run_eof', from: 'asg-a', id: 'r1', n: 3 });
  await until(() => links.of('run_exit').length === 1, 'EOF ends it');
  assert.equal(links.of('run_exit')[0]?.result.status, 'ok');
});

test('output past the unacknowledged bound pauses the program until the pair acknowledges it', async () => {
  const big = 'x'.repeat(1024 * 1024);
  const { links, sandbox, driver } = setup(() => [...Array.from({ length: 6 }, () => ({ do: 'print' as const, text: big })), { do: 'exit', code: 0 }]);
  driver.onMessage('asg-a', { type: 'offer', from: 'asg-a', run: spec('r1'), buddy: null });
  const relayed = () => links.of('run_output').reduce((n, m) => n + m.chunks.reduce((k, c) => k + c.data.byteLength, 0), 0);
  await until(() => relayed() > UNACKED_BYTES_MAX, 'output up to the bound');
  for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
  const held = relayed();
  assert.ok(held < UNACKED_BYTES_MAX + 100 * 1024, `paused just past the bound (${held} bytes relayed)`);
  assert.equal(links.of('run_exit').length, 0, 'the program is blocked on its output');
  assert.equal(sandbox.runOf('r1')?.output.isFull, true);
  const lastSeq = Math.max(...links.of('run_output').flatMap((m) => m.chunks.map((c) => c.seq)));
  driver.onMessage('asg-a', { type: 'run_ack', from: 'asg-a', id: 'r1', seq: lastSeq, exit: false });
  await until(() => links.of('run_exit').length === 1, 'acknowledged: the run goes on and ends');
  assert.equal(relayed(), 6 * big.length);
});

test('a window nobody acknowledges opens again after each ack wait, so the run still ends', async () => {
  const big = 'x'.repeat(1024 * 1024);
  const { clock, links, driver } = setup(() => [...Array.from({ length: 4 }, () => ({ do: 'print' as const, text: big })), { do: 'print', text: 'x'.repeat(200_000) }, { do: 'exit', code: 0 }]);
  driver.onMessage('asg-a', { type: 'offer', from: 'asg-a', run: spec('r1'), buddy: null });
  await until(() => clock.pendingTimers === 1, 'the window closed and its deadline is set');
  for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
  assert.equal(links.of('run_exit').length, 0, 'paused without acks');
  // Still unacknowledged, each batch after a wait closes the window again (as before the core):
  // ~200 KB past the bound is a few batches, each let through by one ack wait.
  let waits = 0;
  while (links.of('run_exit').length === 0) {
    assert.ok(waits < 10, 'the run ends after a few ack waits');
    clock.advance(30_000);
    waits++;
    await until(() => clock.pendingTimers === 1 || links.of('run_exit').length === 1, 'the next pause or the end');
  }
  assert.ok(waits >= 2, `paused again after the first wait (${waits} waits)`);
});

test('kill, eviction above the second bound, and a run that cannot start all end with a message to the Assigner', async () => {
  const { links, driver, setPressure } = setup((run) => {
    if (run.id === 'broken') throw new Error('no sandbox for you');
    return [{ do: 'hang' }];
  });
  driver.onMessage('asg-a', { type: 'offer', from: 'asg-a', run: spec('hung', true), buddy: null });
  driver.onMessage('asg-a', { type: 'offer', from: 'asg-a', run: spec('batch'), buddy: null });
  driver.onMessage('asg-a', { type: 'run_kill', from: 'asg-a', id: 'hung' });
  await until(() => links.of('run_exit').length === 1, 'the killed run ends');
  assert.equal(links.of('run_exit')[0]?.result.status, 'killed');
  const load = driver.onPressure({ cpu: 0.9, memory: 0, io: 0 });
  assert.equal(load.slotsBusy, 1);
  await until(() => links.of('run_evicted').length === 1, 'the batch run is evicted');
  assert.match(links.of('run_evicted')[0]?.reason ?? '', /PC pressure 0\.90 is above 0\.85/);
  setPressure({ cpu: 0, memory: 0, io: 0 });
  driver.onMessage('asg-a', { type: 'offer', from: 'asg-a', run: spec('broken'), buddy: null });
  assert.equal(links.of('offer_reply').at(-1)?.accepted, true);
  await until(() => links.of('run_exit').length === 2, 'the run that could not start still ends');
  assert.equal(links.of('run_exit')[1]?.result.status, 'internal_error');
  assert.match(links.of('run_exit')[1]?.result.message ?? '', /no sandbox for you/);
  driver.stop();
});

test('a takeover ends a wait on the dead Assigner\'s link: the output goes on to the buddy, nothing lost or repeated', async () => {
  const { links, driver } = setup(() => [{ do: 'print', text: 'one\n' }, { do: 'echo_line' }, { do: 'print', text: 'three\n' }, { do: 'exit', code: 0 }]);
  links.stuck.add('asg-a');
  driver.onMessage('asg-a', { type: 'offer', from: 'asg-a', run: spec('r1', true), buddy: 'asg-b' });
  await until(() => links.of('run_output').length === 1, 'the first line is sent');
  driver.onMessage('asg-a', { type: 'run_input', from: 'asg-a', id: 'r1', data: 'two\n', n: 1 });
  for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
  assert.equal(links.of('run_output').length, 1, 'stuck on the dead link');
  driver.onMessage('asg-b', { type: 'run_takeover', from: 'asg-b', id: 'r1' });
  await until(() => links.of('run_exit').length === 1, 'the run ends at the buddy');
  const toB = links.sent.filter((s) => s.to === 'asg-b' && s.msg.type === 'run_output').flatMap((s) => (s.msg.type === 'run_output' ? s.msg.chunks : []));
  assert.equal(Buffer.concat(toB.map((c) => Buffer.from(c.data))).toString(), 'one\ntwo\nthree\n', 'the unacknowledged line again, then the rest');
  assert.deepEqual(toB.map((c) => c.seq), [0, 1, 2]);
  assert.equal(links.sent.filter((s) => s.msg.type === 'run_exit')[0]?.to, 'asg-b');
});
