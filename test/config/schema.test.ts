import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLabConfig } from '../../src/config/load.js';
import { type LabConfig, workersPerHost } from '../../src/config/schema.js';
import { DEFAULT_LIMITS, MAX_LIMITS } from '../../src/sandbox/limits.js';
import { assertProblem, validLab } from './helpers.js';

const parse = (raw: unknown): LabConfig => parseLabConfig(raw, { source: 'lab.yaml', baseDir: '/nonexistent' });

/** Applies edit to a valid lab and expects a problem at `at`. */
function expectProblem(edit: (lab: Record<string, any>) => void, at: string, message: RegExp): void {
  const lab = validLab();
  edit(lab);
  assertProblem(() => parse(lab), at, message);
}

test('a valid lab loads with every default filled in', () => {
  const config = parse(validLab());
  assert.equal(config.nodes[0]?.port, 7470);
  assert.equal(config.nodes[5]?.port, 7000);
  assert.deepEqual(config.roles, { monitorsMin: 2, assignersMin: 2, workerHostsMin: 1, orderRetryMs: 5000 });
  assert.deepEqual(config.heartbeat, { intervalMs: 500, missedLimit: 5, gatewayIntervalMs: 100 });
  assert.deepEqual(config.psi, { acceptBelow: 0.6, pauseAbove: 0.9, windowMs: 2000 });
  assert.deepEqual(config.workers, { perHostMax: 'cores', slotsPerWorker: 1 });
  assert.deepEqual(config.sandbox.limitsMax, MAX_LIMITS);
  assert.deepEqual(config.sandbox.limitsDefault, DEFAULT_LIMITS);
  assert.deepEqual(config.queue, { runsMax: 256, offerRetryMs: 250 });
  assert.equal(config.auth.tokens[0]?.concurrentRunsMax, 4);
  assert.equal(config.cluster.secret, validLab().cluster.secret);
});

test('the loaded config is frozen all the way down', () => {
  const config = parse(validLab());
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.nodes) && Object.isFrozen(config.nodes[0]));
  assert.throws(() => {
    (config.heartbeat as { intervalMs: number }).intervalMs = 1;
  }, TypeError);
});

test('workers per host: "cores" is each PC\'s own count, a number caps it', () => {
  const lab = parse(validLab());
  assert.equal(workersPerHost(lab, 12), 12);
  const capped = validLab();
  capped.workers = { perHostMax: 4 };
  assert.equal(workersPerHost(parse(capped), 12), 4);
});

test('pinned roles below the minimums are fine: healing promotes the rest', () => {
  const lab = validLab();
  lab.roles = { monitorsMin: 2, assignersMin: 2, workerHostsMin: 1 };
  lab.nodes[1].role = 'monitor'; // one pinned Monitor of the two required
  assert.doesNotThrow(() => parse(lab));
});

test('role minimums: Assigners even and ≥ 2, Monitors ≥ 2', () => {
  expectProblem((l) => (l.roles = { assignersMin: 3 }), 'roles.assignersMin', /even — Assigners work in buddy pairs/);
  expectProblem((l) => (l.roles = { assignersMin: 0 }), 'roles.assignersMin', /at least 2/);
  expectProblem((l) => (l.roles = { monitorsMin: 1 }), 'roles.monitorsMin', /at least 2 — one Monitor is a single point of failure/);
});

test('too few nodes for the minimums is an error naming the sum', () => {
  expectProblem((l) => (l.roles = { workerHostsMin: 3 }), 'nodes', /7 nodes cannot hold .* = 8 — add nodes or lower/);
});

test('duplicate node names and duplicate address:port are refused', () => {
  expectProblem((l) => (l.nodes[2].name = 'pc-01'), 'nodes[2].name', /^duplicate name "pc-01" \(nodes\[0\] has it too\) — node names must be unique$/);
  expectProblem(
    (l) => (l.nodes[3] = { name: 'pc-04', address: '10.0.0.6', port: 7000 }),
    'nodes[5].port',
    /10\.0\.0\.6:7000 is also nodes\[3\]'s address and port/,
  );
  expectProblem((l) => (l.nodes[3].address = 'PC-05.lab.example.edu'), 'nodes[4].port', /also nodes\[3\]/);
});

