import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayFailover, type FailoverOptions, type FailoverOutput, type FailoverPersistent, type FailoverView } from '../../src/cluster/gateway-failover.js';
import type { GatewayFailoverMessage } from '../../src/cluster/gateway-messages.js';
import { GatewayFailoverMessageSchema } from '../../src/cluster/gateway-messages.js';

const INTERVAL = 100;
const MISSED = 5;
const TIMING = { intervalMs: INTERVAL, missedLimit: MISSED, graceMs: 3_000, designationIntervalMs: 500, idleTickMs: 500 };

interface Node {
  name: string;
  core: GatewayFailover;
  up: boolean;
  persisted: FailoverPersistent | null;
  nextAt: number;
  /** The view's term and leadership at its last step: a change steps it at once, as the service does. */
  viewKey: string;
  /** Steps on its own timer (not on a message or a view change). */
  ticks: number;
  notes: Array<{ at: number; kind: string; epoch?: number }>;
}

/** Seeded PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A Gateway and its Monitors on a virtual clock and a simulated network (delay, loss, cuts,
 * crashes). The election is not simulated: the test says who leads in which term. Checks contract
 * 3 at every step: no epoch is ever served by two nodes.
 */
class Lab {
  now = 0;
  readonly nodes = new Map<string, Node>();
  private inflight: Array<{ at: number; from: string; to: string; msg: GatewayFailoverMessage }> = [];
  readonly rand: () => number;
  dropRate = 0;
  delayMaxMs = 2;
  /** Unordered pairs "a|b" that cannot reach each other. */
  readonly cuts = new Set<string>();
  leader: string | null;
  term = 1;
  /** Per epoch, every node that ever served it. */
  readonly servedBy = new Map<number, Set<string>>();
  readonly serving = new Map<string, number>();
  /** Messages delivered, by "type to". */
  readonly delivered = new Map<string, number>();
  /** Monitors as the tables see them: up ones, unless a test says otherwise. */
  liveOverride: ((name: string) => string[]) | null = null;
  /** Monitors as a non-Monitor's (the Gateway's) table sees them, when a test says otherwise. */
  gatewayLive: string[] | null = null;
  /** Per node, designations it sees; a test can forge them. */

  constructor(readonly monitors: string[], readonly gateway = 'gw', seed = 1) {
    this.rand = prng(seed);
    this.leader = monitors[0] ?? null;
    for (const n of [gateway, ...monitors]) this.boot(n, null);
  }

  private boot(name: string, persisted: FailoverPersistent | null): void {
    const opts: FailoverOptions = { self: name, configuredGateway: this.gateway, ...TIMING };
    const core = new GatewayFailover(opts, persisted, this.monitors, this.now);
    const node: Node = { name, core, up: true, persisted, nextAt: this.now, viewKey: '', ticks: 0, notes: [] };
    this.nodes.set(name, node);
  }

  node(name: string): Node {
    return this.nodes.get(name) as Node;
  }

  view(name: string): FailoverView {
    const isMonitor = this.monitors.includes(name);
    const live = this.liveOverride ? this.liveOverride(name) : this.monitors.filter((m) => this.node(m).up);
    if (!isMonitor) return { isMonitor: false, term: 0, leader: false, voters: this.monitors, live: this.gatewayLive ?? this.monitors };
    return { isMonitor, term: this.term, leader: this.leader === name, voters: this.monitors, live };
  }

  /** Steps a node as the service does (src/gateway/failover-service.ts), noting the view it saw. */
  private stepNode(n: Node, event: Parameters<GatewayFailover['step']>[0]): void {
    const view = this.view(n.name);
    n.viewKey = `${view.isMonitor}/${view.term}/${view.leader}`;
    this.apply(n, n.core.step(event, this.now, view));
  }

