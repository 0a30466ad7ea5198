import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cgroupFactory } from '../../src/sandbox/cgroups.js';
import { findLanguage } from '../../src/sandbox/languages.js';
import { validateLimits } from '../../src/sandbox/limits.js';
import { OVERSHOOT_CHUNKS_MAX, startRun } from '../../src/sandbox/runner.js';
import { SandboxPool } from '../../src/sandbox/sandbox-process.js';
import { CHUNK_BYTES_MAX, type Chunk } from '../../src/sandbox/chunker.js';
import { runCode } from '../helpers/sandbox.js';

const CGROUPS = cgroupFactory().mechanism !== 'rlimit';

test('neighbours: a fork bomb and a memory hog beside a normal run do not make it fail', { skip: !CGROUPS && 'needs per-run pids and memory cgroups (root, or delegated cgroup v2); rlimits are shared by the user' }, async () => {
  const normalSrc = 'import hashlib\nh = b"x"\nfor i in range(20000): h = hashlib.sha256(h).digest()\nprint(h.hex()[:16])\n';
  const alone = await runCode('python', normalSrc);
  assert.equal(alone.result.status, 'ok');
  const bomb = runCode('c', '#include <unistd.h>\nint main(void){for(;;) fork();}\n', { limits: { cpuTimeMs: 2000, wallTimeMs: 4000, processesMax: 64 } });
  const hog = runCode('c', '#include <stdlib.h>\n#include <string.h>\nint main(void){for(;;){char*p=malloc(1<<20); if(!p) return 3; memset(p,1,1<<20);}}\n', { limits: { memoryKb: 128 * 1024 } });
  await new Promise((r) => setTimeout(r, 300)); // let the bomb fill its cap first
  const normal = await runCode('python', normalSrc, { limits: { cpuTimeMs: 5000, wallTimeMs: 20000 } });
  const [b, h] = await Promise.all([bomb, hog]);
  assert.equal(normal.result.status, 'ok', JSON.stringify(normal.result));
  assert.equal(normal.stdout.toString(), alone.stdout.toString());
  assert.ok(['time_limit', 'wall_time_limit'].includes(b.result.status), b.result.status);
  assert.equal(h.result.status, 'memory_limit');
});

test('interactive: a prompt without newline arrives before the program reads stdin', async () => {
  const src = '#include <stdio.h>\nint main(void){char a[64],b[64];printf("first? ");fflush(stdout);if(!fgets(a,64,stdin))return 1;printf("second? ");fflush(stdout);if(!fgets(b,64,stdin))return 1;printf("got %s and %s",a,b);return 0;}\n';
  const run = startRun({ language: findLanguage('c'), source: Buffer.from(src), interactive: true, limits: validateLimits({}) });
  const seen: Chunk[] = [];
  let text = '';
  for await (const c of run.chunks) {
    seen.push(c);
    text += c.data.toString();
    if (text === 'first? ') run.write('apple\n');
    if (text === 'first? second? ') run.write('pear\n');
  }
  const result = await run.result;
  assert.equal(result.status, 'ok');
  assert.equal(text, 'first? second? got apple\n and pear\n');
  assert.deepEqual(seen.map((c) => c.seq), seen.map((_, i) => i));
});

test('interactive: Python input() prompt and EOF', async () => {
  const run = startRun({ language: findLanguage('python'), source: Buffer.from('try:\n    while True: print("echo:" + input("> "))\nexcept EOFError:\n    print("bye")\n'), interactive: true, limits: validateLimits({}) });
  let text = '';
  let sent = 0;
  for await (const c of run.chunks) {
    text += c.data.toString();
    if (text.endsWith('> ')) {
      if (sent++ < 2) run.write(`line${sent}\n`);
      else run.endInput();
    }
  }
  assert.equal((await run.result).status, 'ok');
  assert.equal(text, '> echo:line1\n> echo:line2\n> bye\n');
});

test('chunking: no chunk over 1500 bytes, dense sequence numbers, output byte-identical across streams', async () => {
  const src = 'import sys\nfor i in range(200):\n    sys.stdout.buffer.write(bytes((i * 7 + j) % 256 for j in range(997)))\n    sys.stdout.flush()\n    if i % 10 == 0:\n        sys.stderr.write("e%d\\n" % i)\n        sys.stderr.flush()\n';
  const r = await runCode('python', src);
  assert.equal(r.result.status, 'ok');
  r.chunks.forEach((c, i) => {
    assert.equal(c.seq, i);
    assert.ok(c.data.length >= 1 && c.data.length <= CHUNK_BYTES_MAX);
  });
  const want = Buffer.alloc(200 * 997);
  for (let i = 0; i < 200; i++) for (let j = 0; j < 997; j++) want[i * 997 + j] = (i * 7 + j) % 256;
  assert.ok(r.stdout.equals(want));
  assert.equal(r.stderr.toString(), Array.from({ length: 20 }, (_, k) => `e${k * 10}\n`).join(''));
});

test('back-pressure: a slow consumer pauses the program instead of buffering without bound', async () => {
  const run = startRun({ language: findLanguage('python'), source: Buffer.from('import sys\nfor i in range(3000): sys.stdout.write("z" * 1000 + "\\n")\n'), interactive: false, limits: validateLimits({}), queueChunksMax: 8 });
  run.endInput();
  let bytes = 0;
  let maxQueued = 0;
  for await (const c of run.chunks) {
    bytes += c.data.length;
    maxQueued = Math.max(maxQueued, run.chunks.length);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal((await run.result).status, 'ok');
  assert.equal(bytes, 3000 * 1001);
  // What the paused pipe streams still deliver may land after 'full'; the queue's hard bound holds,
  // and it is far below the 3 MB that went through (the program was paused, not buffered).
  assert.ok(maxQueued <= 8 + OVERSHOOT_CHUNKS_MAX, `queue grew to ${maxQueued}`);
  assert.ok(maxQueued * CHUNK_BYTES_MAX < (3000 * 1001) / 10, 'at most a tenth of the output was ever queued');
});

test('kill ends a run with status killed', async () => {
  const run = startRun({ language: findLanguage('python'), source: Buffer.from('import time\nprint("up", flush=True)\ntime.sleep(60)\n'), interactive: false, limits: validateLimits({}) });
  run.endInput();
  for await (const c of run.chunks) if (c.data.toString().includes('up')) run.kill();
  assert.equal((await run.result).status, 'killed');
});

const pool = new SandboxPool({ workDirKb: 64 * 1024, tmpDirKb: 64 * 1024, size: 2 });
after(() => pool.stop());

test('pooled sandboxes run programs like fresh ones, one run each', async () => {
  for (let i = 0; i < 4; i++) {
    const r = await runCode('python', `print(${i} * 2)\n`, { pool });
    assert.equal(r.result.status, 'ok');
    assert.equal(r.stdout.toString(), `${i * 2}\n`);
  }
  const w = await runCode('python', 'open("/work/mark","w").write("x")\n', { pool });
  assert.equal(w.result.status, 'ok');
  const r = await runCode('python', 'import os\nprint(os.path.exists("/work/mark"))\n', { pool });
  assert.equal(r.stdout.toString(), 'False\n', 'each run gets a fresh work dir');
});
