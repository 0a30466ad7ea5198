import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AssignerCore, type AssignerAction } from '../../src/assigner/core.js';
import { unmeasuredResult, type RunMessage, type RunSpecWire } from '../../src/protocol/run-messages.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';

// Contracts 1 and 2 for the run protocol, over many random interleavings: a buddy pair of real
// AssignerCores, a Worker and a Gateway modelled on src/worker/core.ts and
// src/gateway/cluster-backend.ts, FIFO links, and the Assigner holding the run killed at a random
// moment (what it had not sent yet is lost; what was on the wire may still arrive), its buddy told
// later (the Monitors' dead declaration). Every run must end exactly once at the Gateway, with
// exactly the Worker's chunks, in order, none twice.

type Msg = RunMessage;
const OPTS = { queueMax: 4, offerTimeoutMs: 500, psiAcceptBelow: 0.6, workerStaleMs: 1e9, retryAfterMs: 200, runsMax: 16, finishedRetainMs: 1e9, finishedRetainBytesMax: 1 << 30, finishedRetainCountMax: 100 };
const spec: RunSpecWire = { id: 'r1', user: 'u', language: 'python', files: [{ name: 'main.py', content: '' }], main: 'main.py', stdin: '', interactive: true, limits: { ...DEFAULT_LIMITS } };
const chunk = (seq: number) => ({ seq, stream: 'stdout' as const, data: new Uint8Array([seq & 0xff]) });

interface World {
  links: Map<string, Msg[]>; // "from>to" → FIFO
  cores: Map<string, AssignerCore>;
  dead: Set<string>;
  worker: { started: boolean; produced: number; total: number; unacked: number[]; assigner: string; buddy: string | null; end: boolean; done: boolean };
  gw: { assigner: string; lastSeq: number; got: number[]; exits: number; acked: boolean; resubmitted: boolean };
}

function send(w: World, from: string, to: string, msg: Msg): void {
  if (w.dead.has(from)) return;
  const key = `${from}>${to}`;
  const q = w.links.get(key) ?? [];
  q.push(msg);
  w.links.set(key, q);
}

function apply(w: World, from: string, actions: AssignerAction[]): void {
  for (const a of actions) if (a.kind === 'send') send(w, from, a.to, a.msg);
}

function deliver(w: World, from: string, to: string, m: Msg): void {
  if (w.dead.has(to)) return;
  const core = w.cores.get(to);
  if (core) {
    switch (m.type) {
      case 'offer_reply':
        return apply(w, to, core.onOfferReply(from, m.id, m.accepted, 0));
      case 'run_output':
      case 'run_exit':
        return apply(w, to, core.onWorkerMessage(from, m, 0));
      case 'run_claim':
        return apply(w, to, core.onClaim(from, m.id));
      case 'run_attach':
        return apply(w, to, core.onAttach(from, m.id, m.afterSeq));
      case 'run_evicted':
        return apply(w, to, core.onEvicted(from, m.id, 0));
      default:
        if (m.type.startsWith('replica_')) return apply(w, to, core.onReplica(from, m as Parameters<AssignerCore['onReplica']>[1], 0));
        return;
    }
  }
  const wk = w.worker;
  if (to === 'w') {
    if (m.type === 'offer') {
      if (wk.started) {
        // Already going here; from the buddy: it holds the run now (process.ts does the same).
        if (from === wk.buddy && !wk.done) {
          send(w, 'w', from, { type: 'offer_reply', from: 'w', id: 'r1', accepted: true });
          wk.assigner = from;
          wk.buddy = null;
          resend(w);
        }
        return;
      }
      wk.started = true;
      wk.assigner = from;
      wk.buddy = m.buddy ?? null;
      send(w, 'w', from, { type: 'offer_reply', from: 'w', id: 'r1', accepted: true });
      if (wk.buddy) send(w, 'w', wk.buddy, { type: 'run_claim', from: 'w', id: 'r1' });
    } else if (m.type === 'run_ack' && from === wk.assigner) {
      wk.unacked = wk.unacked.filter((s) => s > m.seq);
      if (m.exit && wk.end) wk.done = true;
    } else if (m.type === 'run_takeover') {
      if (!wk.started || wk.done) return send(w, 'w', from, { type: 'run_evicted', from: 'w', id: 'r1', reason: 'not here' });
      wk.assigner = from;
      wk.buddy = null;
      resend(w);
    }
    return;
  }
  if (to === 'gw') {
    const g = w.gw;
    // (A finished run is no longer relayed: cluster-backend.ts forgets it at its exit.)
    if (m.type === 'run_takeover' && from !== g.assigner && g.exits === 0) {
      g.assigner = from;
      return send(w, 'gw', from, { type: 'run_attach', from: 'gw', id: 'r1', afterSeq: g.lastSeq });
    }
    if (from !== g.assigner) return;
    g.acked = true; // any message of the run from its Assigner acknowledges the submit
    if (m.type === 'run_output') {
      for (const c of m.chunks) {
        if (c.seq <= g.lastSeq) continue;
        if (c.seq > g.lastSeq + 1) return send(w, 'gw', from, { type: 'run_attach', from: 'gw', id: 'r1', afterSeq: g.lastSeq });
        g.lastSeq = c.seq;
        g.got.push(c.seq);
      }
    } else if (m.type === 'run_exit') {
      if (m.lastSeq !== undefined && m.lastSeq > g.lastSeq) return send(w, 'gw', from, { type: 'run_attach', from: 'gw', id: 'r1', afterSeq: g.lastSeq });
      g.exits++;
      g.assigner = '(finished)';
    }
  }
}