  private apply(n: Node, out: FailoverOutput): void {
    if (out.persist) n.persisted = structuredClone(out.persist);
    for (const m of out.messages) {
      // Every message must pass the wire's own schema.
      assert.ok(GatewayFailoverMessageSchema.safeParse(m.message).success, JSON.stringify(m.message));
      if (this.rand() < this.dropRate) continue;
      this.inflight.push({ at: this.now + 1 + Math.floor(this.rand() * this.delayMaxMs), from: n.name, to: m.to, msg: m.message });
    }
    for (const note of out.notes) {
      n.notes.push({ at: this.now, kind: note.kind, ...('epoch' in note ? { epoch: note.epoch } : {}) });
      if (note.kind === 'serve') {
        for (const [other, e] of this.serving) assert.ok(!(e === note.epoch && other !== n.name), `${n.name} and ${other} both serve epoch ${e} at ${this.now} ms`);
        this.serving.set(n.name, note.epoch);
        const by = this.servedBy.get(note.epoch) ?? new Set();
        by.add(n.name);
        this.servedBy.set(note.epoch, by);
        assert.equal(by.size, 1, `epoch ${note.epoch} served by ${[...by].join(' and ')} (contract 3)`);
      }
      if (note.kind === 'stop') this.serving.delete(n.name);
    }
    n.nextAt = out.nextAtMs;
  }

  private cut(a: string, b: string): boolean {
    return this.cuts.has(`${a}|${b}`) || this.cuts.has(`${b}|${a}`);
  }

  isolate(name: string): void {
    for (const other of this.nodes.keys()) if (other !== name) this.cuts.add(`${name}|${other}`);
  }

  heal(): void {
    this.cuts.clear();
  }

  crash(name: string): void {
    const n = this.node(name);
    n.up = false;
    this.serving.delete(name);
  }

  restart(name: string): void {
    const persisted = this.node(name).persisted;
    const notes = this.node(name).notes;
    this.boot(name, persisted);
    this.node(name).notes.push(...notes);
  }

  /** Delivers a message as if `from` had sent it (a forged designation, say). */
  inject(from: string, to: string, msg: GatewayFailoverMessage): void {
    this.inflight.push({ at: this.now, from, to, msg });
  }

  run(ms: number): void {
    const end = this.now + ms;
    while (this.now <= end) {
      const due = this.inflight.filter((m) => m.at <= this.now);
      this.inflight = this.inflight.filter((m) => m.at > this.now);
      for (const m of due) {
        const to = this.nodes.get(m.to);
        if (!to?.up || !this.node(m.from).up || this.cut(m.from, m.to)) continue;
        const key = `${m.msg.type} ${m.to}`;
        this.delivered.set(key, (this.delivered.get(key) ?? 0) + 1);
        this.stepNode(to, { type: 'receive', from: m.from, message: m.msg });
      }
      for (const n of this.nodes.values()) {
        if (!n.up) continue;
        const view = this.view(n.name);
        const timer = n.nextAt <= this.now;
        if (timer) n.ticks += 1;
        if (timer || `${view.isMonitor}/${view.term}/${view.leader}` !== n.viewKey) this.stepNode(n, { type: 'tick' });
      }
      this.now += 1;
    }
  }

  firstNote(name: string, kind: string, after = 0): { at: number; epoch?: number } | undefined {
    return this.node(name).notes.find((n) => n.kind === kind && n.at >= after);
  }
}

