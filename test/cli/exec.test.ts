import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../bin/codearena.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-cli-'));
chmodSync(dir, 0o755); // a root-run sandbox starts bwrap as the sandbox user, who must reach the fake one
const file = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

function cli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: opts.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024, // an output flood prints the 4 MB default cap
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('codearena exec', () => {
  test('--json prints one result object with every field', () => {
    const r = cli(['exec', file('hello.py', 'import sys\nprint("hi", input())\nsys.exit(3)\n'), '--json'], { input: 'there\n' });
    assert.equal(r.code, 0);
    const j = JSON.parse(r.stdout);
    for (const k of ['status', 'exit_code', 'signal', 'stdout', 'stderr', 'compile_output', 'cpu_time_ms', 'wall_time_ms', 'memory_kb', 'language', 'version']) {
      assert.ok(k in j, `missing ${k}`);
    }
    assert.equal(j.status, 'runtime_error');
    assert.equal(j.exit_code, 3);
    assert.equal(j.stdout, 'hi there\n');
    assert.equal(j.language, 'python');
  });

  test('--json of an output flood: output_limit with its CPU time, wall time and peak memory', () => {
    const r = cli(['exec', file('flood.py', 'while True: print("yes" * 100)\n'), '--json']);
    const j = JSON.parse(r.stdout);
    assert.equal(j.status, 'output_limit');
    assert.ok(j.cpu_time_ms > 0 && j.wall_time_ms > 0 && j.memory_kb > 1024, JSON.stringify({ ...j, stdout: undefined }));
  });

  test('without --json it behaves like the program: output, stdin, exit code', () => {
    const r = cli(['exec', file('e.c', '#include <stdio.h>\nint main(void){char b[32];fgets(b,32,stdin);printf("[%s]",b);fprintf(stderr,"warn\\n");return 5;}\n')], { input: 'abc\n' });
    assert.equal(r.code, 5);
    assert.equal(r.stdout, '[abc\n]');
    assert.equal(r.stderr, 'warn\n');
  });

  test('--stdin FILE, --lang and limits', () => {
    const input = file('in.txt', '21\n');
    const r = cli(['exec', file('prog.txt', 'print(int(input()) * 2)\n'), '--lang', 'python', '--stdin', input, '--time-limit', '2', '--memory-limit', '128', '--json']);
    const j = JSON.parse(r.stdout);
    assert.equal(j.status, 'ok');
    assert.equal(j.stdout, '42\n');
  });

  test('a compile error exits 1 with the compiler output on stderr', () => {
    const r = cli(['exec', file('bad.c', 'int main(void){ return x; }\n')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error/);
    assert.match(r.stderr, /compilation failed/);
  });

  test('the cgroup-less fallback says which mechanism held', () => {
    const r = cli(['exec', file('m.py', 'print(1)\n'), '--json'], { env: { CODEARENA_CGROUP: 'off' } });
    assert.equal(JSON.parse(r.stdout).limits_mechanism, 'rlimit');
  });

  const fakeBwrap = file('fake-bwrap', '#!/bin/sh\necho "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n');
  chmodSync(fakeBwrap, 0o755);
  const bad: Array<[string, string[], RegExp, Record<string, string>?]> = [
    ['unknown language', ['exec', file('x.py', 'print(1)'), '--lang', 'cobol'], /unknown language "cobol" — use one of/],
    ['unknown extension', ['exec', file('x.rb', 'puts 1')], /cannot tell the language of "x.rb".*--lang/],
    ['missing file', ['exec', path.join(dir, 'nope.c')], /source file ".*nope.c" not found/],
    ['limit not a number', ['exec', file('y.py', 'print(1)'), '--time-limit', 'abc'], /--time-limit must be a number/],
    ['limit out of range', ['exec', file('y.py', 'print(1)'), '--time-limit', '100000'], /--time-limit.*out of range.*seconds/],
    ['memory out of range', ['exec', file('y.py', 'print(1)'), '--memory-limit', '1'], /--memory-limit.*out of range.*MB/],
    ['memory far out of range', ['exec', file('y.py', 'print(1)'), '--memory-limit', '1e300'], /: --memory-limit is out of range — use a value between 8 and \d+ MB/],
    ['source over the cap', ['exec', file('big.py', Buffer.alloc(2 * 1024 * 1024, 35))], /over the \d+-byte cap/],
    ['missing stdin file', ['exec', file('y.py', 'print(1)'), '--stdin', path.join(dir, 'none.txt')], /stdin file .* not found/],
    ['bwrap missing', ['exec', file('y.py', 'print(1)')], /bubblewrap \(bwrap\) is not installed — apt-get install bubblewrap/, { CODEARENA_BWRAP: '/nonexistent/bwrap' }],
    ['user namespaces disabled', ['exec', file('y.py', 'print(1)')], /cannot create a user namespace.*sysctl/, { CODEARENA_BWRAP: fakeBwrap }],
    ['unknown option', ['exec', file('y.py', 'print(1)'), '--frobnicate'], /unknown option/],
  ];
  for (const [name, args, pattern, env] of bad) {
    test(`bad input: ${name} → one line, exit 2`, () => {
      const r = cli(args, env ? { env } : {});
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }
});

test('codearena languages lists the toolchains with versions', () => {
  const r = cli(['languages', '--json']);
  const list = JSON.parse(r.stdout) as Array<{ id: string; version: string }>;
  assert.ok(list.some((l) => l.id === 'python' && /python 3\./.test(l.version)));
  const t = cli(['languages']);
  assert.match(t.stdout, /^c\s+gcc/m);
});
