import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MESSAGE_ROUTES, routeOf, type GatewayBoundMessage, type RoleMessage, type Route } from '../../src/agent/routes.js';
import { WireMessageSchema } from '../../src/agent/wire-messages.js';
import { AgentMessageSchema } from '../../src/agent/agent-messages.js';
import { ClusterMessageSchema } from '../../src/cluster/messages.js';
import { GatewayDataMessageSchema, GatewayFailoverMessageSchema } from '../../src/cluster/gateway-messages.js';
import { GATEWAY_BOUND_TYPES } from '../../src/gateway/bound.js';
import { JudgeSyncMessageSchema } from '../../src/judge/sync-messages.js';
import { RunMessageSchema } from '../../src/protocol/run-messages.js';

const typesOf = (schema: { options: ReadonlyArray<{ shape: { type: { value: string } } }> }) => schema.options.map((o) => o.shape.type.value);
const routed = (route: Route) => Object.entries(MESSAGE_ROUTES).filter(([, r]) => r === route).map(([t]) => t).sort();

test('every wire message type has exactly one route, and nothing else has one', () => {
  assert.deepEqual(Object.keys(MESSAGE_ROUTES).sort(), typesOf(WireMessageSchema).sort());
});

test('each route holds the message families its handler takes', () => {
  // What a Gateway's API takes (cluster-backend.ts handle()): the Monitors' answers and the runs' streams.
  const gatewayBound = ['least_loaded_assigner_reply', 'table_reply', 'run_queued', 'run_started', 'run_output', 'run_exit', 'run_refused', 'run_restart', 'run_attached', 'run_takeover'];
  assert.deepEqual(routed('gateway_else_role'), gatewayBound.sort());
  assert.deepEqual([...GATEWAY_BOUND_TYPES].sort(), gatewayBound.sort(), 'isGatewayBound reads the same rows');
  assert.deepEqual(routed('gateway_standby'), typesOf(GatewayFailoverMessageSchema).sort());
  assert.deepEqual(routed('gateway_data'), typesOf(GatewayDataMessageSchema).sort());
  assert.deepEqual(routed('judge_sync'), typesOf(JudgeSyncMessageSchema).sort());
  assert.deepEqual(routed('cluster'), typesOf(ClusterMessageSchema).filter((t) => t !== 'least_loaded_assigner_reply').sort(), 'the cluster core gets its own messages but the Gateway\'s answers');
  assert.deepEqual(routed('table_request'), ['table_request']);
  const roleFamilies = new Set([...typesOf(RunMessageSchema), ...typesOf(AgentMessageSchema)]);
  for (const t of routed('role')) assert.ok(roleFamilies.has(t), `${t} is a run or agent message`);
});

test('routeOf pairs a message with its row', () => {
  // Compile time: the routed types are the rows' (not never, which any branch would accept).
  const gatewayType: GatewayBoundMessage['type'] = 'run_output';
  const roleType: RoleMessage['type'] = 'run_submit';
  assert.deepEqual([MESSAGE_ROUTES[gatewayType], MESSAGE_ROUTES[roleType]], ['gateway_else_role', 'role']);
  assert.equal(routeOf({ type: 'run_output', from: 'w', id: 'r', chunks: [{ seq: 0, stream: 'stdout', data: new Uint8Array(1) }] }).route, 'gateway_else_role');
  assert.equal(routeOf({ type: 'run_submit', from: 'gw', run: { id: 'r', user: 'u', language: 'c', files: [{ name: 'a.c', content: '' }], main: 'a.c', stdin: '', interactive: false, limits: { cpuTimeMs: 1, wallTimeMs: 1, memoryKb: 1, outputBytesMax: 1, processesMax: 1, fileSizeKb: 1, openFilesMax: 1, workDirKb: 1 } } }).route, 'role');
});
