import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// The virtual IP's takeover on a real (namespaced) Ethernet: root only, and entirely inside
// `unshare --net --mount`, so nothing here touches the host's network (see the helper).

const HELPER = fileURLToPath(new URL('../helpers/netns-vip.js', import.meta.url));

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces); run the suite as root to include it';
  for (const bin of ['unshare', 'ip', 'arping']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) return `needs ${bin} (apt-get install util-linux iproute2 iputils-arping)`;
  }
  return null;
}

const why = missing();

test('gratuitous ARP: a third PC\'s ARP entry for the virtual IP moves to the standby\'s MAC', { skip: why ?? false }, () => {
  const r = spawnSync('unshare', ['--net', '--mount', '--', process.execPath, HELPER], { encoding: 'utf8', timeout: 30_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(line.startsWith('{'), `helper printed nothing useful: ${r.stdout} ${r.stderr}`);
  const out = JSON.parse(line) as Record<string, unknown>;
  assert.equal(out.error, undefined, `${String(out.error)} ${r.stderr}`);
  assert.equal(out.tookA, true);
  assert.equal(out.tookB, true);
  assert.equal(out.before, out.macA, 'c first reached the virtual IP at a');
  assert.equal(out.after, out.macB, `c's entry moved to b (${r.stderr})`);
  assert.notEqual(out.macA, out.macB);
  assert.equal(out.bHeld, true);
  assert.equal(out.bAfterRelease, false, 'release drops the address');
  console.log(`# ARP entry at c moved to the standby's MAC ${String(out.movedMs)} ms after it took the address`);
});
