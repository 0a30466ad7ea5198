import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/config/errors.js';
import { CONFIG_BYTES_MAX, detectFormat, loadConfig } from '../../src/config/load.js';
import { assertProblem, SECRET, tempDir, validLab } from './helpers.js';

const dir = tempDir();

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

test('the same lab loads from YAML and from JSON', () => {
  const fromYaml = loadConfig(write('lab.yaml', stringify(validLab())));
  const fromJson = loadConfig(write('lab.json', JSON.stringify(validLab(), null, 2)));
  assert.deepEqual(fromYaml, fromJson);
  assert.equal(fromYaml.nodes.length, 7);
});

test('without a known extension the format is read from the content', () => {
  assert.equal(detectFormat('lab.conf', '  {"cluster": {}}'), 'json');
  assert.equal(detectFormat('lab.conf', 'cluster:\n  name: x\n'), 'yaml');
  assert.equal(detectFormat('lab.YML', '{"a": 1}'), 'yaml', 'the extension wins');
  const config = loadConfig(write('lab.conf', JSON.stringify(validLab())));
  assert.equal(config.cluster.name, 'lab-a');
});

test('problems in a file are reported with the file name and the field path', () => {
  const lab = validLab();
  lab.nodes[2].name = 'pc-07';
  const file = write('dup.yaml', stringify(lab));
  const err = assertProblem(() => loadConfig(file), 'nodes[6].name', /duplicate name "pc-07"/);
  assert.equal(err.format(), `${file}: nodes[6].name: duplicate name "pc-07" (nodes[2] has it too) — node names must be unique`);
});

test('YAML syntax errors and duplicate keys name the line', () => {
  assertProblem(() => loadConfig(write('bad.yaml', 'cluster:\n  name: a\n  name: b\n')), 'line 3, column 3', /invalid YAML: Map keys must be unique/);
  assertProblem(() => loadConfig(write('bad2.yaml', 'nodes: [1, 2\n')), 'line 2, column 1', /invalid YAML/);
  assertProblem(() => loadConfig(write('alias.yaml', 'cluster: *nowhere\n')), '(yaml)', /alias/);
});

test('JSON syntax errors name the line and column', () => {
  assertProblem(() => loadConfig(write('bad.json', '{\n  "cluster": {\n    "name" }\n}')), 'line 3, column 12', /^invalid JSON: Expected ':' after property name$/);
  // Where V8 quotes the context instead of a position, the message stays on one line.
  const err = assertProblem(() => loadConfig(write('bad2.json', '{\n  "cluster": {\n    "name": }\n}')), '(syntax)', /invalid JSON: Unexpected token/);
  assert.equal(err.format().split('\n').length, 1);
});

test('an empty file says what is missing', () => {
  assertProblem(() => loadConfig(write('empty.yaml', '# nothing yet\n')), '(root)', /expected object/);
});

test('a missing, oversized or non-regular config file is a clear error', () => {
  assertProblem(() => loadConfig(path.join(dir, 'nope.yaml')), '(file)', /cannot read .*nope\.yaml \(ENOENT\) — check the path/);
  assertProblem(() => loadConfig(write('huge.yaml', `# ${'x'.repeat(CONFIG_BYTES_MAX)}\n`)), '(file)', /more than the \d+ allowed/);
  assertProblem(() => loadConfig(dir), '(file)', /is not a file/);
});

test('secretFile is resolved from the config file\'s folder, not the working directory', () => {
  write('secrets/lab.secret', `${SECRET}\n`);
  const lab = validLab();
  delete lab.cluster.secret;
  lab.cluster.secretFile = '../secrets/lab.secret';
  const file = write('conf/lab.yaml', stringify(lab));
  assert.notEqual(process.cwd(), path.dirname(file));
  const config = loadConfig(file);
  assert.equal(config.cluster.secret, SECRET, 'read and trimmed');
  assert.equal(config.cluster.secretFile, path.join(dir, 'secrets/lab.secret'));
});

test('an unreadable or short secretFile names cluster.secretFile', () => {
  const lab = validLab();
  delete lab.cluster.secret;
  lab.cluster.secretFile = 'missing.secret';
  assertProblem(() => loadConfig(write('nosecret.yaml', stringify(lab))), 'cluster.secretFile', /cannot read .*missing\.secret \(ENOENT\)/);
  write('short.secret', 'too-short\n');
  lab.cluster.secretFile = 'short.secret';
  assertProblem(() => loadConfig(write('shortsecret.yaml', stringify(lab))), 'cluster.secretFile', /has 9 characters — it needs at least 32/);
});

test('a config error is a CodeArenaError the CLI can print', () => {
  try {
    loadConfig(path.join(dir, 'nope.yaml'));
    assert.fail('should have thrown');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'BAD_CONFIG');
    assert.equal(err.oneLine(), err.format());
  }
});
