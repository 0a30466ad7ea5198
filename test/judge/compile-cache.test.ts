import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CompileCache, configureCompileCache } from '../../src/sandbox/compile-cache.js';
import { findLanguage } from '../../src/sandbox/languages.js';
import { validateLimits } from '../../src/sandbox/limits.js';
import { startRun } from '../../src/sandbox/runner.js';

async function run(lang: string, source: string, opts: { stdin?: string; args?: string[]; files?: Array<{ name: string; content: string }>; interactive?: boolean } = {}) {
  const h = startRun({
    language: findLanguage(lang),
    source: Buffer.from(source),
    interactive: opts.interactive ?? false,
    limits: validateLimits({}),
    stdin: Buffer.from(opts.stdin ?? ''),
    ...(opts.args ? { args: opts.args } : {}),
    ...(opts.files ? { files: opts.files.map((f) => ({ name: f.name, content: Buffer.from(f.content) })) } : {}),
  });
  h.endInput();
  const out: Buffer[] = [];
  const compile: Buffer[] = [];
  for await (const c of h.chunks) (c.stream === 'compile' ? compile : c.stream === 'stdout' ? out : []).push(Buffer.from(c.data));
  return { result: await h.result, stdout: Buffer.concat(out).toString(), compile: Buffer.concat(compile).toString() };
}

test('batch runs of the same source compile once; the build, warnings included, comes from the cache', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ca-cc-'));
  const cache = configureCompileCache({ dir });
  const src = '#include <stdio.h>\nint main(int c, char **v){int x; long n=0; scanf("%ld",&n); printf("%ld %s\\n", n*2, c>1?v[1]:"-"); return 0;}\n';
  const runs = await Promise.all([run('c', src, { stdin: '21' }), run('c', src, { stdin: '5', args: ['hey'] }), run('c', src, { stdin: '1' })]);
  assert.deepEqual(runs.map((r) => r.stdout), ['42 -\n', '10 hey\n', '2 -\n']);
  assert.deepEqual(runs.map((r) => r.result.status), ['ok', 'ok', 'ok']);
  assert.equal(runs.filter((r) => r.result.compiled === true).length, 1, 'one compiled, runs started together waited for it');
  assert.equal(cache.stats.compiles, 1);
  assert.equal(cache.stats.hits, 2);
  assert.equal(readdirSync(dir).filter((n) => n.endsWith('.tar')).length, 1, 'shared on disk with the host\'s other processes');
  // Another process (a fresh cache over the same dir) finds the build on disk.
  const other = configureCompileCache({ dir });
  const again = await run('c', src, { stdin: '3' });
  assert.equal(again.result.compiled, false);
  assert.equal(again.stdout, '6 -\n');
  assert.equal(other.stats.compiles, 0);
  // Data files (*.data) do not change the key: written after the compile.
  const d1 = await run('c', src, { stdin: '4', files: [{ name: 'input.data', content: 'a' }] });
  const d2 = await run('c', src, { stdin: '4', files: [{ name: 'input.data', content: 'b' }] });
  assert.equal(d1.result.compiled, false);
  assert.equal(d2.result.compiled, false);
  // A different source compiles; a compile error is reported, and interactive runs always compile.
  const bad = await run('c', 'int main( {');
  assert.equal(bad.result.status, 'compile_error');
  assert.equal(bad.result.compiled, true);
  const inter = await run('c', src, { stdin: '1\n', interactive: true });
  assert.equal(inter.result.compiled, true);
  assert.equal(other.stats.compiles, 1, 'the interactive run compiled outside the cache');
});

test('compile cache keys and bounds', () => {
  const k = (content: string, name = 'main.c') => CompileCache.key({ language: 'c', compileArgv: ['gcc'], files: [{ name, content: Buffer.from(content) }] });
  assert.equal(k('a'), k('a'));
  assert.notEqual(k('a'), k('b'));
  assert.notEqual(k('a'), k('a', 'x.c'));
  const c = new CompileCache({ entriesMax: 2, memoryBytesMax: 1000, artifactBytesMax: 100, dir: null });
  c.put('1', { tar: Buffer.alloc(10), compileOutput: Buffer.alloc(0) });
  c.put('2', { tar: Buffer.alloc(10), compileOutput: Buffer.alloc(0) });
  c.put('3', { tar: Buffer.alloc(10), compileOutput: Buffer.alloc(0) });
  assert.equal(c.get('1'), null, 'oldest evicted past entriesMax');
  assert.ok(c.get('3'));
  c.put('big', { tar: Buffer.alloc(101), compileOutput: Buffer.alloc(0) });
  assert.equal(c.get('big'), null, 'an artifact over its cap is not kept');
});
