// npm run bench -- wire-checks: one hot cluster message encoded and decoded by a link's codec
// (MessagePack + the check, both directions), checked by the zod union, by the hand checks of
// src/cluster/message-checks.ts, and not at all (the floor), in µs per message on this machine.
import { z } from 'zod';
import { createCodec } from '../dist/src/wire/index.js';
import { ClusterMessageSchema } from '../dist/src/cluster/messages.js';
import { GatewayFailoverMessageSchema } from '../dist/src/cluster/gateway-messages.js';
import { RunWireSchema } from '../dist/src/protocol/run-messages.js';
import { AgentMessageSchema } from '../dist/src/agent/agent-messages.js';
import { withHandChecks } from '../dist/src/cluster/message-checks.js';
const ZOD = z.discriminatedUnion('type', [...ClusterMessageSchema.options, ...RunWireSchema.options, ...AgentMessageSchema.options, ...GatewayFailoverMessageSchema.options]);
const load = { psiCpu: 0.1, psiMemory: 0, psiIo: 0.02, slotsFree: 1, slotsBusy: 0 };
const msgs = {
  heartbeat: { type: 'heartbeat', from: 'wrk-1-w0', pid: 1234, incarnation: 3, version: 2, role: 'worker', monitor: 'mon-1', load, languages: ['c', 'cpp', 'python', 'java', 'javascript'], monitorsHash: 12345 },
  heartbeat_ack: { type: 'heartbeat_ack', from: 'mon-1', yourIncarnation: 3, yourStatus: 'alive', yourVersion: 2, preferredMonitor: 'mon-1', monitors: [], leader: { name: 'mon-1', term: 4 } },
  gossip_push: { type: 'gossip_push', from: 'mon-1', epoch: 7, afterSeq: 4, upToSeq: 4, headSeq: 4, tableHash: { h1: 1, h2: 2, size: 9 }, haveOfYou: { epoch: 3, seq: 8 }, digests: [], news: [] },
  gw_heartbeat: { type: 'gw_heartbeat', from: 'gw', epoch: 1 },
  gw_heartbeat_ack: { type: 'gw_heartbeat_ack', from: 'mon-1', record: { epoch: 1, holder: 'gw' }, standby: 'mon-2', term: 3 },
};
const N = Number(process.env.N ?? 40000);
const forms = { zod: ZOD, hand: withHandChecks(ZOD), none: { safeParse: (m) => ({ success: true, data: m }) } };
for (const [type, m] of Object.entries(msgs)) {
  const row = [type];
  for (const [which, schema] of Object.entries(forms)) {
    const a = createCodec(schema), b = createCodec(schema);
    for (let i = 0; i < 5000; i++) b.decode(a.encode(m));
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) b.decode(a.encode(m));
    row.push(`${which} ${(Number(process.hrtime.bigint() - t) / N / 1000).toFixed(2)}`);
  }
  console.log(row.join('  '), 'µs per encode+decode');
}
