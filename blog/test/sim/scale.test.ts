// The simulator's scale mode (bench/scale.mjs part C) on a small world: it runs clean, counts what
// it claims to count, and its traffic grows the way the design says it must.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSimulation, DAY_COMPRESSION, type ScaleReport } from '../../src/sim/sim.js';
import { makeScaleWorld } from '../../src/sim/world.js';

interface Run {
  report: ScaleReport;
  violations: readonly string[];
  stats: Readonly<Record<string, number>>;
}

function run(l2s: number, writers = 100): Run {
  const r = runSimulation({ seed: 7, calm: true, eventsMax: 5_000_000, scale: { l2s, writers, writesPerWriter: 3, bodyBytes: 2_000 } });
  assert.ok(r.scale, 'the scale mode reports');
  return { report: r.scale, violations: r.violations, stats: r.stats };
}

// Each run takes ~2 s of CPU: three in all.
let small: Run | undefined;
const smallRun = (): Run => (small ??= run(20));

describe('blog simulator, scale mode', () => {
  it('spreads L2s over the seven continents, at least one each, with valid country codes', () => {
    for (const n of [7, 20, 200, 1_400]) {
      const w = makeScaleWorld(n);
      assert.equal(w.l2s.length, n);
      assert.equal(new Set(w.l2s.map((l) => l.id)).size, n, 'unique ids');
      assert.equal(new Set(w.l2s.map((l) => l.continent)).size, 7);
      for (const l of w.l2s) assert.match(l.country, /^[a-z]{2}$/);
    }
    assert.throws(() => makeScaleWorld(6), /7\.\.5000/);
  });

  it('a compressed day over 20 L2s: every write acknowledged and checked, batches and sync pages counted, lag within the batch timeout', () => {
    const { report, violations } = smallRun();
    assert.deepEqual(violations, []);
    // 100 writers: a sign-up (user + publication) and 3 writes each, one change per write.
    assert.equal(report.committed, 100 * 5);
    assert.equal(report.acked, report.committed);
    const l1s = Object.values(report.perL1);
    assert.equal(l1s.length, 7);
    for (const t of l1s) {
      assert.ok(t.batchMsgs > 0 && t.syncPageMsgs > 0, 'every L1 sent batches and sync pages');
      assert.ok(t.bytesOut >= t.toL2Bytes + t.batchBytes + t.syncPageBytes);
    }
    assert.ok(report.worstLagMs > 0 && report.worstLagMs <= report.lagBoundMs, `worst lag ${report.worstLagMs} ms, bound ${report.lagBoundMs} ms`);
    assert.ok(report.worstLagRealHours <= 2 + (150 * DAY_COMPRESSION) / 3_600_000);
  });

  it('is deterministic, and an L1 pushes to its L2s more as they grow while the batches between continents stay alike', () => {
    const a = smallRun();
    assert.deepEqual(run(20).report, a.report);
    const b = run(60);
    assert.deepEqual(b.violations, []);
    const pushes = (r: Run) => r.stats['msg_push'] ?? 0;
    assert.ok(pushes(b) > 2 * pushes(a), `pushes ${pushes(a)} at 20 L2s, ${pushes(b)} at 60`);
    const batchBytes = (r: Run) => Object.values(r.report.perL1).reduce((s, t) => s + t.batchBytes, 0);
    // Not equal: the writers' homes differ with the world, so their write sequences do too.
    const ratio = batchBytes(b) / batchBytes(a);
    assert.ok(ratio > 0.7 && ratio < 1.3, `batch bytes ${batchBytes(a)} at 20 L2s, ${batchBytes(b)} at 60`);
  });
});
