import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { killOrphanSandboxes } from '../../src/sandbox/sandbox-process.js';

/** A /proc of our own: real processes (so the kill is real) described as we choose. */
function fakeProc(dir: string, pid: number, ppid: number, argv: string[]): void {
  mkdirSync(path.join(dir, String(pid)));
  writeFileSync(path.join(dir, String(pid), 'stat'), `${pid} (bwrap) S ${ppid} ${pid} ${pid} 0 -1 4194560`);
  writeFileSync(path.join(dir, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
}

test('only a bwrap running ca-init whose parent is gone is killed as an orphan', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ca-proc-'));
  const children = [0, 1, 2].map(() => spawn('sleep', ['30'], { stdio: 'ignore' }));
  try {
    const [orphan, inUse, other] = children.map((c) => c.pid as number) as [number, number, number];
    const sandbox = ['/usr/bin/bwrap', '--unshare-all', '--as-pid-1', '--chdir', '/work', '/.ca-init'];
    fakeProc(dir, orphan, 1, sandbox);
    fakeProc(dir, inUse, 4242, sandbox); // its outer bwrap is alive
    fakeProc(dir, other, 1, ['/usr/bin/bwrap', '--unshare-all', 'sh']); // somebody else's bwrap
    writeFileSync(path.join(dir, 'self'), ''); // non-numeric entries are skipped
    assert.deepEqual(killOrphanSandboxes(dir), [orphan]);
    const [first] = children;
    await new Promise<void>((resolve) => first?.once('exit', () => resolve()));
    assert.equal(children[0]?.signalCode, 'SIGKILL');
    assert.equal(children[1]?.exitCode, null);
    assert.equal(children[2]?.exitCode, null);
    assert.deepEqual(killOrphanSandboxes(path.join(dir, 'missing')), [], 'no /proc: nothing to do, no error');
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
