import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pack, unpack } from 'msgpackr';
import {
  NODE_NAME_LENGTH_MAX,
  parseClusterMessage,
  type ClusterMessage,
  type WireEntry,
} from '../../src/cluster/messages.js';
import { GOSSIP_DIGESTS_PER_MESSAGE_MAX, LANGUAGES_PER_NODE_MAX, MONITOR_HEARTBEAT_WORKERS_MAX } from '../../src/protocol/bounds.js';

const load = { psiCpu: 0.1, psiMemory: 0, psiIo: 0.05, slotsFree: 6, slotsBusy: 2 };
const entry: WireEntry = { name: 'w1', role: 'worker', incarnation: 3, life: 2, status: 'alive', version: 2, monitor: 'm1', load, languages: ['c'] };
const range = { epoch: 7, afterSeq: 0, upToSeq: 4 };

/** One valid sample of every message type, so a new type without a sample fails the count below. */
const SAMPLES: ClusterMessage[] = [
  { type: 'heartbeat', from: 'w1', incarnation: 3, life: 2, version: 2, role: 'worker', monitor: 'm1', load, languages: ['c', 'python'], monitorsHash: 12345 },
  { type: 'heartbeat_ack', from: 'm1', yourIncarnation: 3, yourStatus: 'suspect', yourVersion: 2, preferredMonitor: 'm2', monitors: ['m1', 'm2'], leader: { name: 'm2', term: 4 } },
  { type: 'gossip_push', from: 'm1', epoch: 7, afterSeq: 0, upToSeq: 4, headSeq: 4, tableHash: { h1: 1, h2: 2, size: 1 }, haveOfYou: null, digests: [{ name: 'w1', incarnation: 3, status: 'alive', version: 2 }], news: [] },
  { type: 'gossip_pull', from: 'm2', epoch: 9, afterSeq: 0, upToSeq: 2, ackOfYou: { epoch: 7, seq: 4 }, push: range, want: ['w1'], entries: [entry] },
  { type: 'gossip_entries', from: 'm1', push: range, entries: [entry] },
  { type: 'monitor_heartbeat', from: 'm1', term: 4, intervalMs: 500, workers: [{ name: 'w1', incarnation: 3, life: 2, load, languages: ['c'] }] },
  { type: 'least_loaded_assigner_request', from: 'gw', requestId: 'r-1' },
  { type: 'least_loaded_assigner_reply', from: 'm1', requestId: 'r-1', assigner: null },
  { type: 'vote_request', from: 'm1', term: 5, lastTerm: 4 },
  { type: 'vote_reply', from: 'm2', term: 5, granted: true },
  { type: 'leader_heartbeat', from: 'm1', term: 5 },
  { type: 'leader_heartbeat_reply', from: 'm2', term: 5, ok: true },
  { type: 'order_role', from: 'm1', term: 5, seq: 1, target: 'e3', role: 'monitor' },
  { type: 'hydra_vote_request', from: 'a1', term: 3, silent: ['m1'] },
  { type: 'hydra_vote_reply', from: 'a2', term: 3, granted: true, leaderTerm: 4, replaced: [] },
  { type: 'hydra_won', from: 'a1', term: 3, replaced: ['m1'], monitors: ['a1', 'a2'] },
  { type: 'hydra_won_ack', from: 'a2', term: 3, ok: true, leaderTerm: 4 },
  { type: 'hydra_promote', from: 'a1', term: 3, orderTerm: 5, target: 'a2', monitors: ['a1', 'a2', 'm2'] },
  { type: 'monitor_announce', from: 'a1', monitors: ['a1', 'a2'] },
];

test('every message type survives msgpack and validation unchanged', () => {
  assert.equal(new Set(SAMPLES.map((m) => m.type)).size, 19);
  for (const m of SAMPLES) {
    const r = parseClusterMessage(unpack(pack(m)), m.from);
    assert.ok(r.ok, `${m.type}: ${r.ok ? '' : r.error}`);
    assert.deepEqual(r.message, m);
  }
});

test('a message claiming another sender is refused', () => {
  const r = parseClusterMessage(SAMPLES[0], 'intruder');
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.error, /claims sender w1/);
});

test('every array and string is bounded', () => {
  const hb = SAMPLES[0] as Extract<ClusterMessage, { type: 'heartbeat' }>;
  const cases: Array<[string, unknown]> = [
    ['long name', { ...hb, from: 'x'.repeat(NODE_NAME_LENGTH_MAX + 1) }],
    ['too many languages', { ...hb, languages: Array.from({ length: LANGUAGES_PER_NODE_MAX + 1 }, (_, i) => `l${i}`) }],
    ['too many digests', { ...SAMPLES[2], digests: Array.from({ length: GOSSIP_DIGESTS_PER_MESSAGE_MAX + 1 }, () => ({ name: 'w', incarnation: 0, status: 'alive', version: 0 })) }],
    ['too many workers', { ...SAMPLES[5], workers: Array.from({ length: MONITOR_HEARTBEAT_WORKERS_MAX + 1 }, () => ({ name: 'w', incarnation: 0, load, languages: [] })) }],
    ['psi above 1', { ...hb, load: { ...load, psiCpu: 1.5 } }],
    ['negative term', { type: 'vote_request', from: 'm1', term: -1, lastTerm: 0 }],
    ['fractional incarnation', { ...hb, incarnation: 1.5 }],
    ['unknown type', { type: 'shutdown', from: 'w1' }],
    ['not an object', 'heartbeat'],
  ];
  for (const [why, raw] of cases) {
    const from = (raw as { from?: string })?.from ?? 'w1';
    assert.equal(parseClusterMessage(raw, from).ok, false, why);
  }
});
