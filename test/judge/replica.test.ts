import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AcceptedRun, BackendResult, RunBackend, RunSink } from '../../src/gateway/backend.js';
import type { ClusterView } from '../../src/gateway/api-types.js';
import { problemFromJson, type Problem } from '../../src/judge/problem.js';
import { JudgeJournal, JudgeReplica, type ReplicaBounds } from '../../src/judge/replica.js';
import { ANSWER_BYTES_MAX, JudgeReplicaMessageSchema, SUBMISSION_FILES_BYTES_MAX, type JudgeReplicaMessage, type ReplicaItem } from '../../src/judge/replica-messages.js';
import { JudgeError, JudgeService, REPLICA_BOUNDS, type JudgeEvent } from '../../src/judge/service.js';
import { FRAME_BYTES_MAX_DEFAULT } from '../../src/wire/frame.js';
import { pack } from 'msgpackr';

/**
 * The standby's copy of the judge's submissions and batches (replica.ts), without a cluster: the
 * journal's answers and their bounds, the copy's bounds, and a Gateway judge "killed" mid-batch
 * whose copy another judge adopts — same ids, finished tests kept, only the rest run (the one
 * running when it died included), every test's result recorded once. The cluster version is
 * failover.test.ts.
 */

/** A backend whose runs end when the test says so. */
class FakeBackend implements RunBackend {
  readonly runs: Array<{ run: AcceptedRun; sink: RunSink }> = [];
  async start(run: AcceptedRun, sink: RunSink): Promise<void> {
    this.runs.push({ run, sink });
    sink.started({ worker: 'w', assigner: 'a' });
  }
  write(): void {}
  endInput(): void {}
  kill(): void {}
  async languages() {
    return [];
  }
  cluster(): ClusterView {
    return { nodes: [], queue_length: 0, leader: null, term: 0 };
  }
  queueLength(): number {
    return 0;
  }
  async close(): Promise<void> {}
  /** Ends the oldest unfinished run: a program that adds its two numbers (or `wrong` for some students). */
  finishOne(wrong: (run: AcceptedRun) => boolean): AcceptedRun | null {
    const r = this.runs.shift();
    if (!r) return null;
    const [a, b] = r.run.stdin.trim().split(/\s+/).map(Number) as [number, number];
    const out = wrong(r.run) ? `${a - b}\n` : `${a + b}\n`;
    r.sink.output({ seq: 0, stream: 'stdout', data: Buffer.from(out) });
    const end: BackendResult = { status: 'ok', exit_code: 0, signal: null, cpu_time_ms: 1, wall_time_ms: 2, memory_kb: 3, language: 'c', version: '1', compiled: true };
    r.sink.exit(end);
    return r.run;
  }
}

const SUM: Problem = problemFromJson({
  name: 'sum',
  tests: [
    { name: 's1', input: '1 2\n', answer: '3\n', sample: true },
    { name: 't1', input: '5 7\n', answer: '12\n' },
    { name: 'g1', input: '100 200\n', answer: '300\n', group: 'g', points: 2 },
    { name: 'g2', input: '1000000 1\n', answer: '1000001\n', group: 'g', points: 2 },
  ],
});

let inbox: JudgeReplicaMessage[] = [];
function replicaWithInbox(bounds: ReplicaBounds = REPLICA_BOUNDS): JudgeReplica {
  inbox = [];
  return new JudgeReplica('sb', (_to, m) => inbox.push(m), bounds);
}

/** Like pull(), with the module inbox the replica sends into. */
function sync(judge: JudgeService, replica: JudgeReplica): Array<Extract<JudgeReplicaMessage, { type: 'judge_log' }>> {
  const answers: Array<Extract<JudgeReplicaMessage, { type: 'judge_log' }>> = [];
  replica.tick('gw', Date.now());
  for (let rounds = 0; inbox.length > 0; rounds++) {
    assert.ok(rounds < 10_000);
    const m = inbox.shift() as JudgeReplicaMessage;
    assert.ok(JudgeReplicaMessageSchema.safeParse(m).success, `schema: ${m.type}`);
    assert.ok(pack(m).length < FRAME_BYTES_MAX_DEFAULT - 64, `${m.type} fits a frame`);
    if (m.type === 'judge_log_ask') {
      const { message, refused } = judge.answerLog('gw', m);
      assert.equal(refused, 0);
      answers.push(message);
      inbox.push(message);
    } else replica.receive('gw', m, Date.now());
  }
  return answers;
}