/** The Worker sends again what was not acknowledged (after a takeover, or its periodic retry). */
function resend(w: World): void {
  const wk = w.worker;
  if (wk.unacked.length > 0) send(w, 'w', wk.assigner, { type: 'run_output', from: 'w', id: 'r1', chunks: wk.unacked.map(chunk) });
  if (wk.end) send(w, 'w', wk.assigner, { type: 'run_exit', from: 'w', id: 'r1', result: unmeasuredResult('ok', 'python'), lastSeq: wk.total - 1 });
}

function runScenario(total: number, choices: number[], crashAt: number, declareAfter: number, crashWho: 'a' | 'none'): World {
  const a = new AssignerCore({ ...OPTS, name: 'a' });
  const b = new AssignerCore({ ...OPTS, name: 'b' });
  const w: World = {
    links: new Map(),
    cores: new Map([['a', a], ['b', b]]),
    dead: new Set(),
    worker: { started: false, produced: 0, total, unacked: [], assigner: '', buddy: null, end: false, done: false },
    gw: { assigner: 'a', lastSeq: -1, got: [], exits: 0, acked: false, resubmitted: false },
  };
  apply(w, 'a', a.setBuddy('b'));
  apply(w, 'b', b.setBuddy('a'));
  const load = [{ name: 'w', incarnation: 1, load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 1, slotsBusy: 0 }, languages: ['python'] }];
  apply(w, 'a', a.onMonitorHeartbeat(load, 0));
  apply(w, 'b', b.onMonitorHeartbeat(load, 0));
  apply(w, 'a', a.onSubmit('gw', spec, 0));
  let declared = false;
  for (let step = 0; step < 20_000; step++) {
    if (crashWho === 'a' && step === crashAt && !w.dead.has('a')) {
      w.dead.add('a');
      // What the dead process had not written yet is lost: cut each of its outgoing queues somewhere.
      for (const [key, q] of w.links) if (key.startsWith('a>')) q.splice((choices[step % Math.max(1, choices.length)] ?? 0) % (q.length + 1));
    }
    if (w.dead.has('a') && !declared && step >= crashAt + declareAfter) {
      declared = true;
      apply(w, 'b', b.onBuddyLost('a', 0));
    }
    const enabled: Array<() => void> = [];
    for (const [key, q] of w.links) {
      if (q.length === 0) continue;
      const [from, to] = key.split('>') as [string, string];
      enabled.push(() => deliver(w, from, to, q.shift() as Msg));
    }
    const wk = w.worker;
    if (wk.started && !w.dead.has('w') && wk.produced < wk.total) {
      enabled.push(() => {
        const seq = wk.produced++;
        wk.unacked.push(seq);
        send(w, 'w', wk.assigner, { type: 'run_output', from: 'w', id: 'r1', chunks: [chunk(seq)] });
      });
    } else if (wk.started && wk.produced === wk.total && !wk.end) {
      enabled.push(() => {
        wk.end = true;
        send(w, 'w', wk.assigner, { type: 'run_exit', from: 'w', id: 'r1', result: unmeasuredResult('ok', 'python'), lastSeq: wk.total - 1 });
      });
    }
    if (enabled.length === 0) {
      // Quiet: the Worker's periodic retry of an unacknowledged end (process.ts), or the Monitors'
      // declaration if the crash has not been declared yet; else done.
      if (w.dead.has('a') && !declared) {
        declared = true;
        apply(w, 'b', b.onBuddyLost('a', 0));
        continue;
      }
      // The Gateway's submit was never acknowledged (AckTimeout in cluster-backend.ts): it kills
      // the run at the silent Assigner and submits it to the one a Monitor names now.
      if (!w.gw.acked && !w.gw.resubmitted && w.dead.has('a')) {
        w.gw.resubmitted = true;
        w.gw.assigner = 'b';
        apply(w, 'b', b.onSubmit('gw', spec, 0));
        continue;
      }
      if (wk.end && !wk.done && !w.dead.has(wk.assigner)) {
        resend(w);
        if ([...w.links.values()].every((q) => q.length === 0)) break;
        continue;
      }
      break;
    }
    const pick = choices.length > 0 ? (choices[step % choices.length] as number) % enabled.length : 0;
    (enabled[pick] as () => void)();
  }
  return w;
}

test('a buddy pair under random interleavings and an Assigner killed at any moment: one end, every chunk once, in order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 60 }),
      fc.nat({ max: 80 }),
      fc.nat({ max: 30 }),
      fc.constantFrom<'a' | 'none'>('a', 'a', 'none'),
      (total, choices, crashAt, declareAfter, crashWho) => {
        const w = runScenario(total, choices, crashAt, declareAfter, crashWho);
        assert.equal(w.gw.exits, 1, `exactly one end (got ${w.gw.exits}); chunks ${w.gw.got.join(',')}`);
        assert.deepEqual(w.gw.got, Array.from({ length: total }, (_, i) => i), 'every chunk once, in order');
      },
    ),
    { numRuns: Number(process.env.PAIR_RUNS ?? 3000), seed: Number(process.env.PAIR_SEED ?? 20261125) },
  );
});
