import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { ClusterMessageSchema } from '../../src/cluster/messages.js';
import { GatewayFailoverMessageSchema } from '../../src/cluster/gateway-messages.js';
import { AgentMessageSchema } from '../../src/agent/agent-messages.js';
import { HAND_CHECKED_TYPES, handCheck } from '../../src/cluster/message-checks.js';
import { WireMessageForm, type WireMessage } from '../../src/agent/wire-messages.js';
import { createCodec, WireError } from '../../src/wire/index.js';

// The hand checks of the hot messages (src/cluster/message-checks.ts) must refuse exactly what
// their zod schemas refuse and return exactly what zod returns (unknown keys stripped).

const ZOD = z.discriminatedUnion('type', [...ClusterMessageSchema.options, ...GatewayFailoverMessageSchema.options, ...AgentMessageSchema.options]);

const load = { psiCpu: 0.1, psiMemory: 0, psiIo: 1, slotsFree: 6, slotsBusy: 2 };
const entry = { name: 'w1', role: 'worker', incarnation: 3, life: 2, status: 'alive', version: 2, monitor: 'm1', load, languages: ['c'] };
const entryFull = { ...entry, pid: 4242, monitor: null, load: { ...load, queued: 3 }, buddy: 'a2' };
const digest = { name: 'w1', incarnation: 3, status: 'suspect', version: 2 };
const range = { epoch: 7, afterSeq: 0, upToSeq: 4 };
const record = { epoch: 2, holder: 'gw' };

/** Valid messages of every hand-checked type, optional fields both left out and given. */
const SAMPLES: Array<Record<string, unknown>> = [
  { type: 'heartbeat', from: 'w1', incarnation: 3, life: 2, version: 2, role: 'worker', monitor: 'm1', load, languages: ['c', 'python'], monitorsHash: 12345 },
  { type: 'heartbeat', from: 'a1', pid: 77, incarnation: 0, life: 0, version: 0, role: 'assigner', monitor: 'm2', load: { ...load, queued: 9 }, languages: [], buddy: null, monitorsHash: 0xffffffff },
  { type: 'heartbeat_ack', from: 'm1', yourIncarnation: 3, yourStatus: 'suspect', yourVersion: 2, preferredMonitor: 'm2', monitors: ['m1', 'm2'], leader: { name: 'm2', term: 4 } },
  { type: 'heartbeat_ack', from: 'm1', yourIncarnation: 0, yourStatus: 'alive', yourVersion: 0, preferredMonitor: null, monitors: [], leader: null },
  { type: 'gossip_push', from: 'm1', epoch: 7, afterSeq: 0, upToSeq: 4, headSeq: 4, tableHash: { h1: 1, h2: 2, size: 1 }, haveOfYou: null, digests: [digest], news: [] },
  { type: 'gossip_push', from: 'm1', epoch: 0, afterSeq: 4, upToSeq: 4, headSeq: 9, tableHash: { h1: 0, h2: 0, size: 0 }, haveOfYou: { epoch: 3, seq: 8 }, digests: [], news: [digest, digest] },
  { type: 'gossip_pull', from: 'm2', epoch: 9, afterSeq: 0, upToSeq: 2, ackOfYou: { epoch: 7, seq: 4 }, push: range, want: ['w1'], entries: [entry, entryFull] },
  { type: 'gossip_pull', from: 'm2', epoch: 9, afterSeq: 0, upToSeq: 0, ackOfYou: null, push: range, want: [], entries: [] },
  { type: 'gossip_entries', from: 'm1', push: range, entries: [entryFull] },
  { type: 'monitor_heartbeat', from: 'm1', term: 4, intervalMs: 500, workers: [{ name: 'w1', incarnation: 3, life: 3, load, languages: ['c'] }] },
  {
    type: 'monitor_heartbeat',
    from: 'm1',
    term: 0,
    intervalMs: 60_000,
    workers: [],
    deadWorkers: [{ name: 'w2', incarnation: 1 }],
    assigners: [{ name: 'a1', incarnation: 2, life: 1, status: 'dead', buddy: null }, { name: 'a2', incarnation: 0, life: 0, status: 'alive', buddy: 'a3' }],
  },
  { type: 'leader_heartbeat', from: 'm1', term: 5 },
  { type: 'leader_heartbeat_reply', from: 'm2', term: 5, ok: false },
  { type: 'gw_heartbeat', from: 'gw', epoch: 1 },
  { type: 'gw_heartbeat_ack', from: 'm1', record, standby: 'm2', term: 3 },
  { type: 'gw_heartbeat_ack', from: 'm1', record, standby: null, term: 0 },
  { type: 'gw_standby', from: 'm1', term: 3, standby: 'm2', record },
  { type: 'table_request', from: 'gw', requestId: 'table' },
  { type: 'table_request', from: 'gw', requestId: '' },
  {
    type: 'table_reply', from: 'm1', requestId: 'table', leader: null, term: 0,
    rows: [{ name: 'w1', role: 'worker', status: 'alive', incarnation: 3, monitor: 'm1', load, languages: ['c'] }, { name: 'a1', pid: -5, role: 'x'.repeat(16), status: 'dead', incarnation: 0, monitor: null, load: { ...load, queued: 2 }, languages: [] }],
  },
  { type: 'table_reply', from: 'm1', requestId: 'x'.repeat(64), leader: 'm2', term: 4, rows: [] },
];

