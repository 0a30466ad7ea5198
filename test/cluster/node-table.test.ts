import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { WireEntry } from '../../src/cluster/messages.js';
import {
  compareEntries,
  mergeEntry,
  mergeTables,
  NodeTable,
  quantizeLoad,
  type NodeEntry,
} from '../../src/cluster/node-table.js';

const NAMES = ['a', 'b', 'c', 'd'];

const loadArb = fc.record({
  psiCpu: fc.constantFrom(0, 0.05, 0.5),
  psiMemory: fc.constantFrom(0, 0.1),
  psiIo: fc.constantFrom(0, 0.2),
  slotsFree: fc.nat({ max: 8 }),
  slotsBusy: fc.nat({ max: 8 }),
});

// Small ranges on purpose: collisions of incarnation/version are where merge rules matter.
const entryArb = (name: fc.Arbitrary<string>) =>
  fc.record({
    name,
    role: fc.constantFrom('monitor', 'assigner', 'worker', 'empty'),
    incarnation: fc.nat({ max: 3 }),
    status: fc.constantFrom('alive', 'suspect', 'dead'),
    version: fc.nat({ max: 3 }),
    monitor: fc.constantFrom(null, 'm1', 'm2'),
    load: loadArb,
    languages: fc.constantFrom([], ['c'], ['c', 'python']),
    lastHeardMs: fc.nat({ max: 10_000 }),
  }).map((e): NodeEntry => ({ ...e, life: e.incarnation, load: { ...e.load }, languages: [...e.languages] })); // plain prototypes, as deepEqual compares them

const tableArb = fc
  .array(entryArb(fc.constantFrom(...NAMES)), { maxLength: 8 })
  .map((entries) => entries.reduce((t, e) => mergeTables(t, new Map([[e.name, e]])), new Map<string, NodeEntry>()));

function sorted(t: Map<string, NodeEntry>): Array<[string, NodeEntry]> {
  return [...t].sort(([a], [b]) => (a < b ? -1 : 1));
}

test('mergeTables is commutative', () => {
  fc.assert(fc.property(tableArb, tableArb, (a, b) => assert.deepEqual(sorted(mergeTables(a, b)), sorted(mergeTables(b, a)))));
});

test('mergeTables is associative', () => {
  fc.assert(
    fc.property(tableArb, tableArb, tableArb, (a, b, c) =>
      assert.deepEqual(sorted(mergeTables(mergeTables(a, b), c)), sorted(mergeTables(a, mergeTables(b, c)))),
    ),
  );
});

test('mergeTables is idempotent', () => {
  fc.assert(fc.property(tableArb, (a) => assert.deepEqual(sorted(mergeTables(a, a)), sorted(a))));
});

function entry(over: Partial<NodeEntry>): NodeEntry {
  return {
    name: 'w1', role: 'worker', incarnation: 1, life: 1, status: 'alive', version: 0, monitor: 'm1',
    load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 8, slotsBusy: 0 }, languages: [], lastHeardMs: 0,
    ...over,
  };
}

test('merge rules: higher incarnation wins, then dead > suspect > alive, then version', () => {
  assert.equal(mergeEntry(entry({ incarnation: 2 }), entry({ incarnation: 1, status: 'dead' })).status, 'alive');
  assert.equal(mergeEntry(entry({ status: 'suspect' }), entry({ status: 'dead' })).status, 'dead');
  assert.equal(mergeEntry(entry({ status: 'suspect', version: 0 }), entry({ version: 9 })).status, 'suspect');
  assert.equal(mergeEntry(entry({ version: 2 }), entry({ version: 1 })).version, 2);
  assert.equal(mergeEntry(entry({ lastHeardMs: 5 }), entry({ lastHeardMs: 9 })).lastHeardMs, 9);
  assert.throws(() => mergeEntry(entry({}), entry({ name: 'other' })), /across names/);
});

