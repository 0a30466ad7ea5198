import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { AgentProcess, writeLocalConfig } from '../helpers/agents.js';
import { WsClient } from '../helpers/ws-client.js';

// The virtual-IP path through real node agents, with `ip` and `arping` replaced by scripts that
// record their arguments (CODEARENA_VIP_BIN_DIR): nothing touches this machine's interfaces.
// The Gateway takes the address when it serves; the standby, lacking CAP_NET_ADMIN (its fake `ip`
// answers EPERM), logs one clear line and serves on its own address; the old Gateway, stalled and
// resumed, steps down and drops the address.

const VIP = '198.18.0.100';
const FAKE_IP = `#!/bin/sh
echo "ip $*" >> "$FAKE_VIP_LOG"
case "$*" in
  "-o -4 addr show") echo "1: lo    inet 127.0.0.1/8 scope host lo\\\\       valid_lft forever preferred_lft forever" ;;
  "addr add"*) if [ -n "$FAKE_VIP_EPERM" ]; then echo "RTNETLINK answers: Operation not permitted" >&2; exit 2; fi ;;
esac
exit 0
`;
const FAKE_ARPING = `#!/bin/sh
echo "arping $*" >> "$FAKE_VIP_LOG"
exit 0
`;

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(250) })).ok;
  } catch {
    return false;
  }
}

function commands(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
}

async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('virtual IP through the node agents (fake ip/arping)', () => {
  const lab = writeLocalConfig({ gateway: { virtualIp: VIP } });
  for (const [name, text] of [['ip', FAKE_IP], ['arping', FAKE_ARPING]] as const) writeFileSync(path.join(lab.dir, name), text, { mode: 0o755 });
  const log = (n: string) => path.join(lab.dir, `${n}.commands`);
  const env = (n: string, eperm: boolean) => ({ CODEARENA_VIP_BIN_DIR: lab.dir, FAKE_VIP_LOG: log(n), ...(eperm ? { FAKE_VIP_EPERM: '1' } : {}) });
  const state = path.join(lab.dir, 'state');
  const gw = new AgentProcess('gw', lab.file, state, env('gw', false));
  const monitors = ['mon-1', 'mon-2'].map((n) => new AgentProcess(n, lab.file, state, env(n, true)));
  const gwPort = lab.basePort + 7;
  const standbyPort = lab.basePort + 8;
  after(async () => {
    if (gw.child.pid) {
      try {
        process.kill(gw.child.pid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
    await Promise.all([gw, ...monitors].map((a) => a.kill('SIGKILL')));
  });

  test('the Gateway takes the address and announces it; the standby without CAP_NET_ADMIN says so once and serves on its own address; the old Gateway drops it', async () => {
    await gw.waitFor((l) => l.event === 'vip', 20_000);
    assert.deepEqual(commands(log('gw')), ['ip -o -4 addr show', `ip addr add ${VIP}/8 dev lo`, `arping -U -c 2 -I lo ${VIP}`]);
    await until(() => healthy(gwPort), 10_000, 'the Gateway API to answer');
    const mon1 = monitors[0] as AgentProcess;
    await mon1.waitFor((l) => l.event === 'gateway_standby' && l.acting === true, 20_000);
    await new Promise((r) => setTimeout(r, 500)); // the standby hears the Gateway for a while

    // A client of the Gateway that will step down: it must be told to resume elsewhere.
    const client = await WsClient.open(`ws://127.0.0.1:${gwPort}/api/v1/runs/stream`);
    process.kill(gw.child.pid as number, 'SIGSTOP');
    await mon1.waitFor((l) => l.event === 'gateway_serve', 5_000);
    await until(() => healthy(standbyPort), 5_000, 'the standby to serve');
    await mon1.waitFor((l) => l.event === 'vip', 5_000);
    const vipLines = mon1.lines.filter((l) => l.event === 'vip');
    assert.equal(vipLines.length, 1, 'one line');
    assert.equal(vipLines[0]?.level, 50, 'an error');
    assert.match(vipLines[0]?.msg ?? '', /cannot take the virtual IP 198\.18\.0\.100: this agent lacks CAP_NET_ADMIN .*; serving on 127\.0\.0\.1 only/);
    assert.deepEqual(commands(log('mon-1')), ['ip -o -4 addr show', `ip addr add ${VIP}/8 dev lo`], 'no ARP without the address');

    process.kill(gw.child.pid as number, 'SIGCONT');
    await gw.waitFor((l) => l.event === 'gateway_stepped_down', 5_000);
    await until(() => client.closed, 5_000, 'the old Gateway to close its WebSockets');
    assert.equal(client.closeCode, 1012);
    assert.match(client.closeReason, /stepped down: resume/);
    await until(() => commands(log('gw')).includes(`ip addr del ${VIP}/8 dev lo`), 5_000, 'the old Gateway to drop the address');
    await until(async () => !(await healthy(gwPort)), 5_000, 'the old Gateway to close its port');
    await until(() => healthy(standbyPort), 5_000, "the standby to keep serving");
    assert.deepEqual(commands(log('mon-2')), [], 'the other Monitor never touched the address');
  });
});
