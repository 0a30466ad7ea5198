import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import { localWorld, localWorldYaml } from '../../src/world/local.js';
import { l2sOf, loadWorld, WorldError } from '../../src/world/world.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-world-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function write(text: string): string {
  const f = path.join(dir, `world${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}
function problems(text: string): string[] {
  try {
    loadWorld(write(text));
  } catch (err) {
    assert.ok(err instanceof WorldError, String(err));
    return err.problems;
  }
  assert.fail('the world file was accepted');
}
function good(): Record<string, any> {
  return localWorld({ basePort: 30000, secret: 'a-secret-of-enough-length' });
}

test('the generated local world is valid: seven L1s, a dozen L2s, defaults filled in', () => {
  const w = loadWorld(write(localWorldYaml({ basePort: 30000 })));
  assert.equal(w.servers.filter((s) => s.kind === 'l1').length, 7);
  assert.equal(w.servers.filter((s) => s.kind === 'l2').length, 12);
  assert.equal(w.intervals.propagationTimeoutMs, 2 * 3_600_000);
  assert.equal(w.intervals.syncIntervalMs, 86_400_000);
  assert.equal(l2sOf(w, 'europe').length, 3);
  assert.equal(w.l1.get('antarctica')?.port, 30001);
});

test('a world file without an intervals section gets every default', () => {
  const w = good();
  delete w.intervals;
  const world = loadWorld(write(stringify(w)));
  assert.equal(world.intervals.propagationTimeoutMs, 7_200_000);
  assert.equal(world.intervals.heartbeatIntervalMs, 5_000);
  assert.equal(world.bodyBytesMax, 256 * 1024);
});

test('a bad port names its field', () => {
  const w = good();
  w.continents[3].l1.port = 70000;
  assert.deepEqual(problems(stringify(w)), [`world${n - 1}.yaml: continents[3].l1.port: must be 1..65535`]);
});

test('every mistake is reported, not just the first', () => {
  const w = good();
  w.continents[0].l1.port = 0;
  w.continents[1].countries[0].code = 'AQ';
  w.continents[2].countries[0].l2[0].name = 'Bad Name';
  w.intervals = { propagationTimeoutMs: -5, batchChangesMax: 'many' };
  w.colour = 'blue';
  const p = problems(stringify(w));
  const f = `world${n - 1}.yaml`;
  for (const want of [
    `${f}: continents[0].l1.port: must be 1..65535`,
    `${f}: continents[1].countries[0].code: must be a two-letter lower-case country code (ISO 3166-1 alpha-2, e.g. fr)`,
    `${f}: continents[2].countries[0].l2[0].name: must be 1..63 of a-z, 0-9, - (starting with a letter or digit)`,
    `${f}: intervals.propagationTimeoutMs: must be 1..604800000 ms`,
    `${f}: intervals.batchChangesMax: must be a number 1..1000`,
  ]) {
    assert.ok(p.includes(want), `missing "${want}" in:\n${p.join('\n')}`);
  }
  assert.ok(p.some((l) => l.includes('colour')), p.join('\n'));
  assert.ok(p.length >= 6);
});

test('missing, duplicated and unknown continents', () => {
  const w = good();
  w.continents[6].name = 'europe';
  const p = problems(stringify(w));
  assert.ok(p.some((l) => l.endsWith('continents[6].name: "europe" is already continents[3]')), p.join('\n'));
  assert.ok(p.some((l) => l.endsWith('continents: "south-america" is missing')), p.join('\n'));
  const w2 = good();
  w2.continents[0].name = 'atlantis';
  assert.ok(problems(stringify(w2))[0]?.includes('continents[0].name: must be one of africa, antarctica'));
  const w3 = good();
  w3.continents.pop();
  assert.ok(problems(stringify(w3)).some((l) => l.endsWith('continents: must list exactly the seven continents')));
});

test('duplicate names, addresses and country codes', () => {
  const w = good();
  w.continents[3].countries[0].l2[1].name = 'l2-fr-1';
  w.continents[4].l1.port = w.continents[3].l1.port;
  w.continents[4].countries[0].code = 'fr';
  const p = problems(stringify(w)).map((l) => l.replace(/^world\d+\.yaml: /, ''));
  assert.ok(p.includes('continents[3].countries[0].l2[1].name: "l2-fr-1" is already used by continents[3].countries[0].l2[0]'), p.join('\n'));
  assert.ok(p.includes('continents[4].l1.port: 127.0.0.1:30003 is already used by continents[3].l1'), p.join('\n'));
  assert.ok(p.includes('continents[4].countries[0].code: "fr" is already continents[3].countries[0]'), p.join('\n'));
});

test('a duplicate and a field mistake in the same file are both reported', () => {
  const w = good();
  w.continents[0].l1.port = 'eighty';
  w.continents[2].countries[0].l2[0].name = 'l1-europe';
  const p = problems(stringify(w)).map((l) => l.replace(/^world\d+\.yaml: /, ''));
  assert.ok(p.includes('continents[0].l1.port: must be a number 1..65535'), p.join('\n'));
  assert.ok(p.includes('continents[3].l1.name: "l1-europe" is already used by continents[2].countries[0].l2[0]'), p.join('\n'));
});

test('secret: exactly one of secret and secretFile; a short or unreadable one is refused', () => {
  const w = good();
  delete w.secret;
  assert.ok(problems(stringify(w)).some((l) => l.endsWith('secret: exactly one of secret and secretFile must be given')));
  w.secret = 'short';
  assert.ok(problems(stringify(w)).some((l) => l.endsWith('secret: must be at least 16 characters')));
  delete w.secret;
  w.secretFile = 'no-such-file';
  assert.ok(problems(stringify(w)).some((l) => /secretFile: cannot read .*no-such-file \(ENOENT\)$/.test(l)));
  writeFileSync(path.join(dir, 'secret.txt'), 'a-long-enough-file-secret\n');
  w.secretFile = 'secret.txt';
  assert.equal(loadWorld(write(stringify(w))).secret, 'a-long-enough-file-secret');
});

test('not YAML, not an object, not a file', () => {
  assert.match(problems('continents: [\n')[0] ?? '', /: not valid YAML: /);
  assert.match(problems('42\n')[0] ?? '', /\(top level\): /);
  assert.throws(() => loadWorld(path.join(dir, 'absent.yaml')), /absent\.yaml: cannot read .* \(ENOENT\)/);
});
