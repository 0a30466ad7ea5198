import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { localWorldYaml } from '../../src/world/local.js';

const CLI = fileURLToPath(new URL('../../../bin/blog.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });

test('bad flags and missing files are one line and exit code 2', () => {
  const port = run('up', '--base-port', '70000');
  assert.equal(port.status, 2, port.stderr);
  assert.equal(port.stderr.trim(), '--base-port must be an integer 1024..65000, got "70000"');
  const missing = run('node', '--world', '/nonexistent/world.yaml', '--name', 'l1-europe');
  assert.equal(missing.status, 2, missing.stderr);
  assert.equal(missing.stderr.trim(), 'world.yaml: cannot read /nonexistent/world.yaml (ENOENT)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-cli-test-'));
  const world = path.join(dir, 'world.yaml');
  writeFileSync(world, localWorldYaml({ basePort: 30000 }));
  const unknown = run('node', '--world', world, '--name', 'l2-xx-9');
  rmSync(dir, { recursive: true, force: true });
  assert.equal(unknown.status, 2, unknown.stderr);
  assert.match(unknown.stderr.trim(), /^--name: no server "l2-xx-9" in .*world\.yaml \(it has l1-africa, l2-ng-1, /);
  const noName = run('node', '--world', '/nonexistent/world.yaml');
  assert.notEqual(noName.status, 0);
  assert.match(noName.stderr, /--name/);
});