describe('Gateway standby state machine', () => {
  test('the configured Gateway serves epoch 1 once a majority of Monitors granted it; the leader designates one standby', () => {
    const lab = new Lab(['mon-1', 'mon-2']);
    lab.run(2_000);
    assert.equal(lab.node('gw').core.epoch, 1);
    assert.deepEqual([...lab.serving], [['gw', 1]]);
    assert.equal(lab.node('mon-1').core.actingStandby, true, 'the leader picks the first Monitor by name');
    assert.equal(lab.node('mon-2').core.actingStandby, false);
  });

  test('a Gateway alone (no Monitor answers) does not serve', () => {
    const lab = new Lab(['mon-1', 'mon-2']);
    lab.isolate('gw');
    lab.run(3_000);
    assert.equal(lab.node('gw').core.serving, false);
  });

  test('while heartbeats flow, even with loss below the limit, nobody takes over', () => {
    const lab = new Lab(['mon-1', 'mon-2', 'mon-3'], 'gw', 7);
    lab.dropRate = 0.2; // 20 % loss: 5 in a row is 0.03 %, and heartbeats go every 100 ms
    lab.delayMaxMs = 20;
    lab.run(60_000);
    assert.deepEqual([...lab.serving], [['gw', 1]]);
    assert.equal(lab.servedBy.size, 1);
  });

  test('a new standby the Gateway\'s table does not list as a Monitor yet still hears it (after a Hydra): no takeover', () => {
    const lab = new Lab(['mon-1', 'mon-2', 'mon-3']);
    lab.run(3_000); // steady: the Gateway heartbeats the standby the leader named
    // The Monitors change under the Gateway: the leader now names mon-3, which the Gateway's table
    // does not list as a Monitor, and mon-3 misses the first heartbeats sent to it.
    lab.liveOverride = () => ['mon-3'];
    lab.gatewayLive = ['mon-1', 'mon-2'];
    lab.cuts.add('gw|mon-3');
    lab.run(1_000);
    lab.cuts.delete('gw|mon-3');
    lab.run(15_000);
    assert.deepEqual([...lab.serving], [['gw', 1]], 'the Gateway keeps its epoch');
    assert.equal(lab.node('mon-3').core.actingStandby, true);
  });

  test('the Gateway dies: the standby takes over with epoch 2 after missedLimit intervals', () => {
    const lab = new Lab(['mon-1', 'mon-2']);
    lab.run(4_000);
    const killedAt = lab.now;
    lab.crash('gw');
    lab.run(2_000);
    const served = lab.firstNote('mon-1', 'serve', killedAt);
    assert.ok(served, 'mon-1 took over');
    assert.equal(served.epoch, 2);
    const took = served.at - killedAt;
    assert.ok(took >= (MISSED - 1) * INTERVAL && took <= (MISSED + 1) * INTERVAL + 20, `took over ${took} ms after the crash`);
    assert.equal(lab.node('mon-2').persisted?.granted?.holder, 'mon-1', 'the grant is persisted');
    assert.deepEqual(lab.node('mon-2').core.record, { epoch: 2, holder: 'mon-1' });
    // The leader now designates the other Monitor as standby for the new Gateway.
    lab.run(1_000);
    assert.equal(lab.node('mon-2').core.actingStandby, true);
    assert.equal(lab.node('mon-1').core.actingStandby, false);
  });

  /** One standby core driven by hand: the designation from mon-2, heartbeats from gw, ticks when asked (or late). */
  function standby(): { core: GatewayFailover; at: (now: number, from?: 'gw' | 'mon-2') => FailoverOutput; claims: () => number[]; asked: () => number } {
    const core = new GatewayFailover({ self: 'mon-1', configuredGateway: 'gw', ...TIMING }, null, ['mon-1', 'mon-2'], 0);
    const view: FailoverView = { isMonitor: true, term: 1, leader: false, voters: ['mon-1', 'mon-2'], live: ['mon-1', 'mon-2'] };
    const claims: number[] = [];
    let asked = 0;
    const at = (now: number, from?: 'gw' | 'mon-2'): FailoverOutput => {
      const message: GatewayFailoverMessage | null =
        from === 'gw' ? { type: 'gw_heartbeat', from: 'gw', epoch: 1 } : from === 'mon-2' ? { type: 'gw_standby', from: 'mon-2', term: 1, standby: 'mon-1', record: { epoch: 1, holder: 'gw' } } : null;
      const out = core.step(message ? { type: 'receive', from: message.from, message } : { type: 'tick' }, now, view);
      for (const n of out.notes) if (n.kind === 'claim') claims.push(now);
      asked = out.nextAtMs;
      return out;
    };
    return { core, at, claims: () => claims, asked: () => asked };
  }

  /** Heartbeats every 100 ms and designations every 500 ms over [from, to), ticking when asked. */
  function steady(s: ReturnType<typeof standby>, from: number, to: number): void {
    for (let t = from; t < to; t += 1) {
      if (t % 500 === 0) s.at(t, 'mon-2');
      if (t % 100 === 0) s.at(t, 'gw');
      else if (s.asked() <= t) s.at(t);
    }
  }

  test('a standby that was itself stalled does not count the stall as the Gateway\'s silence (its tick came late)', () => {
    const s = standby();
    steady(s, 0, 5_001);
    assert.equal(s.core.actingStandby, true);
    // The whole PC stalls for 800 ms: the standby's tick (asked for by 5,500: hearing the
    // Gateway, it asks only for the idle tick) runs at 5,800, before it reads the heartbeats the
    // Gateway sent meanwhile.
    assert.ok(s.asked() <= 5_500, `asked for ${s.asked()}`);
    s.at(5_800);
    assert.deepEqual(s.claims(), [], 'no claim on the late tick');
    steady(s, 5_801, 9_000);
    assert.deepEqual(s.claims(), [], 'heartbeats resumed: never a claim');
    // The control: ticks on time and the Gateway silent from 9,000: a claim after missedLimit intervals.
    for (let t = 9_000; t < 10_000; t += 1) {
      if (t % 500 === 0) s.at(t, 'mon-2');
      else if (s.asked() <= t) s.at(t);
    }
    assert.equal(s.claims().length, 1);
    const silent = (s.claims()[0] as number) - 8_900;
    assert.ok(silent >= MISSED * INTERVAL && silent <= MISSED * INTERVAL + 2, `claimed after ${silent} ms of silence`);
  });

  test('a standby hearing the Gateway every interval is stepped by its heartbeats alone, one lost or not', () => {
    const s = standby();
    steady(s, 0, 1_001);
    const ticks: number[] = [];
    for (let t = 1_001; t < 5_001; t += 1) {
      if (t % 500 === 0) s.at(t, 'mon-2');
      if (t % 100 === 0 && t !== 3_200) s.at(t, 'gw');
      else if (s.asked() <= t) {
        ticks.push(t);
        s.at(t);
      }
    }
    assert.deepEqual(ticks, [], 'no tick of its own: each heartbeat steps it');
    assert.deepEqual(s.claims(), []);
  });

  test('a standby that was stalled still claims two intervals after the stall when the Gateway stays silent', () => {
    const s = standby();
    steady(s, 0, 5_001);
    s.at(5_800); // late: no claim yet
    for (let t = 5_801; t < 7_000; t += 1) {
      if (t % 500 === 0) s.at(t, 'mon-2');
      else if (s.asked() <= t) s.at(t);
    }
    assert.deepEqual(s.claims(), [5_800 + 2 * INTERVAL]);
  });

  test('for graceMs after it first hears the Gateway the standby waits twice missedLimit intervals (a PC just started is at its busiest)', () => {
    const s = standby();
    steady(s, 0, 1_001); // first heard at 0 (designated at 0): young until 3,000
    for (let t = 1_001; t < 4_000; t += 1) {
      if (t % 500 === 0) s.at(t, 'mon-2');
      else if (s.asked() <= t) s.at(t);
    }
    assert.deepEqual(s.claims(), [1_000 + 2 * MISSED * INTERVAL]);
  });

  test('the old Gateway restarts with epoch 1: it learns of epoch 2 and never serves', () => {
    const lab = new Lab(['mon-1', 'mon-2']);
    lab.run(4_000);
    lab.crash('gw');
    lab.run(2_000);
    const restartedAt = lab.now;
    lab.restart('gw');
    lab.run(3_000);
    assert.equal(lab.firstNote('gw', 'serve', restartedAt), undefined, 'the old Gateway did not serve');
    assert.ok(lab.firstNote('gw', 'stop', restartedAt), 'it stepped down');
    assert.deepEqual(lab.node('gw').persisted?.record, { epoch: 2, holder: 'mon-1' }, 'and remembers why');
    assert.deepEqual([...lab.serving], [['mon-1', 2]]);
    // A second restart: it knows it is not the holder and stays quiet.
    lab.restart('gw');
    lab.run(2_000);
    assert.deepEqual([...lab.serving], [['mon-1', 2]]);
  });

  test('an old Gateway cut off keeps serving its epoch, and steps down as soon as it hears of the newer one', () => {
    const lab = new Lab(['mon-1', 'mon-2']);
    lab.run(4_000);
    lab.isolate('gw');
    lab.run(2_000);
    assert.equal(lab.serving.get('mon-1'), 2);
    assert.equal(lab.serving.get('gw'), 1, 'cut off, it cannot know yet (another epoch: contract 3 holds)');
    const healedAt = lab.now;
    lab.heal();
    lab.run(1_000);
    const stop = lab.firstNote('gw', 'stop', healedAt);
    assert.ok(stop && stop.at - healedAt <= 2 * INTERVAL, 'stepped down within two heartbeats of the heal');
    assert.deepEqual([...lab.serving], [['mon-1', 2]]);
  });

  test('the new Gateway (a Monitor) dies too: the other Monitor takes over with epoch 3 — with three Monitors', () => {
    const lab = new Lab(['mon-1', 'mon-2', 'mon-3']);
    lab.run(4_000);
    lab.crash('gw');
    lab.run(2_000);
    assert.equal(lab.serving.get('mon-1'), 2);
    lab.run(2_000); // the leader designates mon-2, which hears mon-1's heartbeats
    assert.equal(lab.node('mon-2').core.actingStandby, true);
    lab.leader = 'mon-2'; // mon-1 led; it is about to die: mon-2 wins the next election
    lab.term = 2;
    lab.crash('mon-1');
    lab.liveOverride = () => ['mon-2', 'mon-3'];
    lab.run(4_000);
    assert.deepEqual([...lab.serving], [['mon-2', 3]]);
  });

  test('a standby cut off from the other Monitors cannot take over (no majority)', () => {
    const lab = new Lab(['mon-1', 'mon-2', 'mon-3']);
    lab.run(4_000);
    assert.equal(lab.node('mon-1').core.actingStandby, true);
    // mon-1 alone on its side: it stops hearing the Gateway and the others.
    lab.isolate('mon-1');
    lab.run(3_000);
    assert.equal(lab.node('mon-1').core.serving, false);
    assert.deepEqual([...lab.serving], [['gw', 1]]);
  });

  test('a Monitor that serves as Gateway refuses to grant its epoch away while it lives', () => {
    const lab = new Lab(['mon-1', 'mon-2']);
    lab.run(4_000);
    lab.crash('gw');
    lab.run(3_000);
    assert.equal(lab.serving.get('mon-1'), 2);
    // mon-2 (standby now) stops hearing mon-1's heartbeats, but mon-1 still hears claims.
    const before = lab.now;
    lab.inject('mon-2', 'mon-1', { type: 'gw_claim', from: 'mon-2', epoch: 3, term: 1 });
    lab.run(10);
    assert.equal(lab.node('mon-1').persisted?.granted?.epoch, 2, 'no grant of epoch 3');
    assert.equal(lab.firstNote('mon-1', 'granted', before), undefined);
  });

  test('two Monitors that both believe they are standby never both take over one epoch', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const lab = new Lab(['mon-1', 'mon-2', 'mon-3'], 'gw', seed);
      lab.delayMaxMs = 5;
      lab.run(4_000);
      // No leader from now on (so nothing corrects them) and forged designations: mon-2 and mon-3
      // each believe they are the standby of term 1 (and mon-1, the real one, that mon-2 is).
      lab.leader = null;
      lab.run(50); // the last real designations land first
      const forge = () => {
        for (const [to, standby] of [['mon-1', 'mon-2'], ['mon-2', 'mon-2'], ['mon-3', 'mon-3']] as const) {
          lab.inject('mon-1', to, { type: 'gw_standby', from: 'mon-1', term: 1, standby, record: lab.node(to).core.record });
        }
      };
      forge();
      lab.run(5);
      assert.equal(lab.node('mon-2').core.actingStandby, true);
      assert.equal(lab.node('mon-3').core.actingStandby, true);
      lab.crash('gw');
      // Neither heard the Gateway as standby, so both wait out the grace period, then both claim
      // (the forged designations renewed all along): the grant quorum lets at most one win each
      // epoch (checked in apply at every step).
      for (let t = 0; t < TIMING.graceMs + 2_000; t += 400) {
        forge();
        lab.run(400);
      }
      assert.ok(lab.firstNote('mon-2', 'claim') && lab.firstNote('mon-3', 'claim'), `seed ${seed}: both claimed`);
      const holders = [...lab.serving.keys()];
      assert.equal(holders.length, 1, `seed ${seed}: ${holders.join(', ')} serve`);
    }
  });

  test('grants survive a restart: a Monitor never grants one epoch to two nodes', () => {
    const opts: FailoverOptions = { self: 'mon-2', configuredGateway: 'gw', ...TIMING };
    const view: FailoverView = { isMonitor: true, term: 1, leader: false, voters: ['mon-1', 'mon-2', 'mon-3'], live: ['mon-1', 'mon-2', 'mon-3'] };
    const a = new GatewayFailover(opts, null, view.voters, 0);
    const r1 = a.step({ type: 'receive', from: 'mon-1', message: { type: 'gw_claim', from: 'mon-1', epoch: 2, term: 1 } }, 10, view);
    assert.ok(r1.persist, 'the grant is written before the reply leaves');
    assert.equal((r1.messages[0]?.message as { granted: boolean }).granted, true);
    const b = new GatewayFailover(opts, r1.persist, view.voters, 20); // restarted
    const r2 = b.step({ type: 'receive', from: 'mon-3', message: { type: 'gw_claim', from: 'mon-3', epoch: 2, term: 1 } }, 30, view);
    assert.equal((r2.messages[0]?.message as { granted: boolean }).granted, false);
    // The same claimer asking again (a retry) is granted again; a stale term is refused.
    const r3 = b.step({ type: 'receive', from: 'mon-1', message: { type: 'gw_claim', from: 'mon-1', epoch: 2, term: 1 } }, 40, view);
    assert.equal((r3.messages[0]?.message as { granted: boolean }).granted, true);
    const r4 = b.step({ type: 'receive', from: 'mon-3', message: { type: 'gw_claim', from: 'mon-3', epoch: 3, term: 0 } }, 50, view);
    assert.equal((r4.messages[0]?.message as { granted: boolean }).granted, false);
    // A message claiming another sender is ignored.
    const r5 = b.step({ type: 'receive', from: 'mon-3', message: { type: 'gw_claim', from: 'mon-1', epoch: 9, term: 1 } }, 60, view);
    assert.equal(r5.messages.length, 0);
  });

  test('random crashes, restarts, cuts, loss and leader changes: no epoch ever has two Gateways, and one serves once it is quiet', () => {
    const SEEDS = 150;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const monitors = ['mon-1', 'mon-2', 'mon-3'];
      const lab = new Lab(monitors, 'gw', seed);
      const r = lab.rand;
      lab.dropRate = 0.05;
      lab.delayMaxMs = 30;
      for (let round = 0; round < 40; round++) {
        lab.run(Math.floor(r() * 600));
        const all = [...lab.nodes.keys()];
        const who = all[Math.floor(r() * all.length)] as string;
        const x = r();
        if (x < 0.2) lab.crash(who);
        else if (x < 0.45) {
          if (!lab.node(who).up) lab.restart(who);
        } else if (x < 0.6) lab.cuts.add(`${who}|${all[Math.floor(r() * all.length)]}`);
        else if (x < 0.7) lab.heal();
        else if (x < 0.85) {
          lab.term += 1;
          const up = monitors.filter((m) => lab.node(m).up);
          lab.leader = up[Math.floor(r() * up.length)] ?? null;
        }
      }
      // Quiet: everything up and connected, one leader.
      lab.heal();
      for (const n of lab.nodes.keys()) if (!lab.node(n).up) lab.restart(n);
      lab.dropRate = 0;
      lab.term += 1;
      lab.leader = 'mon-2';
      lab.run(15_000);
      assert.equal(lab.serving.size, 1, `seed ${seed}: ${lab.serving.size} Gateways serve once quiet (${[...lab.serving].join(' ')})`);
    }
  });

  test('a node with nothing due ticks once per idleTickMs; the Gateway keeps its 100 ms heartbeats; a new leader designates at once', () => {
    const lab = new Lab(['mon-1', 'mon-2', 'mon-3']);
    lab.run(3_000);
    assert.equal(lab.node('mon-1').core.actingStandby, true);
    const before = (n: string) => lab.node(n).ticks;
    const [gw, mon3] = [before('gw'), before('mon-3')];
    lab.run(5_000);
    assert.ok(lab.node('mon-3').ticks - mon3 <= 5_000 / TIMING.idleTickMs + 1, `an idle Monitor ticked ${lab.node('mon-3').ticks - mon3} times in 5 s`);
    assert.ok(lab.node('gw').ticks - gw >= 5_000 / INTERVAL - 1, `the Gateway ticked ${lab.node('gw').ticks - gw} times in 5 s`);
    // mon-3 becomes leader (its view changes between its ticks): it designates in the same ms.
    const changedAt = lab.now;
    lab.leader = 'mon-3';
    lab.term = 2;
    lab.run(50);
    const designated = lab.firstNote('mon-3', 'designated', changedAt);
    assert.ok(designated !== undefined && designated.at <= changedAt + 1, `designated at ${designated?.at} (view changed at ${changedAt})`);
  });

  test('the standby acks every other heartbeat of the Gateway, and what changes at once', () => {
    const lab = new Lab(['mon-1', 'mon-2', 'mon-3']);
    lab.run(3_000);
    assert.equal(lab.node('mon-1').core.actingStandby, true);
    const count = (k: string) => lab.delivered.get(k) ?? 0;
    const [beats, acks] = [count('gw_heartbeat mon-1'), count('gw_heartbeat_ack gw')];
    lab.run(2_000);
    const b = count('gw_heartbeat mon-1') - beats;
    const a = count('gw_heartbeat_ack gw') - acks;
    assert.ok(b >= 19 && b <= 21, `${b} heartbeats in 2 s`);
    assert.ok(a >= 9 && a <= 11, `${a} acks for ${b} heartbeats: every other one`);
    // Straight after an ack (forced by the first of these two heartbeats or the one before), nothing new: no ack.
    const mon1 = lab.node('mon-1').core;
    const hb: GatewayFailoverMessage = { type: 'gw_heartbeat', from: 'gw', epoch: 1 };
    const acksOf = (o: FailoverOutput) => o.messages.filter((m) => m.message.type === 'gw_heartbeat_ack').length;
    const view = lab.view('mon-1');
    const first = acksOf(mon1.step({ type: 'receive', from: 'gw', message: hb }, lab.now, view));
    const second = acksOf(mon1.step({ type: 'receive', from: 'gw', message: hb }, lab.now + 1, view));
    assert.ok(first + second <= 1, `${first + second} acks for two heartbeats 1 ms apart`);
    assert.equal(acksOf(mon1.step({ type: 'receive', from: 'gw', message: hb }, lab.now + 2, { ...view, term: view.term + 1 })), 1, 'a new term: acked at once');
  });
});
