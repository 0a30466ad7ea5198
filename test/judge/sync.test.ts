import assert from 'node:assert/strict';
import { test } from 'node:test';
import { problemFromJson, type Problem } from '../../src/judge/problem.js';
import { JudgeSyncMessageSchema, type JudgeSyncMessage } from '../../src/judge/sync-messages.js';
import { ASSEMBLY_STALE_MS, ProblemSync, type ProblemStore } from '../../src/judge/sync.js';

class Store implements ProblemStore {
  readonly map = new Map<string, Problem>();
  problem(id: string) {
    return this.map.get(id);
  }
  listProblems() {
    return [...this.map.values()];
  }
  addProblem(p: Problem) {
    const created = !this.map.has(p.id);
    this.map.set(p.id, p);
    return { created };
  }
}

function pair(tamper?: (m: JudgeSyncMessage) => JudgeSyncMessage | null) {
  const gwStore = new Store();
  const sbStore = new Store();
  const inbox: Array<{ to: string; from: string; msg: JudgeSyncMessage }> = [];
  const gw: ProblemSync = new ProblemSync('gw', (to, msg) => inbox.push({ to, from: 'gw', msg }));
  const sb: ProblemSync = new ProblemSync('mon-1', (to, msg) => inbox.push({ to, from: 'mon-1', msg }));
  const deliver = (now = 0) => {
    for (let i = 0; i < 10_000 && inbox.length > 0; i++) {
      const { to, from, msg } = inbox.shift() as (typeof inbox)[number];
      // Every message must pass the wire schema (frames carry them validated).
      assert.ok(JudgeSyncMessageSchema.safeParse(msg).success, `schema: ${msg.type}`);
      const m = tamper ? tamper(msg) : msg;
      if (!m) continue;
      if (to === 'gw') gw.receive(from, m, gwStore, now);
      else sb.receive(from, m, sbStore, now);
    }
  };
  return { gwStore, sbStore, gw, sb, deliver };
}

const small = problemFromJson({ name: 'small', tests: [{ input: '1\n', answer: '1\n' }] });
// Over one part (384 KiB): many tests of 100 KiB answers, with non-ASCII text split across parts.
const big = problemFromJson({ name: 'big', tests: Array.from({ length: 12 }, (_, i) => ({ input: `${i}\n`, answer: `${'é'.repeat(50_000)}${i}\n` })) });

test('the standby copies every problem the Gateway holds, large ones in parts, and nothing twice', () => {
  const { gwStore, sbStore, sb, deliver } = pair();
  gwStore.addProblem(small);
  gwStore.addProblem(big);
  sb.tick('gw', 0);
  deliver();
  assert.deepEqual([...sbStore.map.keys()].sort(), [small.id, big.id].sort());
  assert.deepEqual(sbStore.problem(big.id), big);
  assert.equal(sb.copied, 2);
  sb.tick('gw', 1);
  deliver();
  assert.equal(sb.copied, 2, 'nothing copied again');
  sb.tick('mon-1', 2); // itself the holder (it took over): asks nobody
  deliver();
});

test('a tampered copy is refused (its content does not hash to its id); a stalled copy starts over', () => {
  const t = pair((m) => (m.type === 'judge_problem_part' ? { ...m, data: Buffer.from(JSON.stringify({ ...small, name: 'evil' })).toString('base64') } : m));
  t.gwStore.addProblem(small);
  t.sb.tick('gw', 0);
  t.deliver();
  assert.equal(t.sbStore.map.size, 0);
  // Parts lost: the assembly waits (no new ask while it is under way), then is dropped and asked again.
  let dropParts = true;
  const lost = pair((m) => (dropParts && m.type === 'judge_problem_part' ? null : m));
  lost.gwStore.addProblem(small);
  lost.sb.tick('gw', 0);
  lost.deliver();
  dropParts = false;
  lost.sb.tick('gw', 1_000);
  lost.deliver(1_000);
  assert.equal(lost.sbStore.map.size, 0, 'still waiting for the lost parts');
  lost.sb.tick('gw', ASSEMBLY_STALE_MS + 1);
  lost.deliver(ASSEMBLY_STALE_MS + 1);
  assert.equal(lost.sbStore.map.size, 1, 'asked again after the stall and copied');
});