/** Values a field is tried with: right for some fields, wrong for others, at and past every bound. */
const TRIES: unknown[] = [
  null, -1, -0, 0, 1, 0.5, 1.5, 2 ** 32, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, 1024, 1025, 60_000, 60_001, 1_000_000, 1_000_001, 0x7fffffff, 0x80000000,
  '', 'x', 'x'.repeat(24), 'x'.repeat(25), 'x'.repeat(64), 'x'.repeat(65), 'alive', 'dead', 'worker', 'monitor', 'gateway', 'heartbeat',
  true, false, [], ['a'], [''], Array(17).fill('c'), Array(65).fill('m'), Array(129).fill('m'), Array(33).fill(digest), Array(97).fill(digest),
  {}, { name: 'a', term: 1 }, { name: '', term: 1 }, { epoch: 1, holder: 'a' }, { epoch: 0, holder: 'a' }, { epoch: 0, seq: 0 }, load, { ...load, psiIo: 1.01 },
  entry, digest, new Uint8Array(2),
];

type Json = Record<string, unknown> | unknown[];

/** Every path to a value inside msg (the type field left out: it picks the schema). */
function paths(x: unknown, prefix: PropertyKey[] = []): PropertyKey[][] {
  if (typeof x !== 'object' || x === null || x instanceof Uint8Array) return [];
  const out: PropertyKey[][] = [];
  for (const [k, v] of Object.entries(x)) {
    const key: PropertyKey = Array.isArray(x) ? Number(k) : k;
    if (prefix.length === 0 && key === 'type') continue;
    out.push([...prefix, key], ...paths(v, [...prefix, key]));
  }
  return out;
}

/** A deep copy of msg with the value at path replaced (or, for 'delete', removed). */
function mutate(msg: unknown, path: PropertyKey[], value: unknown): unknown {
  const copy = clone(msg) as Json;
  let at: Json = copy;
  for (const k of path.slice(0, -1)) at = (at as Record<PropertyKey, unknown>)[k] as Json;
  const last = path[path.length - 1] as PropertyKey;
  if (value === DELETE) delete (at as Record<PropertyKey, unknown>)[last];
  else (at as Record<PropertyKey, unknown>)[last] = value;
  return copy;
}
const DELETE = Symbol('delete');

/** A deep copy that shares nothing (structuredClone keeps two references to one object as one). */
function clone(x: unknown): unknown {
  if (x instanceof Uint8Array) return new Uint8Array(x);
  if (Array.isArray(x)) return x.map(clone);
  if (typeof x === 'object' && x !== null) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, clone(v)]));
  return x;
}

function agree(msg: unknown, what: string, mutatedPath?: PropertyKey[]): void {
  const zod = ZOD.safeParse(msg);
  const hand = handCheck(msg);
  assert.equal(hand.success, zod.success, `${what}: zod ${zod.success ? 'accepts' : `refuses (${zod.error?.issues[0]?.path.join('.')}: ${zod.error?.issues[0]?.message})`}`);
  if (hand.success && zod.success) assert.deepStrictEqual(hand.data, zod.data, `${what}: the same copy`);
  if (!hand.success && mutatedPath) {
    const issuePath = hand.error.issues[0]?.path ?? [];
    // The first wrong field is the one changed, or inside it (a map put where a map goes).
    assert.deepStrictEqual(issuePath.slice(0, mutatedPath.length), mutatedPath, `${what}: the issue names ${mutatedPath.join('.')}, not ${issuePath.join('.')}`);
  }
}