test('gateway.host must be a node, and its port must be free on that PC', () => {
  expectProblem((l) => (l.gateway.host = 'pc-99'), 'gateway.host', /"pc-99" is not a node name .*one of: pc-01, pc-02/);
  expectProblem((l) => (l.gateway.port = 7470), 'gateway.port', /also pc-01's internal port/);
  expectProblem((l) => (l.gateway.virtualIp = '10.0.0.3'), 'gateway.virtualIp', /nodes\[2\]'s own address/);
});

test('the standby port must be free on every Monitor\'s PC', () => {
  const monitor = validLab().nodes.findIndex((n: { role?: string }) => n.role === 'monitor');
  expectProblem((l) => (l.gateway.standbyPort = l.nodes[monitor].port ?? 7470), 'gateway.standbyPort', /internal port on Monitor .* where the Gateway standby would serve/);
  assert.doesNotThrow(() => parse({ ...validLab(), gateway: { host: 'pc-01', port: 8080, standbyPort: 8081 } }));
});

test('only gateway.host may be pinned as gateway', () => {
  expectProblem((l) => (l.nodes[4].role = 'gateway'), 'nodes[4].role', /pinned as gateway but gateway.host is "pc-01" — exactly one Gateway/);
  expectProblem((l) => (l.nodes[4].role = 'boss'), 'nodes[4].role', /monitor/);
});

test('the cluster secret: exactly one of secret and secretFile, and long enough', () => {
  expectProblem((l) => (l.cluster.secretFile = 'lab.secret'), 'cluster.secretFile', /both .* keep exactly one/);
  expectProblem((l) => delete l.cluster.secret, 'cluster.secret', /no cluster secret — set cluster.secret or cluster.secretFile/);
  expectProblem((l) => (l.cluster.secret = 'short'), 'cluster.secret', /at least 32 characters/);
  expectProblem((l) => (l.cluster.secret = 'x'.repeat(31)), 'cluster.secret', /at least 32/);
  assert.doesNotThrow(() => {
    const l = validLab();
    l.cluster.secret = 'x'.repeat(32);
    parse(l);
  });
});

test('psi.acceptBelow must be below pauseAbove', () => {
  expectProblem((l) => (l.psi = { acceptBelow: 0.9 }), 'psi.acceptBelow', /0\.9.*below pauseAbove \(0\.9\)/);
  expectProblem((l) => (l.psi = { acceptBelow: 0.95, pauseAbove: 0.5 }), 'psi.acceptBelow', /pause the runs it has just accepted/);
  expectProblem((l) => (l.psi = { pauseAbove: 1.5 }), 'psi.pauseAbove', /fraction/);
});

test('unknown fields are named with their path and the known fields', () => {
  expectProblem((l) => (l.gateway.prt = 1), 'gateway.prt', /^unknown field "prt" at gateway — known fields here: host, port, virtualIp, standbyPort$/);
  expectProblem((l) => (l.nodes[1].roles = 'monitor'), 'nodes[1].roles', /unknown field "roles" at nodes\[1\] — .*role/);
  expectProblem((l) => (l.heartbeats = {}), 'heartbeats', /unknown field "heartbeats" at \(root\) — .*heartbeat/);
  expectProblem((l) => (l.sandbox = { limitsMax: { cpuMs: 1 } }), 'sandbox.limitsMax.cpuMs', /known fields here: cpuTimeMs/);
});

test('field types and ranges name the field', () => {
  expectProblem((l) => (l.nodes[0].address = '10.0.0'), 'nodes[0].address', /IPv4 address or a hostname/);
  expectProblem((l) => (l.nodes[0].port = 70000), 'nodes[0].port', /1\.\.65535/);
  expectProblem((l) => (l.nodes[0].name = 'pc 01'), 'nodes[0].name', /letters, digits/);
  expectProblem((l) => delete l.gateway.host, 'gateway.host', /missing — this field is required/);
  expectProblem((l) => (l.heartbeat = { intervalMs: '500' }), 'heartbeat.intervalMs', /expected number/);
  expectProblem((l) => (l.nodes = []), 'nodes', /at least one node/);
});

test('sandbox defaults may not exceed the maxima, nor the maxima the sandbox cap', () => {
  expectProblem(
    (l) => (l.sandbox = { limitsMax: { cpuTimeMs: 2_000 } }),
    'sandbox.limitsDefault.cpuTimeMs',
    /default 5000 is above the maximum 2000 — lower it or raise sandbox.limitsMax.cpuTimeMs/,
  );
  expectProblem((l) => (l.sandbox = { limitsMax: { memoryKb: MAX_LIMITS.memoryKb + 1 } }), 'sandbox.limitsMax.memoryKb', /hard cap/);
});

test('auth: enabled needs a token, and tokens are unique', () => {
  expectProblem((l) => (l.auth.tokens = []), 'auth.tokens', /no token is listed/);
  expectProblem(
    (l) => l.auth.tokens.push({ token: l.auth.tokens[0].token, user: 'other' }),
    'auth.tokens[1].token',
    /same token as auth.tokens\[0\]/,
  );
  expectProblem((l) => (l.auth.tokens[0].token = 'short'), 'auth.tokens[0].token', /at least 16/);
  const open = validLab();
  open.auth = { enabled: false };
  assert.equal(parse(open).auth.enabled, false);
});

test('every problem is reported at once, one line each', () => {
  const lab = validLab();
  lab.nodes[2].name = 'pc-01';
  lab.roles = { assignersMin: 2 };
  lab.psi = { acceptBelow: 0.95 };
  lab.gateway.host = 'nowhere';
  const err = assertProblem(() => parse(lab), 'nodes[2].name', /duplicate/);
  assert.equal(err.problems.length, 3, err.format());
  const lines = err.format().split('\n');
  assert.equal(lines.length, 3);
  assert.ok(lines.every((line) => line.startsWith('lab.yaml: ')), err.format());
  assert.ok(lines.includes('lab.yaml: nodes[2].name: duplicate name "pc-01" (nodes[0] has it too) — node names must be unique'), err.format());
  assert.equal(err.code, 'BAD_CONFIG');
});
