import { execFileSync } from 'node:child_process';
import { execRunner, VirtualIp, type CommandRunner } from '../../src/gateway/vip.js';

// Runs INSIDE `unshare --net --mount` (test/netns/vip.test.ts starts it so): a fresh network
// namespace holding only a down loopback, and a private mount namespace for /run/netns. Builds
// three lab PCs as namespaces on a bridge (198.18.0.0/24 — the benchmarking range, never routed
// out from here since this namespace has no other link), lets PC "a" take the virtual IP, makes
// PC "c" talk to it, kills a's link, lets "b" take the address over, and reports c's ARP entry.
// Prints one JSON object on stdout.

const VIP = '198.18.0.100';
const PCS = { a: '198.18.0.1', b: '198.18.0.2', c: '198.18.0.3' } as const;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNs(ns: string): CommandRunner {
  return (cmd, args) => execRunner('ip', ['netns', 'exec', ns, cmd, ...args]);
}

function mac(ns: string): string {
  return /link\/ether ([0-9a-f:]{17})/.exec(sh('ip', ['-n', ns, '-o', 'link', 'show', 'eth0']))?.[1] ?? '';
}

function neighbour(ns: string, addr: string): string {
  return /lladdr ([0-9a-f:]{17})/.exec(sh('ip', ['-n', ns, 'neigh', 'show', addr]))?.[1] ?? '';
}

const log = { info: (_o: object, msg: string) => process.stderr.write(`${msg}\n`), error: (_o: object, msg: string) => process.stderr.write(`ERROR ${msg}\n`) };

async function main(): Promise<void> {
  // Never touch a real network: this must be a namespace of our own, with nothing but lo.
  const links = sh('ip', ['-o', 'link', 'show']).trim().split('\n');
  if (links.length !== 1 || !/: lo:/.test(links[0] as string)) throw new Error(`not a fresh network namespace (links: ${links.length}); refusing`);
  sh('mount', ['-t', 'tmpfs', 'tmpfs', '/run']); // private to this mount namespace
  sh('mkdir', ['-p', '/run/netns']);
  sh('ip', ['link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['link', 'set', 'br0', 'up']);
  for (const [ns, addr] of Object.entries(PCS)) {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', `veth-${ns}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh('ip', ['link', 'set', `veth-${ns}`, 'master', 'br0', 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const vipA = new VirtualIp({ address: VIP, ownAddress: PCS.a, run: inNs('a'), log });
  const vipB = new VirtualIp({ address: VIP, ownAddress: PCS.b, run: inNs('b'), log });
  const tookA = await vipA.acquire();
  // c talks to the virtual IP (a TCP connect is enough to resolve its MAC).
  sh('ip', ['netns', 'exec', 'c', process.execPath, '-e', `const s=require('net').connect(9,'${VIP}');s.on('error',()=>{});setTimeout(()=>process.exit(0),300)`]);
  const before = neighbour('c', VIP);
  // PC a dies (its link goes down; the address stays configured there, as on a crashed PC).
  sh('ip', ['-n', 'a', 'link', 'set', 'eth0', 'down']);
  // Watch c's entry while b takes the address (arping -c 2 sends its second packet a second
  // after the first; an entry updated less than a second before ignores the first: locktime).
  const t0 = Date.now();
  const taking = vipB.acquire();
  let after = neighbour('c', VIP);
  while (after !== mac('b') && Date.now() - t0 < 5_000) {
    await new Promise((r) => setTimeout(r, 20));
    after = neighbour('c', VIP);
  }
  const movedMs = Date.now() - t0;
  const tookB = await taking;
  const bHeld = sh('ip', ['-n', 'b', '-o', '-4', 'addr', 'show', 'dev', 'eth0']).includes(VIP);
  await vipB.release();
  const bAfterRelease = sh('ip', ['-n', 'b', '-o', '-4', 'addr', 'show', 'dev', 'eth0']).includes(VIP);
  process.stdout.write(`${JSON.stringify({ tookA, tookB, macA: mac('a'), macB: mac('b'), before, after, movedMs, bHeld, bAfterRelease })}\n`);
}

main().catch((err: Error) => {
  process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
  process.exit(1);
});
