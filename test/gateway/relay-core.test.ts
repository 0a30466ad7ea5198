import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TableRow } from '../../src/agent/agent-messages.js';
import type { AcceptedRun } from '../../src/gateway/backend.js';
import { INPUT_NUMBERS_PER_EPOCH, RELAY_DEFAULTS, RelayCore, type RelayAction, type RelayOptions } from '../../src/gateway/relay-core.js';
import { unmeasuredResult } from '../../src/protocol/run-wire.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';

// The relay driven by plain calls and a number for the clock: every deadline is a tick away.

const O = RELAY_DEFAULTS;

function relay(over: Partial<RelayOptions> = {}): RelayCore {
  return new RelayCore({ ...RELAY_DEFAULTS, name: 'gw', requestIdPrefix: 't', configMonitors: ['mon-1', 'mon-2'], configAssigners: ['asg-1', 'asg-2'], ...over });
}

function run(id: string): AcceptedRun {
  return { id, user: 'anonymous', language: 'python', files: [{ name: 'main.py', content: 'print(1)' }], main: 'main.py', stdin: '', interactive: true, limits: { ...DEFAULT_LIMITS } };
}

/** What was sent, as `type>to` (and n for input), in order. */
function sent(actions: RelayAction[]): string[] {
  return actions.flatMap((a) => (a.kind === 'send' ? [`${a.msg.type}>${a.to}${'n' in a.msg && a.msg.n !== undefined ? `#${a.msg.n}` : ''}`] : []));
}

/** Everything but sends and notes, as short strings. */
function told(actions: RelayAction[]): string[] {
  return actions.flatMap((a): string[] => {
    switch (a.kind) {
      case 'send':
      case 'note':
        return [];
      case 'deliver':
        return [`${a.id}:${a.event.kind}${a.event.kind === 'output' ? `#${a.event.chunk.seq}` : ''}`];
      case 'refused':
        return [`${a.id}:refused:${a.code}`];
      case 'attached':
        return [`${a.id}:attached@${a.found.assigner}`];
      default:
        return [`${a.id}:${a.kind}`];
    }
  });
}

/** The request id of the last least-loaded question in `actions`. */
function question(actions: RelayAction[]): string {
  const q = actions.filter((a) => a.kind === 'send' && a.msg.type === 'least_loaded_assigner_request').at(-1);
  assert.ok(q && q.kind === 'send' && q.msg.type === 'least_loaded_assigner_request', 'no question asked');
  return q.msg.requestId;
}

const answer = (requestId: string, assigner: string | null, from = 'mon-1') => ({ type: 'least_loaded_assigner_reply' as const, from, requestId, assigner });
const chunk = (seq: number) => ({ seq, stream: 'stdout' as const, data: new TextEncoder().encode(`c${seq}`) });
const output = (from: string, id: string, seqs: number[]) => ({ type: 'run_output' as const, from, id, chunks: seqs.map(chunk) });
const queued = (from: string, id: string, buddy: string | null = null) => ({ type: 'run_queued' as const, from, id, position: 1, buddy });

function row(name: string, role: string, status: TableRow['status'] = 'alive', slotsBusy = 0): TableRow {
  return { name, role, status, incarnation: 0, monitor: 'mon-1', languages: [], load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 4 - slotsBusy, slotsBusy } };
}

/** A run submitted at `t`, placed on `assigner` and queued there (the answer kept from t). */
function placed(core: RelayCore, id: string, assigner: string, t: number): void {
  const q = core.submit(run(id), t);
  core.onMessage('mon-1', answer(question(q), assigner), t);
  assert.deepEqual(told(core.onMessage(assigner, queued(assigner, id, 'asg-2'), t)), [`${id}:accepted`, `${id}:queued`]);
}

test('a submit asks a Monitor, goes to the Assigner it names, and is accepted at its first word', () => {
  const core = relay();
  const ask = core.submit(run('r1'), 0);
  assert.deepEqual(sent(ask), ['least_loaded_assigner_request>mon-1']);
  assert.deepEqual(told(ask), []);
  const go = core.onMessage('mon-1', answer(question(ask), 'asg-2'), 10);
  assert.deepEqual(sent(go), ['run_submit>asg-2']);
  // Another Assigner's word of the run is not its Assigner's.
  assert.deepEqual(core.onMessage('asg-1', queued('asg-1', 'r1'), 20), []);
  assert.deepEqual(told(core.onMessage('asg-2', queued('asg-2', 'r1'), 20)), ['r1:accepted', 'r1:queued']);
  // Within the answer's TTL the next run goes at once, and the question is asked again beside it.
  const next = core.submit(run('r2'), 10 + O.assignerAnswerTtlMs - 1);
  assert.deepEqual(sent(next), ['run_submit>asg-2', 'least_loaded_assigner_request>mon-2']);
  // Past it, the next run waits for an answer.
  assert.deepEqual(sent(core.submit(run('r3'), 10 + O.assignerAnswerTtlMs + 1_000)), ['least_loaded_assigner_request>mon-1']);
});

test('an Assigner silent past the ack window: asked afresh once, the first told to kill it if another is named, then ASSIGNER_TIMEOUT', () => {
  const core = relay();
  core.onMessage('mon-1', answer(question(core.submit(run('r1'), 0)), 'asg-1'), 0);
  assert.equal(core.nextWakeMs(), 0, 'the first table request is due');
  core.onTick(0);
  assert.equal(core.nextWakeMs(), Math.min(O.tableRefreshMs, O.ackTimeoutMs));
  assert.deepEqual(told(core.onTick(O.ackTimeoutMs - 1)), []);
  const again = core.onTick(O.ackTimeoutMs);
  assert.deepEqual(sent(again).filter((s) => !s.startsWith('table')), ['least_loaded_assigner_request>mon-2']);
  assert.deepEqual(told(again), [], 'not refused yet: one more try');
  const moved = core.onMessage('mon-2', answer(question(again), 'asg-2', 'mon-2'), O.ackTimeoutMs + 5);
  assert.deepEqual(sent(moved), ['run_kill>asg-1', 'run_submit>asg-2']);
  const end = core.onTick(2 * O.ackTimeoutMs + 5);
  assert.deepEqual(told(end), ['r1:refused:ASSIGNER_TIMEOUT']);
  const refusal = end.find((a) => a.kind === 'refused');
  assert.ok(refusal?.kind === 'refused' && /asg-2 did not take the run within 3000 ms/.test(refusal.message));
  assert.deepEqual(core.runsOn(), new Map([['gw', 0]]), 'the run is forgotten');
});

test('the same Assigner named again gets the run again (no kill), and its word is taken', () => {
  const core = relay();
  core.onMessage('mon-1', answer(question(core.submit(run('r1'), 0)), 'asg-1'), 0);
  const again = core.onTick(O.ackTimeoutMs);
  assert.deepEqual(sent(core.onMessage('mon-2', answer(question(again), 'asg-1', 'mon-2'), O.ackTimeoutMs + 2)), ['run_submit>asg-1']);
  assert.deepEqual(told(core.onMessage('asg-1', queued('asg-1', 'r1'), O.ackTimeoutMs + 3)), ['r1:accepted', 'r1:queued']);
});

test('a silent Assigner\'s late word, while the Monitors are asked again, answers the submit: it holds the run', () => {
  const core = relay();
  core.onMessage('mon-1', answer(question(core.submit(run('r1'), 0)), 'asg-1'), 0);
  const again = core.onTick(O.ackTimeoutMs);
  assert.deepEqual(told(core.onMessage('asg-1', queued('asg-1', 'r1'), O.ackTimeoutMs + 1)), ['r1:accepted', 'r1:queued']);
  // The answer to the question asked again changes nothing now: no kill, no second submit.
  assert.deepEqual(sent(core.onMessage('mon-2', answer(question(again), 'asg-2', 'mon-2'), O.ackTimeoutMs + 2)), []);
  // And a run that ended is gone: its id may be submitted afresh (the judge retries under the same id).
  core.onMessage('asg-1', { type: 'run_exit', from: 'asg-1', id: 'r1', result: unmeasuredResult('ok', 'python') }, O.ackTimeoutMs + 3);
  assert.equal(sent(core.submit(run('r1'), O.ackTimeoutMs + 4)).length, 1);
});

test('a silent Monitor: the next one is asked; all silent: the Gateway\'s own table names one; none: NO_CAPACITY', () => {
  const core = relay();
  core.onTick(0);
  core.onMessage('mon-1', { type: 'table_reply', from: 'mon-1', requestId: 'table', leader: 'mon-1', term: 3, rows: [row('mon-1', 'monitor'), row('mon-2', 'monitor'), row('asg-1', 'assigner', 'alive', 3), row('asg-2', 'assigner', 'alive', 1), row('asg-3', 'assigner', 'suspect')] }, 0);
  const first = core.submit(run('r1'), 100);
  assert.deepEqual(sent(first), ['least_loaded_assigner_request>mon-2']);
  const second = core.onTick(100 + O.askMonitorTimeoutMs);
  // (The table's refresh, due as well, took its turn at mon-1: the Monitors are asked in one rotation.)
  assert.deepEqual(sent(second), ['table_request>mon-1', 'least_loaded_assigner_request>mon-2']);
  assert.notEqual(question(second), question(first));
  // A late answer to the first question is ignored.
  assert.deepEqual(core.onMessage('mon-2', answer(question(first), 'asg-9'), 100 + O.askMonitorTimeoutMs + 1), []);
  const fallback = core.onTick(100 + 2 * O.askMonitorTimeoutMs);
  assert.deepEqual(sent(fallback).filter((s) => !s.startsWith('table')), ['run_submit>asg-2'], 'the least busy alive Assigner in the table');

  const empty = relay({ configMonitors: [] });
  assert.deepEqual(told(empty.submit(run('r2'), 0)), ['r2:refused:NO_CAPACITY']);
  const none = relay();
  assert.deepEqual(told(none.onMessage('mon-1', answer(question(none.submit(run('r3'), 0)), null), 1)), ['r3:refused:NO_CAPACITY']);
});

test('gaps in the output: chunks wait, and the Assigner is asked again at most once per resendAskMs', () => {
  const core = relay();
  placed(core, 'r1', 'asg-1', 0);
  assert.deepEqual(told(core.onMessage('asg-1', output('asg-1', 'r1', [0, 1]), 10)), ['r1:output#0', 'r1:output#1']);
  const gap = core.onMessage('asg-1', output('asg-1', 'r1', [3, 4]), 20);
  assert.deepEqual(told(gap), []);
  assert.deepEqual(sent(gap), ['run_attach>asg-1']);
  const ask = gap.find((a) => a.kind === 'send');
  assert.ok(ask?.kind === 'send' && ask.msg.type === 'run_attach' && ask.msg.afterSeq === 1);
  assert.deepEqual(sent(core.onMessage('asg-1', output('asg-1', 'r1', [5]), 20 + O.resendAskMs - 1)), [], 'asked a moment ago');
  const exitEarly = core.onMessage('asg-1', { type: 'run_exit', from: 'asg-1', id: 'r1', result: unmeasuredResult('ok', 'python'), lastSeq: 5 }, 20 + O.resendAskMs);
  assert.deepEqual(sent(exitEarly), ['run_attach>asg-1'], 'an end past the last chunk asks again too');
  assert.deepEqual(told(exitEarly), [], 'and does not end the run before its output');
  assert.deepEqual(told(core.onMessage('asg-1', output('asg-1', 'r1', [2, 3, 4, 5]), 30 + O.resendAskMs)), ['r1:output#2', 'r1:output#3', 'r1:output#4', 'r1:output#5']);
  assert.deepEqual(told(core.onMessage('asg-1', { type: 'run_exit', from: 'asg-1', id: 'r1', result: unmeasuredResult('ok', 'python'), lastSeq: 5 }, 40 + O.resendAskMs)), ['r1:exit']);
});

test('chunks sent again are dropped: the client sees each seq once, in order', () => {
  const core = relay();
  placed(core, 'r1', 'asg-1', 0);
  assert.deepEqual(told(core.onMessage('asg-1', output('asg-1', 'r1', [0, 1, 2]), 1)), ['r1:output#0', 'r1:output#1', 'r1:output#2']);
  assert.deepEqual(told(core.onMessage('asg-1', output('asg-1', 'r1', [1, 2]), 2)), []);
  assert.deepEqual(told(core.onMessage('asg-1', output('asg-1', 'r1', [2, 3]), 3)), ['r1:output#3']);
  // A restart voids the output: the new attempt counts from 0 again.
  assert.deepEqual(told(core.onMessage('asg-1', { type: 'run_restart', from: 'asg-1', id: 'r1', attempt: 2 }, 4)), ['r1:restarted']);
  assert.deepEqual(told(core.onMessage('asg-1', output('asg-1', 'r1', [0]), 5)), ['r1:output#0']);
});

test('a takeover: the buddy streams from the last chunk, and every input is sent to it again with its number', () => {
  const core = relay();
  core.epoch = 2;
  placed(core, 'r1', 'asg-1', 0);
  const n1 = 2 * INPUT_NUMBERS_PER_EPOCH + 1;
  assert.deepEqual(sent(core.input('r1', { type: 'run_input', data: 'a\n' })), [`run_input>asg-1#${n1}`]);
  assert.deepEqual(sent(core.input('r1', { type: 'run_eof' })), [`run_eof>asg-1#${n1 + 1}`]);
  core.onMessage('asg-1', output('asg-1', 'r1', [0, 1]), 1);
  // Only another Assigner takes a run over.
  assert.deepEqual(core.onMessage('asg-1', { type: 'run_takeover', from: 'asg-1', id: 'r1' }, 2), []);
  const over = core.onMessage('asg-2', { type: 'run_takeover', from: 'asg-2', id: 'r1' }, 2);
  assert.deepEqual(told(over), ['r1:reassigned']);
  assert.deepEqual(sent(over), ['run_attach>asg-2', `run_input>asg-2#${n1}`, `run_eof>asg-2#${n1 + 1}`]);
  const attach = over.find((a) => a.kind === 'send' && a.msg.type === 'run_attach');
  assert.ok(attach?.kind === 'send' && attach.msg.type === 'run_attach' && attach.msg.afterSeq === 1);
  // The old Assigner is no longer heard; the buddy is.
  assert.deepEqual(told(core.onMessage('asg-1', output('asg-1', 'r1', [2]), 3)), []);
  assert.deepEqual(told(core.onMessage('asg-2', output('asg-2', 'r1', [1, 2]), 3)), ['r1:output#2']);
  assert.deepEqual(sent(core.kill('r1')), ['run_kill>asg-2']);
});

test('kept input is bounded: past inputsKeptMax or inputBytesKeptMax it is dropped with a note', () => {
  const core = relay({ inputsKeptMax: 2, inputBytesKeptMax: 5 });
  placed(core, 'r1', 'asg-1', 0);
  assert.equal(sent(core.input('r1', { type: 'run_input', data: 'abc' })).length, 1);
  const tooBig = core.input('r1', { type: 'run_input', data: 'def' });
  assert.deepEqual(sent(tooBig), []);
  assert.ok(tooBig.some((a) => a.kind === 'note' && a.note.what === 'input_dropped'));
  assert.equal(sent(core.input('r1', { type: 'run_eof' })).length, 1);
  assert.deepEqual(sent(core.input('r1', { type: 'run_eof' })), [], 'two kept already');
});

test('attach after a failover: every Assigner is asked, the holder adopted, its replay delivered; nobody: not_attached', () => {
  const core = relay();
  const ask = core.attach('old', 0);
  assert.deepEqual(sent(ask), ['run_attach>asg-1', 'run_attach>asg-2']);
  assert.ok(ask.every((a) => a.kind !== 'send' || (a.msg.type === 'run_attach' && a.msg.afterSeq === -1)), 'the whole output');
  assert.deepEqual(told(core.attach('old', 1)), ['old:not_attached'], 'asked already');
  const spec = { ...run('old'), interactive: false };
  const found = core.onMessage('asg-2', { type: 'run_attached', from: 'asg-2', id: 'old', spec, phase: 'running', worker: 'w-1' }, 5);
  assert.deepEqual(told(found), ['old:attached@asg-2']);
  const a = found[0];
  assert.ok(a?.kind === 'attached' && a.found.phase === 'running' && a.found.worker === 'w-1' && a.found.run.id === 'old');
  assert.deepEqual(told(core.onMessage('asg-2', output('asg-2', 'old', [0, 1]), 6)), ['old:output#0', 'old:output#1']);
  assert.equal(core.runsOn().get('w-1'), 1);
  // A second answer (the buddy holds a copy) changes nothing.
  assert.deepEqual(core.onMessage('asg-1', { type: 'run_attached', from: 'asg-1', id: 'old', spec, phase: 'running', worker: 'w-1' }, 7), []);
  assert.deepEqual(told(core.attach('old', 8)), ['old:not_attached'], 'known here now');

  core.attach('gone', 10);
  assert.equal(core.nextWakeMs(), 0, 'the first table request is due before the attach gives up');
  core.onTick(10);
  assert.deepEqual(told(core.onTick(10 + O.attachTimeoutMs - 1)), []);
  assert.deepEqual(told(core.onTick(10 + O.attachTimeoutMs)), ['gone:not_attached']);
});

test('the in-flight bound refuses a submit with QUEUE_FULL and says why (runs being placed count too)', () => {
  const core = relay({ runsInFlightMax: 2 });
  placed(core, 'r1', 'asg-1', 0);
  core.submit(run('r2'), 1000); // still waiting for a Monitor's answer
  const over = core.submit(run('r3'), 1001);
  assert.deepEqual(told(over), ['r3:refused:QUEUE_FULL']);
  assert.deepEqual(sent(over), []);
  const r = over[0];
  assert.ok(r?.kind === 'refused' && r.message === 'the gateway relays 2 runs already');
  assert.deepEqual(told(core.attach('x', 1002)), ['x:not_attached'], 'an attach is bounded by the same');
  // A run that ends frees its place.
  core.onMessage('asg-1', { type: 'run_exit', from: 'asg-1', id: 'r1', result: unmeasuredResult('ok', 'python') }, 1003);
  assert.deepEqual(sent(core.submit(run('r5'), 1004)), ['least_loaded_assigner_request>mon-1']);
});

test('an Assigner refusing a run answers the submit with its code, and the run is forgotten', () => {
  const core = relay();
  core.onMessage('mon-1', answer(question(core.submit(run('r1'), 0)), 'asg-1'), 0);
  assert.deepEqual(told(core.onMessage('asg-1', { type: 'run_refused', from: 'asg-1', id: 'r1', code: 'QUEUE_FULL', message: 'full' }, 1)), ['r1:refused:QUEUE_FULL']);
  core.onMessage('mon-1', answer(question(core.submit(run('r2'), 1000)), 'asg-1'), 1000);
  assert.deepEqual(told(core.onMessage('asg-1', { type: 'run_refused', from: 'asg-1', id: 'r2', code: 'OTHER', message: 'no' }, 1001)), ['r2:refused:NO_CAPACITY']);
  assert.deepEqual(core.runsOn(), new Map([['gw', 0]]));
});

test('per-node counts: runs per Assigner, per Worker running one, all on the Gateway; the queue length', () => {
  const core = relay();
  placed(core, 'a', 'asg-1', 0);
  placed(core, 'b', 'asg-2', 1000);
  placed(core, 'c', 'asg-2', 2000);
  assert.equal(core.queueLength(), 3);
  core.onMessage('asg-2', { type: 'run_started', from: 'asg-2', id: 'b', worker: 'w-1' }, 2001);
  core.onMessage('asg-2', { type: 'run_started', from: 'asg-2', id: 'c', worker: 'w-1' }, 2001);
  assert.deepEqual(Object.fromEntries(core.runsOn()), { gw: 3, 'asg-1': 1, 'asg-2': 2, 'w-1': 2 });
  assert.equal(core.queueLength(), 1);
  // A restart takes the run off its Worker; an end off everything.
  core.onMessage('asg-2', { type: 'run_restart', from: 'asg-2', id: 'b', attempt: 2 }, 2002);
  core.onMessage('asg-2', { type: 'run_exit', from: 'asg-2', id: 'c', result: unmeasuredResult('ok', 'python') }, 2003);
  assert.deepEqual(Object.fromEntries(core.runsOn()), { gw: 2, 'asg-1': 1, 'asg-2': 1 });
  assert.equal(core.queueLength(), 2);
});

test('close: waiting submits and attaches are answered; runs are killed unless kept for the next Gateway', () => {
  const kept = relay();
  placed(kept, 'r1', 'asg-1', 0);
  kept.submit(run('r2'), 1000);
  kept.attach('r3', 1000);
  assert.deepEqual(told(kept.close(true)), ['r2:refused:NO_CAPACITY', 'r3:not_attached']);
  const killed = relay();
  placed(killed, 'r1', 'asg-1', 0);
  assert.deepEqual(sent(killed.close(false)), ['run_kill>asg-1']);
});

test('the table is asked of the Monitors in turn every tableRefreshMs, the alive ones once a table names them', () => {
  const core = relay();
  assert.deepEqual(sent(core.onTick(0)), ['table_request>mon-1']);
  assert.equal(core.nextWakeMs(), O.tableRefreshMs);
  assert.deepEqual(sent(core.onTick(O.tableRefreshMs - 1)), []);
  assert.deepEqual(sent(core.onTick(O.tableRefreshMs)), ['table_request>mon-2']);
  core.onMessage('mon-2', { type: 'table_reply', from: 'mon-2', requestId: 'table', leader: 'mon-3', term: 1, rows: [row('mon-2', 'monitor', 'dead'), row('mon-3', 'monitor'), row('asg-1', 'assigner')] }, 600);
  assert.deepEqual(sent(core.onTick(2 * O.tableRefreshMs)), ['table_request>mon-3']);
  assert.equal(core.tableView()?.leader, 'mon-3');
});

test('nextWakeMs is never later than a deadline, and a tick at a deadline already met finds the next', () => {
  const core = relay();
  core.onTick(0);
  const q = core.submit(run('r1'), 100);
  assert.equal(core.nextWakeMs(), O.tableRefreshMs, 'the table refresh (500) before the Monitor\'s deadline (600)');
  core.onMessage('mon-1', answer(question(q), 'asg-1'), 110);
  core.onMessage('asg-1', queued('asg-1', 'r1'), 120);
  core.attach('x', 130);
  assert.ok((core.nextWakeMs() ?? Infinity) <= 130 + O.attachTimeoutMs);
  assert.deepEqual(told(core.onTick(O.tableRefreshMs)), []);
  assert.equal(core.nextWakeMs(), 2 * O.tableRefreshMs, 'exact after a tick: the ack was met, the attach is later');
});