function judgeWith(backend: RunBackend): JudgeService {
  const j = new JudgeService({ backend, stateDir: null });
  j.addProblem(SUM);
  return j;
}

const source = (i: number) => `// student ${i}\nint main(){}\n`;

describe('the judge journal and the standby copy', () => {
  test('a Gateway killed mid-batch: the judge that adopts the copy has every id, keeps finished tests, runs only the rest, records each once', () => {
    const backA = new FakeBackend();
    const a = judgeWith(backA);
    const students = Array.from({ length: 12 }, (_, i) => ({ student: `s${i}`, language: 'c', files: [{ name: 'main.c', content: source(i) }] }));
    const batch = a.submitBatch(SUM, 'anonymous', students);
    const solo = a.submit({ problem: SUM, language: 'c', files: [{ name: 'main.c', content: source(99) }], user: 'anonymous', student: 'solo' });
    const wrong = (run: AcceptedRun) => /student (1|4|7|10)\n/.test(run.files[0]?.content ?? '');
    // Some tests finish; the standby copies; more finish (not copied); some are running when A dies.
    for (let k = 0; k < 20; k++) backA.finishOne(wrong);
    const replica = replicaWithInbox();
    sync(a, replica);
    for (let k = 0; k < 6; k++) backA.finishOne(wrong);
    const finishedOnA = new Map(batch.submissions.map((s) => [s.id, s.view().done] as const));
    const copied = new Map([...replica.subs].map(([id, r]) => [id, r.results.size] as const));
    const runningOnA = backA.runs.map((r) => r.run.id);
    assert.ok(runningOnA.length > 0, 'tests were running when the Gateway died');
    assert.ok([...copied.values()].some((n) => n > 0) && [...copied.values()].some((n, i) => n < [...finishedOnA.values()][i]!) , 'some finished tests were copied, some not');

    // B takes over with the copy.
    const backB = new FakeBackend();
    const b = judgeWith(backB);
    const report = b.adopt(replica);
    assert.equal(report.submissions, 13);
    assert.equal(report.batches, 1);
    assert.deepEqual(report.lost, []);
    const bBatch = b.batch(batch.id);
    assert.ok(bBatch, 'the batch has its id on the new Gateway');
    assert.deepEqual(bBatch.submissions.map((s) => [s.id, s.input.student]), batch.submissions.map((s) => [s.id, s.input.student]));
    assert.ok(b.submission(solo.id), 'the single submission too');
    const copiedTests = [...copied.values()].reduce((n, x) => n + x, 0);
    assert.equal(report.testsToRun, 13 * 4 - copiedTests, 'every test without a copied result is to run');

    // Every progress event on B is a test without a copied result; each test ends once.
    const seen = new Map<string, number>();
    const listen = (e: JudgeEvent) => {
      if (e.type !== 'submission_progress') return;
      const key = `${e.submission}/${e.test.test}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    };
    b.subscribeBatch(bBatch, listen);
    b.subscribeSubmission(b.submission(solo.id)!, listen);
    const ranOnB: string[] = [];
    for (let k = 0; k < 500 && backB.runs.length > 0; k++) ranOnB.push((backB.finishOne(wrong) as AcceptedRun).id);
    assert.equal(backB.runs.length, 0);
    for (const n of seen.values()) assert.equal(n, 1, 'each test recorded once');
    assert.equal(seen.size, report.testsToRun, 'and only those');
    assert.ok(ranOnB.length >= runningOnA.length && ranOnB.length <= report.testsToRun, `${ranOnB.length} runs on B`);
    for (const id of ranOnB) assert.ok(!runningOnA.includes(id), 'new run ids: never one the dead Gateway left at the Assigners');
    for (const [id, r] of replica.subs) {
      for (const idx of r.results.keys()) assert.ok(!seen.has(`${id}/${SUM.tests[idx]!.name}`), 'a copied result is not run again');
    }
    // Every student ends, with the result grading them alone gives.
    const view = b.batchView(bBatch);
    assert.equal(view.state, 'done');
    assert.equal(view.tests_done, view.tests_total);
    for (const s of view.students) {
      const i = Number(s.student.slice(1));
      assert.deepEqual(s.tests, [1, 4, 7, 10].includes(i) ? ['WA', 'WA', 'WA', 'SK'] : ['AC', 'AC', 'AC', 'AC'], s.student);
    }
    assert.equal(b.submission(solo.id)?.view().verdict, 'accepted');
    assert.match(b.batchCsv(bBatch), new RegExp(`^s0,${batch.submissions[0]!.id},accepted,AC,AC,AC,AC,5,5$`, 'm'));

    // The new Gateway's journal holds it all: its own standby gets the whole thing.
    const next = replicaWithInbox();
    sync(b, next);
    assert.equal(next.subs.size, 13);
    assert.equal(next.batches.size, 1);
    for (const r of next.subs.values()) assert.equal(r.results.size, 4);
  });

  test('answers are bounded (bytes, one large item alone) and follow each other; a copy of another journal starts over; stale answers are ignored', () => {
    const back = new FakeBackend();
    const j = judgeWith(back);
    // 8 submissions of ~100 KiB: about 3 per answer.
    for (let i = 0; i < 8; i++) j.submit({ problem: SUM, language: 'c', files: [{ name: 'main.c', content: `// ${i}\n${'x'.repeat(100 * 1024)}` }], user: 'u' });
    // One at the per-submission bound travels alone.
    j.submit({ problem: SUM, language: 'c', files: [{ name: 'main.c', content: 'y'.repeat(SUBMISSION_FILES_BYTES_MAX) }], user: 'u' });
    assert.throws(() => j.submit({ problem: SUM, language: 'c', files: [{ name: 'main.c', content: 'y'.repeat(SUBMISSION_FILES_BYTES_MAX + 1) }], user: 'u' }), (e: unknown) => e instanceof JudgeError && e.code === 'SUBMISSION_TOO_LARGE' && e.statusCode === 413);
    const r = replicaWithInbox();
    const answers = sync(j, r);
    assert.ok(answers.length >= 4, `${answers.length} answers`);
    for (const a of answers) {
      const bytes = a.items.reduce((n, it) => n + Buffer.byteLength(JSON.stringify(it)), 0);
      assert.ok(a.items.length === 1 || bytes <= ANSWER_BYTES_MAX, `answer of ${bytes} bytes, ${a.items.length} items`);
    }
    assert.equal(answers.at(-1)?.more, false);
    assert.equal(r.subs.size, 9);
    assert.equal(r.position.after, j.journal.lastSeq);

    // Nothing new: one small answer.
    assert.equal(sync(j, r).map((a) => a.items.length).join(), '0');

    // Another Gateway's journal (a new judge): the copy is replaced, not merged.
    const other = judgeWith(new FakeBackend());
    other.submit({ problem: SUM, language: 'c', files: [{ name: 'main.c', content: 'int main(){}' }], user: 'u' });
    const again = sync(other, r);
    assert.equal(again[0]?.reset, true);
    assert.equal(r.subs.size, 1);
    assert.equal(r.position.gen, other.journal.gen);

    // An answer nobody asked for (or an old one) changes nothing.
    const stale = (j.answerLog('gw', { type: 'judge_log_ask', from: 'sb', gen: null, after: 0 })).message;
    r.receive('gw', stale, 0);
    assert.equal(r.subs.size, 1);
  });

  test('the copy is bounded as the judge is: the oldest finished submissions make room; an item that still does not fit is dropped and counted', () => {
    const bounds = { submissionsMax: 3, filesBytesMax: 1000, batchesMax: 1 };
    const r = replicaWithInbox(bounds);
    const sub = (id: string, bytes: number, tests = 1): ReplicaItem => ({ kind: 'sub', id, problem_id: 'p', language: 'c', files: [{ name: 'main.c', content: 'z'.repeat(bytes) }], user: 'u', student: null, batch: null, created_at: '', tests });
    const done = (id: string): ReplicaItem => ({ kind: 'test', sub: id, index: 0, compiles: 1, finished_at: null, result: { test: 't', sample: false, group: null, state: 'done', verdict: 'accepted', fraction: 1, points_max: 1, cpu_time_ms: 1, wall_time_ms: 1, memory_kb: 1, exit_code: 0, signal: null } });
    let after = 0;
    const feed = (items: ReplicaItem[]) => {
      r.tick('gw', 0);
      const ask = inbox.shift() as Extract<JudgeReplicaMessage, { type: 'judge_log_ask' }>;
      assert.equal(ask.type, 'judge_log_ask');
      r.receive('gw', { type: 'judge_log', from: 'gw', gen: 'g', reset: after === 0, after, upto: after + items.length, more: false, items }, 0);
      after += items.length;
    };
    feed([sub('a', 400), done('a'), sub('b', 400), sub('c', 100)]);
    assert.deepEqual([...r.subs.keys()], ['a', 'b', 'c']);
    // Over the count: a (finished) goes; b and c are not finished and stay.
    feed([sub('d', 100)]);
    assert.deepEqual([...r.subs.keys()], ['b', 'c', 'd']);
    assert.equal(r.dropped, 0);
    // No finished one left to drop: refused, counted.
    feed([sub('e', 10)]);
    assert.deepEqual([...r.subs.keys()], ['b', 'c', 'd']);
    assert.equal(r.dropped, 1);
    // Over the bytes: finishing c lets a 500-byte one in.
    feed([done('c'), sub('f', 500)]);
    assert.deepEqual([...r.subs.keys()], ['b', 'd', 'f']);
    assert.equal(r.bytes, 1000);
    // A result of a dropped submission, or past its tests, is dropped too.
    feed([done('e'), { ...(done('b') as Extract<ReplicaItem, { kind: 'test' }>), index: 5 }]);
    assert.equal(r.dropped, 3);
    // Batches: one held; a second waits for the first one's submissions to finish.
    feed([{ kind: 'batch', id: 'B1', problem_id: 'p', user: 'u', subs: ['b'], created_at: '' }, { kind: 'batch', id: 'B2', problem_id: 'p', user: 'u', subs: ['d'], created_at: '' }]);
    assert.deepEqual([...r.batches.keys()], ['B1']);
    feed([done('b'), { kind: 'batch', id: 'B3', problem_id: 'p', user: 'u', subs: ['d'], created_at: '' }]);
    assert.deepEqual([...r.batches.keys()], ['B3']);
  });

  test('the Gateway judge bounds what it holds: finished submissions make room, then 503 JUDGE_QUEUE_FULL', () => {
    const back = new FakeBackend();
    const j = judgeWith(back);
    const big = 'q'.repeat(SUBMISSION_FILES_BYTES_MAX);
    // heldFilesBytesMax / 512 KiB submissions fit; one more does not while none has finished.
    const fit = Math.floor(256 * 1024 * 1024 / SUBMISSION_FILES_BYTES_MAX);
    const items = Array.from({ length: 500 }, (_, i) => ({ student: `s${i}`, language: 'c', files: [{ name: 'main.c', content: big }] }));
    j.submitBatch(SUM, 'u', items.slice(0, 250));
    j.submitBatch(SUM, 'u', items.slice(250, 500));
    assert.equal(fit, 512);
    const solos = Array.from({ length: fit - 500 }, () => j.submit({ problem: SUM, language: 'c', files: [{ name: 'main.c', content: big }], user: 'u' }));
    const full = () => j.submit({ problem: SUM, language: 'c', files: [{ name: 'main.c', content: 'x' }], user: 'u' });
    assert.throws(full, (e: unknown) => e instanceof JudgeError && e.code === 'JUDGE_QUEUE_FULL' && e.statusCode === 503);
    // A single submission finishes (its tests go before the batches'): it makes room, and goes.
    const first = solos[0]!;
    for (let k = 0; k < 200 && first.view().state !== 'done'; k++) back.finishOne(() => false);
    assert.equal(first.view().state, 'done');
    full();
    assert.equal(j.submission(first.id), undefined, 'the finished one made room');
    // The journal's answers stay bounded however much is held.
    const r = replicaWithInbox();
    const answers = sync(j, r);
    assert.equal(r.subs.size, fit);
    assert.ok(answers.every((a) => a.items.length >= 1));
  });

  test('the journal compacts entries of dropped submissions once they are most of it', () => {
    const jn = new JudgeJournal('g');
    const alive = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      jn.append({ kind: 'sub', id: `s${i}` });
      alive.add(`s${i}`);
    }
    for (let i = 0; i < 2000; i++) alive.delete(`s${i}`);
    jn.forgot(2000, (e) => alive.has(e.id));
    assert.equal(jn.length, 1000);
    assert.equal(jn.lastSeq, 3000, 'numbers go on');
    const { message } = jn.answer('gw', { type: 'judge_log_ask', from: 'sb', gen: 'g', after: 2500 }, (e) => ({ kind: 'batch', id: e.id, problem_id: 'p', user: 'u', subs: ['x'], created_at: '' }));
    assert.equal(message.items.length, 500);
    assert.equal(message.upto, 3000);
  });
});
