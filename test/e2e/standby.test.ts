import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AgentProcess } from '../helpers/agents.js';
import { cliAsync } from '../helpers/cli.js';
import { UpCluster } from '../helpers/up.js';
import { WsClient } from '../helpers/ws-client.js';

// Gateway failover on a `codearena up` cluster (loopback: no virtual IP; the standby Monitor serves
// on the standby port). The Gateway process is SIGKILLed; the standby must serve within about a
// second; runs go on through it; an old Gateway restarted with its old epoch steps down.

/** gatewayIntervalMs 100 × missedLimit 5 = 500 ms of silence, then a grant round trip and listen. */
const TAKEOVER_BOUND_MS = 1_500;

const cluster = new UpCluster(['--workers', '1', '--auth']);
let oldGateway: AgentProcess | null = null;

before(() => cluster.ready());
after(async () => {
  await oldGateway?.kill('SIGKILL');
  await cluster.stopCleanly();
});

const healthy = (url: string) => UpCluster.healthy(url);

async function runHello(url: string, text: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}/api/v1/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...cluster.headers() },
    body: JSON.stringify({ language: 'python', source: `print(${JSON.stringify(text)})\n`, wait: true }),
  });
  assert.equal(r.status, 200);
  return (await r.json()) as Record<string, unknown>;
}

describe('Gateway standby on a `codearena up` cluster', () => {
  test('up prints both gateways and a ready-to-copy run command', () => {
    assert.match(cluster.standbyUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(cluster.standbyUrl, cluster.url);
    assert.ok(cluster.output.includes(`--gateway ${cluster.url},${cluster.standbyUrl}`), cluster.output);
  });

  test('SIGKILL of the Gateway: the standby serves within about a second, and runs go on through it', async () => {
    const before = await runHello(cluster.url, 'before');
    assert.equal(before.stdout, 'before\n');
    // Wait until a standby is designated and hears the Gateway (its log says so).
    const mon1 = path.join(cluster.logDir, 'mon-1.log');
    for (let i = 0; i < 100 && !/"event":"gateway_standby","acting":true/.test(readLog(mon1) + readLog(path.join(cluster.logDir, 'mon-2.log'))); i++) await new Promise((r) => setTimeout(r, 100));
    const view = (await (await fetch(`${cluster.url}/api/v1/cluster`, { headers: cluster.headers() })).json()) as { nodes: Array<{ name: string; pid: number | null }> };
    const pid = view.nodes.find((n) => n.name === 'gw')?.pid;
    assert.ok(pid, 'the Gateway has a pid in the cluster view');
    assert.equal(await healthy(cluster.standbyUrl), false, 'the standby does not serve while the Gateway lives');

    // A client in the middle of an interactive run: it resumes on the standby after the kill.
    const source = 'import time\nfor i in range(1, 61):\n    print(f"n {i}", flush=True)\n    time.sleep(0.05)\nprint("got", input(), flush=True)\n';
    const c1 = await WsClient.open(`${cluster.url.replace('http', 'ws')}/api/v1/runs/stream`, cluster.headers());
    c1.send({ type: 'start', language: 'python', source });
    const acc = await c1.waitFor((m): m is Extract<typeof m, { type: 'accepted' }> => m.type === 'accepted', 30_000);
    await c1.waitFor(() => c1.output('stdout').includes('n 5\n'), 30_000);

    let lastOld = 0;
    for (let i = 0; i < 20; i++) {
      if (await healthy(cluster.url)) lastOld = Date.now();
      await new Promise((r) => setTimeout(r, 10));
    }
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    let first = 0;
    while (Date.now() - killedAt < 10_000) {
      if (await healthy(cluster.standbyUrl)) {
        first = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    console.log(`# last reply from the old Gateway ${lastOld - killedAt} ms, first reply from the standby +${first - killedAt} ms after SIGKILL`);
    assert.ok(first > 0, 'the standby never served');
    assert.ok(first - killedAt <= TAKEOVER_BOUND_MS, `took over ${first - killedAt} ms after the kill`);

    // The interrupted client resumes on the standby with its token and last seq: exactly the rest.
    const seen = c1.messages.filter((m): m is Extract<typeof m, { type: 'output' }> => m.type === 'output');
    c1.ws.terminate();
    const c2 = await WsClient.open(`${cluster.standbyUrl.replace('http', 'ws')}/api/v1/runs/stream`, cluster.headers());
    c2.send({ type: 'resume', id: acc.id, resume_token: acc.resume_token, last_seq: seen[seen.length - 1]?.seq ?? -1 });
    await c2.waitFor(() => c2.output('stdout').includes('n 60\n'), 30_000);
    c2.send({ type: 'stdin', data: 'from the standby\n' });
    const exit = await c2.waitFor((m): m is Extract<typeof m, { type: 'exit' }> => m.type === 'exit', 30_000);
    assert.equal(exit.result.status, 'ok', JSON.stringify(exit.result));
    const rest = c2.messages.filter((m): m is Extract<typeof m, { type: 'output' }> => m.type === 'output');
    const all = [...seen, ...rest];
    const seqs = all.flatMap((m) => Array.from({ length: m.seq - m.first_seq + 1 }, (_, k) => m.first_seq + k));
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'no chunk lost or repeated across the Gateway failover');
    const text = Buffer.concat(all.map((m) => Buffer.from(m.data, 'base64'))).toString();
    assert.equal(text, `${Array.from({ length: 60 }, (_, i) => `n ${i + 1}\n`).join('')}got from the standby\n`);
    c2.close();

    const after = await runHello(cluster.standbyUrl, 'after the failover');
    assert.equal(after.status, 'ok');
    assert.equal(after.stdout, 'after the failover\n');
  });

  test('codearena run with both addresses works after the kill', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-standby-'));
    const file = path.join(dir, 'hello.py');
    writeFileSync(file, 'print("hello, " + input())\n');
    const r = await cliAsync(['run', file, '--gateway', cluster.url, '--gateway', cluster.standbyUrl, '--token', cluster.token as string], { input: 'standby\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello, standby\n');
  });

  test('the old Gateway restarted with its old epoch steps down and never serves', async () => {
    oldGateway = new AgentProcess('gw', path.join(cluster.logDir, 'lab.json'), path.join(cluster.logDir, 'state'));
    const down = await oldGateway.waitFor((l) => l.event === 'gateway_stepped_down', 15_000);
    const newer = (down as unknown as { newer: { epoch: number; holder: string } }).newer;
    assert.ok(newer.epoch >= 2 && /^mon-\d$/.test(newer.holder), JSON.stringify(newer));
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(!oldGateway.lines.some((l) => l.event === 'gateway_serve' || l.event === 'gateway'), 'it never served');
    assert.equal(await healthy(cluster.url), false, 'nothing answers on the old port');
    assert.equal(await healthy(cluster.standbyUrl), true, 'the standby still serves');
    await oldGateway.kill('SIGKILL');
  });
});

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
