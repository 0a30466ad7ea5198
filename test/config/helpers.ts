import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';

export const SECRET = 'lab-secret-0123456789-abcdefghijklmnopqrstuv';

/** A valid small lab: Gateway, 2 Monitors, 2 Assigners, a Worker host, a spare. */
export function validLab(): Record<string, any> {
  return {
    cluster: { name: 'lab-a', secret: SECRET },
    gateway: { host: 'pc-01', port: 8080 },
    nodes: [
      { name: 'pc-01', address: '10.0.0.1', role: 'gateway' },
      { name: 'pc-02', address: '10.0.0.2', role: 'monitor' },
      { name: 'pc-03', address: '10.0.0.3' },
      { name: 'pc-04', address: '10.0.0.4' },
      { name: 'pc-05', address: 'pc-05.lab.example.edu' },
      { name: 'pc-06', address: '10.0.0.6', port: 7000 },
      { name: 'pc-07', address: '10.0.0.7' },
    ],
    auth: { enabled: true, tokens: [{ token: 'teacher-token-0123456789', user: 'teacher' }] },
  };
}

/** A fresh temporary folder, removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'codearena-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Asserts fn throws a ConfigError with a problem at exactly `at` whose message matches. */
export function assertProblem(fn: () => unknown, at: string, message: RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  const found = caught.problems.find((p) => p.path === at);
  assert.ok(found, `no problem at ${at}; got:\n${caught.format()}`);
  assert.match(found.message, message);
  return caught;
}
