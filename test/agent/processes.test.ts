import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { z } from 'zod';
import { connect } from '../../src/wire/index.js';
import { accountingDir, removeAccountingGroups } from '../../src/worker/accounting.js';
import { agentsForSuite, AgentProcess, writeLocalConfig } from '../helpers/agents.js';

const HEARTBEAT_MS = 500;
const MISSED_LIMIT = 5;
/** Detection bound at the owning Monitor plus a margin for gossip to the other Monitor. */
const DEAD_BOUND_MS = (MISSED_LIMIT + 1) * HEARTBEAT_MS;
const GOSSIP_MARGIN_MS = 1_500;

describe('five node agents as separate processes on loopback', () => {
  const lab = writeLocalConfig();
  const names = ['mon-1', 'mon-2', 'asg-1', 'asg-2', 'empty-1'];
  const agents = agentsForSuite(names, lab);
  const monitors = () => ['mon-1', 'mon-2'].map((n) => agents.get(n) as AgentProcess);
  after(() => Promise.all([...agents.values()].map((a) => a.kill('SIGKILL'))));

  test('every Monitor sees all five alive', async () => {
    for (const m of monitors()) {
      for (const n of names) await m.waitFor((l) => l.event === 'table' && l.peer === n && l.status === 'alive', 15_000);
    }
  });

  test('a wrong secret and garbage frames are refused without harming the cluster', async () => {
    const port = lab.basePort + 1; // mon-1
    await assert.rejects(
      connect({ host: '127.0.0.1', port, secret: 'wrong-secret-wrong-secret-wrong-secret', name: 'empty-1', schema: z.any(), logger: { warn() {}, debug() {} } }),
      /handshake|PSK|closed|refused|socket/i,
    );
    const raw = net.connect(port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    raw.write(Buffer.from('GET / HTTP/1.1\r\n\r\n\x00\x00\x00\x10garbage-garbage!'));
    await new Promise((r) => raw.once('close', r));
    await agents.get('mon-1')?.waitFor((l) => /refused a peer/.test(l.msg), 5_000);
    await new Promise((r) => setTimeout(r, 4 * HEARTBEAT_MS));
    for (const m of monitors()) for (const n of names) assert.equal(m.statusOf(n), 'alive', `${m.name} still sees ${n} alive`);
  });

  test('SIGKILL of a node: every Monitor marks it dead within the bound, nobody else', async () => {
    const victim = agents.get('empty-1') as AgentProcess;
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    const times: number[] = [];
    for (const m of monitors()) {
      const line = await m.waitFor((l) => l.event === 'table' && l.peer === 'empty-1' && l.status === 'dead', DEAD_BOUND_MS + GOSSIP_MARGIN_MS + 2_000);
      times.push(line.time - killedAt);
    }
    console.log(`# dead after ${times.join(' / ')} ms at ${monitors().map((m) => m.name).join(' / ')} (bound ${DEAD_BOUND_MS} + ${GOSSIP_MARGIN_MS} ms)`);
    for (const t of times) assert.ok(t <= DEAD_BOUND_MS + GOSSIP_MARGIN_MS, `declared dead after ${t} ms`);
    for (const m of monitors()) for (const n of names.filter((x) => x !== 'empty-1')) assert.equal(m.statusOf(n), 'alive');
  });
});

describe('role orders', () => {
  const lab = writeLocalConfig();
  const names = ['mon-1', 'mon-2', 'empty-1'];
  const agents = agentsForSuite(names, lab);
  after(async () => {
    await Promise.all([...agents.values()].map((a) => a.kill('SIGKILL')));
    const acct = accountingDir('test');
    if (acct) removeAccountingGroups(acct);
  });

  test('a node changes role on a term-stamped order without a restart, and ignores a stale one', async () => {
    const empty = agents.get('empty-1') as AgentProcess;
    await empty.waitFor((l) => l.event === 'started', 15_000);
    // The test speaks as Monitor mon-2 (it has the secret, as every lab PC does).
    const conn = await connect({ host: '127.0.0.1', port: lab.basePort + 6, secret: 'test-secret-0123456789abcdefghijklmnop', name: 'mon-2', schema: z.any(), logger: { warn() {}, debug() {} } });
    conn.send({ type: 'order_role', from: 'mon-2', term: 7, seq: 1, target: 'empty-1', role: 'assigner' });
    await empty.waitFor((l) => l.event === 'role' && l.role === 'assigner', 5_000);
    conn.send({ type: 'order_role', from: 'mon-2', term: 3, seq: 9, target: 'empty-1', role: 'worker' });
    await empty.waitFor((l) => /stale_order/.test(l.msg), 5_000);
    assert.ok(!empty.lines.some((l) => l.event === 'role' && l.role === 'worker'), 'the stale order was ignored');
    const pidBefore = empty.child.pid;
    assert.equal(empty.child.exitCode, null, 'same process, no restart');
    assert.equal(empty.child.pid, pidBefore);
    const mon = agents.get('mon-1') as AgentProcess;
    await mon.waitFor((l) => l.event === 'table' && l.peer === 'empty-1' && l.role === 'assigner', 10_000);
    conn.close();
  });
});

/** Polls until `count` of the agents report a role change to `role`; returns them in order. */
async function promoted(agents: AgentProcess[], role: string, count: number, timeoutMs: number): Promise<Array<{ name: string; time: number }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = agents.flatMap((a) => a.lines.filter((l) => l.event === 'role' && l.role === role).map((l) => ({ name: a.name, time: l.time as number })));
    if (got.length >= count || Date.now() > deadline) return got.sort((x, y) => x.time - y.time);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('elastic strength', () => {
  // No Worker host runs here: the leader makes one Empty node a Worker host (the minimum is 1),
  // and the other is there to replace an Assigner.
  const lab = writeLocalConfig({ empties: 2 });
  const names = ['mon-1', 'mon-2', 'asg-1', 'asg-2', 'empty-1', 'empty-2'];
  const agents = agentsForSuite(names, lab);
  const empties = () => [agents.get('empty-1') as AgentProcess, agents.get('empty-2') as AgentProcess];
  after(async () => {
    await Promise.all([...agents.values()].map((a) => a.kill('SIGKILL')));
    // The promoted Worker host was SIGKILLed: its Worker processes must not outlive it.
    let left = '';
    for (let i = 0; i < 50; i++) {
      try {
        left = execFileSync('pgrep', ['-af', '--', `worker-proc --config-stdin .* --state-dir ${path.join(lab.dir, 'state')}`], { encoding: 'utf8' }).trim();
      } catch {
        left = ''; // pgrep exits 1 when nothing matches
      }
      if (left === '') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(left, '', 'no Worker process outlives its SIGKILLed host');
  });

  test('below the Worker host minimum an Empty node becomes one; an Assigner dies: the leader promotes the other Empty node to Assigner', async () => {
    const mon = agents.get('mon-1') as AgentProcess;
    for (const n of names) await mon.waitFor((l) => l.event === 'table' && l.peer === n && l.status === 'alive', 15_000);
    const host = await promoted(empties(), 'worker', 1, 20_000);
    assert.equal(host.length, 1, 'one Empty node became a Worker host');
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual(await promoted(empties(), 'assigner', 1, 0), [], 'no Assigner promotion while the Assigners are all there');
    const killedAt = Date.now();
    await (agents.get('asg-2') as AgentProcess).kill('SIGKILL');
    const [asg] = await promoted(empties(), 'assigner', 1, 15_000);
    assert.ok(asg, 'an Empty node became an Assigner');
    assert.notEqual(asg.name, host[0]?.name);
    console.log(`# ${asg.name} promoted to Assigner ${asg.time - killedAt} ms after asg-2 was killed`);
    await mon.waitFor((l) => l.event === 'table' && l.peer === asg.name && l.role === 'assigner' && l.status === 'alive', 5_000);
  });
});

describe('the Hydra', () => {
  const lab = writeLocalConfig({ empties: 3 });
  const names = ['mon-1', 'mon-2', 'asg-1', 'asg-2', 'empty-1', 'empty-2', 'empty-3'];
  const agents = agentsForSuite(names, lab);
  const get = (n: string) => agents.get(n) as AgentProcess;
  after(() => Promise.all([...agents.values()].map((a) => a.kill('SIGKILL'))));

  test('a Monitor is SIGKILLed: the Assigners elect, both become Monitors, and Empty nodes become Assigners', async () => {
    for (const n of names) await get('mon-2').waitFor((l) => l.event === 'table' && l.peer === n && l.status === 'alive', 15_000);
    // The Assigners must have heard the Monitor they are to miss.
    await new Promise((r) => setTimeout(r, 2_000));
    const killedAt = Date.now();
    await get('mon-1').kill('SIGKILL');
    const campaign = await Promise.race(['asg-1', 'asg-2'].map((a) => get(a).waitFor((l) => /hydra_campaign/.test(l.msg), 10_000)));
    const won = await Promise.race(['asg-1', 'asg-2'].map((a) => get(a).waitFor((l) => /hydra_won/.test(l.msg), 10_000)));
    const serving: number[] = [];
    for (const a of ['asg-1', 'asg-2']) {
      const line = await get('mon-2').waitFor((l) => l.event === 'table' && l.peer === a && l.role === 'monitor' && l.status === 'alive', 10_000);
      serving.push(line.time);
    }
    const detectedMs = campaign.time - killedAt;
    const hydraMs = Math.max(...serving) - campaign.time;
    console.log(`# Hydra election to two serving Monitors: ${hydraMs} ms (detection ${detectedMs} ms after the SIGKILL; won ${won.time - campaign.time} ms after the first campaign)`);
    assert.ok(detectedMs >= 4 * HEARTBEAT_MS, `not before the 5th missed heartbeat (${detectedMs} ms)`);
    assert.ok(hydraMs <= 3_000, `two Monitors serving ${hydraMs} ms after detection`);
    const wins = ['asg-1', 'asg-2'].flatMap((a) => get(a).lines.filter((l) => /hydra_won/.test(l.msg)));
    assert.equal(wins.length, 1, 'one winner, one pair');
    // The Monitor leader (mon-2, or a new Monitor) refills the Assigners from Empty nodes, in a pair.
    // (One Empty node may become a Worker host first: none runs here and the minimum is 1.)
    const pair = await promoted(['empty-1', 'empty-2', 'empty-3'].map(get), 'assigner', 2, 30_000);
    const refilledMs = Date.now() - killedAt;
    console.log(`# Assigners refilled (${pair.map((p) => p.name).join(' + ')}) ${refilledMs} ms after the SIGKILL`);
    assert.equal(pair.length, 2, 'a pair of Empty nodes promoted');
  });
});
