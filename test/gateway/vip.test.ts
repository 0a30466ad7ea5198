import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findPlacement, VirtualIp, type CommandResult } from '../../src/gateway/vip.js';

const IP_SHOW = [
  '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
  '5: veth-b@if4    inet 198.18.0.2/24 brd 198.18.0.255 scope global veth-b\\       valid_lft forever preferred_lft forever',
  '',
].join('\n');

/** A fake command runner: records every command, answers from a table. */
function fakeRunner(answers: Record<string, Partial<CommandResult>>) {
  const ran: string[] = [];
  const run = async (cmd: string, args: string[]): Promise<CommandResult> => {
    const line = [cmd, ...args].join(' ');
    ran.push(line);
    const key = Object.keys(answers).find((k) => line.startsWith(k));
    return { code: 0, stdout: '', stderr: '', ...(key ? answers[key] : {}) };
  };
  return { ran, run };
}

function fakeLog() {
  const lines: Array<{ level: string; msg: string }> = [];
  return { lines, log: { info: (_o: object, msg: string) => lines.push({ level: 'info', msg }), error: (_o: object, msg: string) => lines.push({ level: 'error', msg }) } };
}

describe('virtual IP', () => {
  test('finds the interface and prefix that hold the node address', () => {
    assert.deepEqual(findPlacement(IP_SHOW, '198.18.0.2'), { iface: 'veth-b', prefix: 24 });
    assert.equal(findPlacement(IP_SHOW, '198.18.0.9'), null);
  });

  test('takes the address on that interface, sends gratuitous ARP, and drops it on release', async () => {
    const { ran, run } = fakeRunner({ 'ip -o -4 addr show': { stdout: IP_SHOW } });
    const { lines, log } = fakeLog();
    const vip = new VirtualIp({ address: '198.18.0.100', ownAddress: '198.18.0.2', run, log });
    assert.equal(await vip.acquire(), true);
    assert.equal(vip.holding, true);
    await vip.release();
    assert.deepEqual(ran, [
      'ip -o -4 addr show',
      'ip addr add 198.18.0.100/24 dev veth-b',
      'arping -U -c 2 -I veth-b 198.18.0.100',
      'ip addr del 198.18.0.100/24 dev veth-b',
    ]);
    assert.equal(vip.holding, false);
    assert.ok(lines.every((l) => l.level === 'info'));
  });

  test('without CAP_NET_ADMIN: one clear error line, no ARP, and nothing to release', async () => {
    const { ran, run } = fakeRunner({
      'ip -o -4 addr show': { stdout: IP_SHOW },
      'ip addr add': { code: 2, stderr: 'RTNETLINK answers: Operation not permitted\n' },
    });
    const { lines, log } = fakeLog();
    const vip = new VirtualIp({ address: '198.18.0.100', ownAddress: '198.18.0.2', run, log });
    assert.equal(await vip.acquire(), false);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 'error');
    assert.match(lines[0]?.msg ?? '', /CAP_NET_ADMIN/);
    assert.match(lines[0]?.msg ?? '', /serving on 198\.18\.0\.2 only/);
    assert.ok(!lines[0]?.msg.includes('\n'), 'one line');
    await vip.release();
    assert.deepEqual(ran, ['ip -o -4 addr show', 'ip addr add 198.18.0.100/24 dev veth-b']);
  });

  test('an address already there counts as taken; a failed arping is reported but the address stays', async () => {
    const { ran, run } = fakeRunner({
      'ip -o -4 addr show': { stdout: IP_SHOW },
      'ip addr add': { code: 2, stderr: 'RTNETLINK answers: File exists\n' },
      arping: { code: 127, stderr: 'arping: not found' },
    });
    const { lines, log } = fakeLog();
    const vip = new VirtualIp({ address: '198.18.0.100', ownAddress: '198.18.0.2', run, log });
    assert.equal(await vip.acquire(), true);
    assert.match(lines[0]?.msg ?? '', /gratuitous ARP failed.*iputils-arping/);
    assert.equal(ran.length, 3);
  });

  test('no interface with the node address: error, no ip addr add', async () => {
    const { ran, run } = fakeRunner({ 'ip -o -4 addr show': { stdout: IP_SHOW } });
    const { lines, log } = fakeLog();
    const vip = new VirtualIp({ address: '198.18.0.100', ownAddress: '198.18.7.7', run, log });
    assert.equal(await vip.acquire(), false);
    assert.deepEqual(ran, ['ip -o -4 addr show']);
    assert.match(lines[0]?.msg ?? '', /no interface holds this node's address 198\.18\.7\.7/);
  });
});
