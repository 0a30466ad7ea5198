import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { isCodeArenaError } from '../../src/common/errors.js';
import { ConfigError } from '../../src/config/errors.js';
import { randomSecret, renderExampleConfig, writeExampleConfig } from '../../src/config/init.js';
import { loadConfig } from '../../src/config/load.js';
import { localClusterConfig } from '../../src/config/local.js';
import { labConfigShape, workersPerHost } from '../../src/config/schema.js';
import { SECRET, tempDir } from './helpers.js';

const dir = tempDir();

test('the example config loads and describes the small lab', () => {
  const file = path.join(dir, 'example.yaml');
  writeFileSync(file, renderExampleConfig({ secret: SECRET }));
  const config = loadConfig(file);
  assert.equal(config.cluster.secret, SECRET);
  const numeric = '1234567890'.repeat(4);
  writeFileSync(file, renderExampleConfig({ secret: numeric, token: '0x1234567890abcdef' }));
  assert.equal(loadConfig(file).cluster.secret, numeric, 'a secret of digits stays a string');
  const pinned = (role: string) => config.nodes.filter((n) => n.role === role).length;
  assert.deepEqual([pinned('gateway'), pinned('monitor'), pinned('assigner')], [1, 2, 2]);
  assert.ok(pinned('worker') >= 1, 'worker hosts');
  assert.equal(config.nodes.filter((n) => n.role === undefined).length, 1, 'one spare, Empty until promoted');
  assert.equal(config.gateway.host, config.nodes.find((n) => n.role === 'gateway')?.name);
  assert.ok(config.auth.enabled && config.auth.tokens.length === 1, 'auth on, with a token');
});

test('the example spells out every section of the schema, with comments', () => {
  const text = renderExampleConfig({ secret: SECRET });
  const data = parseYaml(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(data).sort(), Object.keys(labConfigShape.shape).sort());
  assert.ok(text.split('\n').filter((l) => l.includes('# ')).length >= 20, 'the example is commented');
});

test('secrets are fresh and long enough', () => {
  const a = randomSecret();
  assert.notEqual(a, randomSecret());
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
});

test('writeExampleConfig writes a private file and refuses to overwrite without force', () => {
  const file = path.join(dir, 'lab.yaml');
  writeExampleConfig(file);
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the secret is readable by its owner only');
  const first = loadConfig(file).cluster.secret;
  assert.throws(
    () => writeExampleConfig(file),
    (err) => isCodeArenaError(err) && /already exists/.test(err.message) && /--force/.test(err.hint),
  );
  assert.equal(loadConfig(file).cluster.secret, first, 'the file is untouched');
  writeExampleConfig(file, { force: true });
  assert.notEqual(loadConfig(file).cluster.secret, first, 'a fresh secret');
  assert.throws(() => writeExampleConfig(path.join(dir, 'no/such/dir/lab.yaml')), (err) => isCodeArenaError(err) && /ENOENT/.test(err.message));
});

test('an overwritten file becomes private even if it was not', () => {
  const file = path.join(dir, 'open.yaml');
  writeFileSync(file, 'old', { mode: 0o644 });
  writeExampleConfig(file, { force: true });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(readFileSync(file, 'utf8'), /^# CodeArena lab config/);
});

test('the local cluster config: seven nodes on consecutive loopback ports, auth off', () => {
  const config = localClusterConfig({ basePort: 9100, workers: 3, secret: SECRET });
  assert.deepEqual(
    config.nodes.map((n) => `${n.name}@${n.address}:${n.port}/${n.role}`),
    [
      'gw@127.0.0.1:9100/gateway',
      'mon-1@127.0.0.1:9101/monitor',
      'mon-2@127.0.0.1:9102/monitor',
      'asg-1@127.0.0.1:9103/assigner',
      'asg-2@127.0.0.1:9104/assigner',
      'wrk-1@127.0.0.1:9105/worker',
      'empty-1@127.0.0.1:9106/empty',
    ],
  );
  assert.equal(config.gateway.host, 'gw');
  assert.equal(config.gateway.port, 9107);
  assert.equal(config.auth.enabled, false);
  assert.equal(workersPerHost(config, 64), 3);
  assert.ok(Object.isFrozen(config.nodes[0]));
});

test('the local cluster config is validated like a file', () => {
  assert.throws(
    () => localClusterConfig({ basePort: 65_530, workers: 1, secret: SECRET }),
    (err) => err instanceof ConfigError && /^<local cluster>: nodes\[6\]\.port: /m.test(err.format()),
  );
  assert.throws(() => localClusterConfig({ basePort: 9100, workers: 1, secret: 'short' }), ConfigError);
  assert.throws(() => localClusterConfig({ basePort: 9100, workers: 1, secret: SECRET, gatewayPort: 9103 }), /gateway\.port: 9103 is also asg-1's/);
});