test('NodeTable agrees with the pure merge whatever the arrival order', () => {
  fc.assert(
    fc.property(fc.array(entryArb(fc.constantFrom(...NAMES)), { maxLength: 12 }), fc.nat(), (entries, shift) => {
      const rotated = entries.slice(shift % Math.max(1, entries.length)).concat(entries.slice(0, shift % Math.max(1, entries.length)));
      const a = new NodeTable();
      const b = new NodeTable();
      for (const e of entries) a.merge(e, 0);
      for (const e of rotated) b.merge(e, 0);
      const pure = entries.reduce((t, e) => mergeTables(t, new Map([[e.name, e]])), new Map<string, NodeEntry>());
      for (const [name, want] of pure) {
        assert.equal(compareEntries(a.get(name) as WireEntry, want), 0);
        assert.equal(compareEntries(b.get(name) as WireEntry, want), 0);
      }
      assert.deepEqual(a.hash(), b.hash(), 'equal tables hash equal');
    }),
  );
});

test('table hash differs when one row differs', () => {
  const a = new NodeTable();
  const b = new NodeTable();
  a.merge(entry({}), 0);
  b.merge(entry({ version: 1 }), 0);
  assert.notDeepEqual(a.hash(), b.hash());
});

test('changesAfter pages through every current row exactly once, in change order', () => {
  const t = new NodeTable();
  for (let i = 0; i < 50; i++) t.merge(entry({ name: `n${i}` }), 0);
  for (let i = 0; i < 50; i += 3) t.merge(entry({ name: `n${i}`, version: 1 }), 0); // superseded records
  const seen: string[] = [];
  let after = 0;
  for (let page = 0; page < 20 && after < t.headSeq; page++) {
    const p = t.changesAfter(after, 7);
    assert.ok(p.entries.length <= 7);
    assert.ok(p.upToSeq > after, 'every page makes progress');
    seen.push(...p.entries.map((e) => e.name));
    after = p.upToSeq;
  }
  assert.equal(after, t.headSeq);
  assert.equal(new Set(seen).size, 50);
  assert.equal(seen.length, 50, 'no row twice: superseded records are skipped');
});

test('table refuses new names past its capacity', () => {
  const t = new NodeTable(2);
  assert.equal(t.merge(entry({ name: 'a' }), 0), 'new');
  assert.equal(t.merge(entry({ name: 'b' }), 0), 'new');
  assert.equal(t.merge(entry({ name: 'c' }), 0), 'full');
  assert.equal(t.merge(entry({ name: 'a', version: 1 }), 0), 'newer', 'known names still update');
  assert.equal(t.merge(entry({ name: 'a', version: 1 }), 0), 'stale');
});

test('declare raises status only; liveMonitors drops the dead, knownMonitors keeps them', () => {
  const t = new NodeTable();
  t.merge(entry({ name: 'm1', role: 'monitor' }), 0);
  t.merge(entry({ name: 'm2', role: 'monitor' }), 0);
  assert.equal(t.declare('m2', 'dead', 10), true);
  assert.equal(t.declare('m2', 'suspect', 11), false, 'dead is final for the incarnation');
  assert.deepEqual(t.liveMonitors(), ['m1']);
  assert.deepEqual(t.knownMonitors(), ['m1', 'm2']);
  t.merge(entry({ name: 'm2', role: 'monitor', incarnation: 2 }), 20);
  assert.deepEqual(t.liveMonitors(), ['m1', 'm2'], 'a higher incarnation is alive again');
});

test('quantizeLoad rounds PSI to twentieths and keeps slots', () => {
  assert.deepEqual(quantizeLoad({ psiCpu: 0.123, psiMemory: 0.976, psiIo: 0, slotsFree: 3, slotsBusy: 5 }), {
    psiCpu: 0.1, psiMemory: 1, psiIo: 0, slotsFree: 3, slotsBusy: 5,
  });
});
