import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { LocalBackend } from '../../src/gateway/local-backend.js';
import { buildGateway } from '../../src/gateway/server.js';
import { cliAsync } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-run-'));
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};
let app: FastifyInstance;
let url: string;

before(async () => {
  app = await buildGateway({ backend: new LocalBackend({ slots: 2, queueMax: 8 }), auth: { enabled: true, tokens: [{ token: 'tok-abcdefghijklmnop', user: 'u', concurrentRunsMax: 4 }] } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
after(() => app.close());

describe('codearena run / status against a gateway', () => {
  test('runs a file remotely: output, piped stdin, exit code', async () => {
    const r = await cliAsync(['run', file('a.py', 'import sys\nprint("sum", sum(int(x) for x in sys.stdin.read().split()))\nsys.exit(4)\n'), '--gateway', url, '--token', 'tok-abcdefghijklmnop'], { input: '1 2 3\n' });
    assert.equal(r.stdout, 'sum 6\n');
    assert.equal(r.code, 4);
  });

  test('--json prints the result object', async () => {
    const r = await cliAsync(['run', file('b.c', '#include <stdio.h>\nint main(void){puts("cc");return 0;}\n'), '--gateway', url, '--json'], { env: { CODEARENA_TOKEN: 'tok-abcdefghijklmnop' } });
    const j = JSON.parse(r.stdout);
    assert.equal(j.status, 'ok');
    assert.equal(j.stdout, 'cc\n');
    assert.equal(j.language, 'c');
  });

  test('tries the gateways in order: a dead first one is skipped', async () => {
    const r = await cliAsync(['run', file('c.js', 'console.log("js")\n'), '--gateway', `http://127.0.0.1:1,${url}`, '--token', 'tok-abcdefghijklmnop']);
    assert.equal(r.stdout, 'js\n');
    assert.equal(r.code, 0);
  });

  test('a wrong token: one line, exit 2', async () => {
    const r = await cliAsync(['run', file('d.py', 'print(1)\n'), '--gateway', url, '--token', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /UNAUTHORIZED|token/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  test('no gateway at all: one line, exit 2', async () => {
    const r = await cliAsync(['run', file('e.py', 'print(1)\n'), '--gateway', 'http://127.0.0.1:1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no gateway answered/);
  });

  test('status shows the nodes', async () => {
    const r = await cliAsync(['status', '--gateway', url, '--token', 'tok-abcdefghijklmnop']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /NODE\s+ROLE\s+STATE/);
    const j = await cliAsync(['status', '--gateway', url, '--token', 'tok-abcdefghijklmnop', '--json']);
    assert.ok(Array.isArray(JSON.parse(j.stdout).nodes));
  });
});