test('every hand-checked type has samples, and zod and the hand check accept them alike', () => {
  assert.deepStrictEqual(new Set(SAMPLES.map((s) => s.type)), new Set(HAND_CHECKED_TYPES));
  for (const s of SAMPLES) {
    assert.equal(ZOD.safeParse(s).success, true, `${String(s.type)} sample is valid for zod`);
    agree(s, String(s.type));
  }
});

test('the hand checks agree with zod on every field of every sample set to each tried value, left out, or undefined', () => {
  let tried = 0;
  for (const s of SAMPLES) {
    for (const p of paths(s)) {
      for (const value of [...TRIES, undefined, DELETE]) {
        agree(mutate(s, p, value), `${String(s.type)}.${p.join('.')} = ${typeof value === 'symbol' ? '(left out)' : String(JSON.stringify(value))?.slice(0, 40)}`, p);
        tried += 1;
      }
    }
  }
  assert.ok(tried > 10_000, `${tried} cases`);
});

test('unknown fields anywhere are accepted and stripped from the copy, as zod does', () => {
  for (const s of SAMPLES) {
    for (const p of [[], ...paths(s)]) {
      const withExtra = clone(s) as Json;
      let at: unknown = withExtra;
      for (const k of p) at = (at as Record<PropertyKey, unknown>)[k];
      if (typeof at !== 'object' || at === null || Array.isArray(at)) continue;
      (at as Record<string, unknown>).extra = { big: 'x'.repeat(100) };
      const hand = handCheck(withExtra);
      assert.equal(hand.success, true);
      assert.deepStrictEqual(hand.data, ZOD.parse(withExtra));
      assert.deepStrictEqual(hand.data, s, 'the copy is the sample without the extra field');
    }
  }
});

test('random mutations (fast-check): the hand checks and zod agree', () => {
  const sample = fc.constantFrom(...SAMPLES);
  const value = fc.oneof(fc.constantFrom(...TRIES), fc.anything({ maxDepth: 2 }), fc.integer(), fc.double(), fc.string({ maxLength: 70 }));
  fc.assert(
    fc.property(sample, fc.array(fc.tuple(fc.nat(), value), { minLength: 1, maxLength: 3 }), (s, edits) => {
      let msg: unknown = s;
      for (const [i, v] of edits) {
        const ps = paths(msg);
        if (ps.length === 0) break;
        msg = mutate(msg, ps[i % ps.length] as PropertyKey[], v);
      }
      agree(msg, JSON.stringify(msg)?.slice(0, 200) ?? '?');
    }),
    { numRuns: 3_000 },
  );
});

test('a link refuses a malformed hot message with the field named, and sends only what the check kept', () => {
  const sender = createCodec<WireMessage>(WireMessageForm);
  const receiver = createCodec<WireMessage>(WireMessageForm);
  const hb = SAMPLES[0] as WireMessage;
  const smuggling = { ...hb, smuggled: 'x' };
  const sent = receiver.decode(sender.encode(smuggling));
  assert.deepStrictEqual(sent, hb, 'the unknown field never left');

  const badSender = createCodec<WireMessage>({ safeParse: (m) => ({ success: true, data: m as WireMessage }) });
  const badLoad = { ...hb, load: { ...load, psiCpu: 2 } };
  const bad = badSender.encode(badLoad);
  const fresh = createCodec<WireMessage>(WireMessageForm);
  assert.throws(
    () => fresh.decode(bad),
    (err: unknown) => err instanceof WireError && err.code === 'WIRE_INVALID' && /load\.psiCpu: expected a number in 0\.\.1/.test(err.message),
  );
  const noName = { ...hb, from: '' };
  assert.throws(() => sender.encode(noName), (err: unknown) => err instanceof WireError && /outgoing message invalid: from:/.test(err.message));
});
