import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HeartbeatAckSchema, OrderRoleSchema } from '../../src/cluster/messages.js';
import { heartbeatThreadIncoming } from '../../src/worker/heartbeat-form.js';

const ack = {
  type: 'heartbeat_ack',
  from: 'mon-1',
  yourIncarnation: 3,
  yourStatus: 'alive',
  yourVersion: 7,
  preferredMonitor: 'mon-2',
  monitors: ['mon-1', 'mon-2'],
  leader: { name: 'mon-1', term: 2 },
};
const order = { type: 'order_role', from: 'mon-1', term: 4, seq: 1, target: 'wrk-1-w0', role: 'worker', buddy: null };

/** Values every field is tried with: right for some fields, wrong for others. */
const TRIES: unknown[] = [undefined, null, -1, 0, 1.5, 2 ** 53, '', 'x', 'x'.repeat(64), 'x'.repeat(65), 'alive', 'dead', 'worker', 'gateway', [], ['a'], Array(65).fill('m'), [''], {}, { name: 'a', term: 1 }, { name: '', term: 1 }, { name: 'a', term: -1 }, true];

test('the heartbeat thread\'s hand check agrees with the zod schemas on every field it reads', () => {
  for (const [base, schema] of [[ack, HeartbeatAckSchema], [order, OrderRoleSchema]] as const) {
    assert.equal(heartbeatThreadIncoming.safeParse(base).success, true);
    assert.equal(schema.safeParse(base).success, true);
    for (const key of Object.keys(base).filter((k) => k !== 'type')) {
      for (const value of TRIES) {
        const msg = { ...base, [key]: value };
        if (value === undefined) delete (msg as Record<string, unknown>)[key];
        const zod = schema.safeParse(msg).success;
        const hand = heartbeatThreadIncoming.safeParse(msg);
        assert.equal(hand.success, zod, `${base.type}.${key} = ${JSON.stringify(value)}: zod ${zod ? 'accepts' : 'refuses'}`);
        if (!hand.success) assert.equal(hand.error.issues[0]?.path[0], key, 'the issue names the field');
      }
    }
  }
});

test('messages the thread does not act on pass unread; a message without a type does not', () => {
  assert.equal(heartbeatThreadIncoming.safeParse({ type: 'gossip_push', anything: [1, 2] }).success, true);
  assert.equal(heartbeatThreadIncoming.safeParse({ from: 'mon-1' }).success, false);
  assert.equal(heartbeatThreadIncoming.safeParse([ack]).success, false);
  assert.equal(heartbeatThreadIncoming.safeParse(null).success, false);
});

test('the heartbeat thread loads no zod (static and dynamic imports, followed from its entry)', () => {
  const entry = fileURLToPath(new URL('../../src/worker/heartbeat-thread.js', import.meta.url));
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = (m[1] ?? m[2] ?? m[3]) as string;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.set(spec, path.relative(path.dirname(entry), file));
    }
  };
  visit(entry);
  assert.ok(seen.size > 10, `followed ${seen.size} modules`);
  assert.ok(!packages.has('zod'), `zod is imported by ${packages.get('zod')}`);
  assert.ok(packages.has('pino'), 'the walk does see packages');
});
