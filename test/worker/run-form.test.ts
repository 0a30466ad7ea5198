import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { WireMessageSchema } from '../../src/agent/wire-messages.js';
import { ClusterMessageSchema } from '../../src/cluster/messages.js';
import { localClusterConfig } from '../../src/config/index.js';
import { RUN_MESSAGE_TYPES } from '../../src/protocol/run-bounds.js';
import { RunMessageSchema, RunWireSchema } from '../../src/protocol/run-messages.js';
import { CLUSTER_MESSAGE_TYPES, WIRE_MESSAGE_TYPES, WORKER_RUN_TYPES, workerForm, workerIncoming } from '../../src/worker/run-form.js';
import { workerConfigOf } from '../../src/worker/worker-config.js';

const typesOf = (schema: { options: ReadonlyArray<{ shape: { type: { value: string } } }> }): string[] => schema.options.map((o) => o.shape.type.value);

const spec = {
  id: 'r-1',
  user: 'u',
  language: 'python',
  files: [{ name: 'main.py', content: 'print(1)' }, { name: 'lib.py', content: '' }],
  main: 'main.py',
  stdin: '',
  interactive: false,
  limits: { cpuTimeMs: 1000, wallTimeMs: 3000, memoryKb: 65536, outputBytesMax: 1024, processesMax: 8, fileSizeKb: 64, openFilesMax: 32, workDirKb: 1024 },
  args: ['-v'],
};
const SAMPLES: Record<string, Record<string, unknown>> = {
  offer: { type: 'offer', from: 'asg-1', run: spec, buddy: 'asg-2' },
  run_input: { type: 'run_input', from: 'asg-1', id: 'r-1', data: 'hi\n', n: 3 },
  run_eof: { type: 'run_eof', from: 'asg-1', id: 'r-1', n: 4 },
  run_kill: { type: 'run_kill', from: 'asg-1', id: 'r-1' },
  run_ack: { type: 'run_ack', from: 'asg-1', id: 'r-1', seq: -1, exit: true },
  run_takeover: { type: 'run_takeover', from: 'asg-2', id: 'r-1' },
};

/** Values every field is tried with: right for some fields, wrong for others. */
const TRIES: unknown[] = [
  undefined, null, -2, -1, 0, 1, 1.5, 2 ** 53, Number.NaN, Infinity, '', 'x', 'main.py', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(129), true, false,
  [], ['a'], [''], Array(65).fill('a'), ['x'.repeat(4097)], {}, { name: 'main.py', content: '' }, [{ name: 'main.py', content: '' }],
  [{ name: 'main.py', content: '' }, { name: 'main.py', content: '' }], [{ name: 'a', content: 1 }], new Uint8Array(2),
];

function agree(msg: unknown, what: string): void {
  const zod = RunWireSchema.safeParse(msg);
  const hand = workerIncoming.safeParse(msg);
  assert.equal(hand.success, zod.success, `${what}: zod ${zod.success ? 'accepts' : `refuses (${JSON.stringify(zod.error?.issues[0])})`}, the hand check ${hand.success ? 'accepts' : `refuses (${JSON.stringify(hand.error.issues[0])})`}`);
  if (!hand.success && !zod.success) assert.deepEqual(hand.error.issues[0]?.path.slice(0, 1), zod.error.issues[0]?.path.slice(0, 1), `${what}: the issue names the field`);
}

const withField = (base: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> => {
  const out = { ...base, [key]: value };
  if (value === undefined) delete out[key];
  return out;
};

test('the hand check knows the same message types as the zod schemas', () => {
  assert.deepEqual([...RUN_MESSAGE_TYPES], typesOf(RunMessageSchema));
  assert.deepEqual([...CLUSTER_MESSAGE_TYPES].sort(), typesOf(ClusterMessageSchema).sort());
  assert.deepEqual([...WIRE_MESSAGE_TYPES].sort(), typesOf(WireMessageSchema).sort());
  for (const t of WORKER_RUN_TYPES) assert.ok(RUN_MESSAGE_TYPES.includes(t as (typeof RUN_MESSAGE_TYPES)[number]), t);
  assert.deepEqual(Object.keys(SAMPLES).sort(), [...WORKER_RUN_TYPES].sort());
});

test('the Worker\'s hand check agrees with the zod schemas on every field of the messages it acts on', () => {
  for (const [type, base] of Object.entries(SAMPLES)) {
    agree(base, type);
    assert.equal(workerIncoming.safeParse(base).success, true, type);
    for (const key of Object.keys(base).filter((k) => k !== 'type')) for (const value of TRIES) agree(withField(base, key, value), `${type}.${key} = ${String(value).slice(0, 20)}`);
  }
  // Every field of the run spec, of its limits and of a file.
  for (const key of Object.keys(spec)) for (const value of TRIES) agree({ ...SAMPLES.offer, run: withField(spec, key, value) }, `offer.run.${key} = ${String(value).slice(0, 20)}`);
  for (const key of Object.keys(spec.limits)) {
    for (const value of TRIES) agree({ ...SAMPLES.offer, run: { ...spec, limits: withField(spec.limits, key, value) } }, `offer.run.limits.${key} = ${String(value).slice(0, 20)}`);
  }
  for (const key of ['name', 'content']) {
    for (const value of TRIES) agree({ ...SAMPLES.offer, run: { ...spec, files: [withField(spec.files[0] as Record<string, unknown>, key, value)] } }, `offer.run.files.0.${key}`);
  }
});

test('the bounds are the zod schemas\' own, at the edge', () => {
  const cases: Array<[string, unknown]> = [
    ['id', 'i'.repeat(64)], ['id', 'i'.repeat(65)], ['user', 'u'.repeat(64)], ['user', 'u'.repeat(65)], ['language', 'l'.repeat(32)], ['language', 'l'.repeat(33)],
    ['stdin', 's'.repeat(16 * 1024 * 1024)], ['stdin', 's'.repeat(16 * 1024 * 1024 + 1)], ['args', Array(64).fill('a')], ['args', Array(65).fill('a')],
    ['args', ['a'.repeat(4096)]], ['args', ['a'.repeat(4097)]], ['files', Array.from({ length: 16 }, (_, i) => ({ name: i === 0 ? 'main.py' : `f${i}`, content: '' }))],
    ['files', Array.from({ length: 17 }, (_, i) => ({ name: i === 0 ? 'main.py' : `f${i}`, content: '' }))], ['files', [{ name: 'main.py', content: 'c'.repeat(1024 * 1024 + 1) }]],
  ];
  for (const [key, value] of cases) agree({ ...SAMPLES.offer, run: { ...spec, [key]: value } }, `offer.run.${key} at ${Array.isArray(value) ? value.length : String(value).length}`);
  agree({ ...SAMPLES.run_input, data: 'd'.repeat(64 * 1024) }, 'run_input.data at 64 KiB');
  agree({ ...SAMPLES.run_input, data: 'd'.repeat(64 * 1024 + 1) }, 'run_input.data over 64 KiB');
  // The refinements: the main file is one of the files, and names are distinct.
  agree({ ...SAMPLES.offer, run: { ...spec, main: 'other.py' } }, 'main names no file');
  const refused = workerIncoming.safeParse({ ...SAMPLES.offer, run: { ...spec, main: 'other.py' } });
  assert.equal(refused.success ? null : refused.error.issues[0]?.message, 'main must name one of the files');
  agree({ ...SAMPLES.offer, run: { ...spec, files: [spec.files[0], spec.files[0]] } }, 'two files of one name');
});

test('random messages: the hand check accepts exactly what zod accepts (fast-check)', () => {
  const anyValue = fc.oneof(fc.constantFrom(...TRIES), fc.string({ maxLength: 70 }), fc.integer({ min: -3, max: 3 }), fc.double(), fc.boolean());
  const field = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: anyValue });
  const name = fc.string({ minLength: 0, maxLength: 66 });
  const limitsArb = fc.record(Object.fromEntries(Object.keys(spec.limits).map((k) => [k, field(fc.integer({ min: -1, max: 1e6 }))])));
  const fileArb = fc.record({ name: field(fc.constantFrom('main.py', 'lib.py', '', 'a')), content: field(fc.string({ maxLength: 10 })) });
  const specArb = fc.record(
    {
      id: field(name), user: field(fc.string({ maxLength: 66 })), language: field(fc.string({ maxLength: 34 })), files: field(fc.array(field(fileArb), { maxLength: 3 })),
      main: field(fc.constantFrom('main.py', 'lib.py', '')), stdin: field(fc.string({ maxLength: 5 })), interactive: field(fc.boolean()), limits: field(limitsArb),
      args: field(fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 })),
    },
    { requiredKeys: ['id', 'user', 'language', 'files', 'main', 'stdin', 'interactive', 'limits'] },
  );
  const msgArb = fc.oneof(
    fc.record({ type: fc.constant('offer'), from: field(name), run: field(specArb), buddy: field(fc.option(name)) }, { requiredKeys: ['type', 'from', 'run'] }),
    fc.record({ type: fc.constant('run_input'), from: field(name), id: field(name), data: field(fc.string({ maxLength: 5 })), n: field(fc.integer({ min: -1, max: 3 })) }, { requiredKeys: ['type', 'from', 'id', 'data'] }),
    fc.record({ type: fc.constantFrom('run_eof', 'run_kill', 'run_takeover'), from: field(name), id: field(name), n: field(fc.integer({ min: -1, max: 3 })) }, { requiredKeys: ['type', 'from', 'id'] }),
    fc.record({ type: fc.constant('run_ack'), from: field(name), id: field(name), seq: field(fc.integer({ min: -2, max: 5 })), exit: field(fc.boolean()) }),
  );
  fc.assert(
    fc.property(msgArb, (msg) => {
      // n on run_kill/run_takeover is an unknown field: zod strips it, the hand check ignores it.
      assert.equal(workerIncoming.safeParse(msg).success, RunWireSchema.safeParse(msg).success, JSON.stringify(msg));
    }),
    { numRuns: 3000 },
  );
});

test('types the Worker ignores pass unread, cluster messages are checked as the heartbeat thread checks them, unknown types are refused', () => {
  assert.equal(workerIncoming.safeParse({ type: 'run_output', garbage: true }).success, true);
  assert.equal(workerIncoming.safeParse({ type: 'table_request' }).success, true);
  assert.equal(workerIncoming.safeParse({ type: 'order_role', from: 'mon-1', term: 4, seq: 1, target: 'wrk-1-w0', role: 'worker', buddy: null }).success, true);
  assert.equal(workerIncoming.safeParse({ type: 'order_role', from: 'mon-1', term: -4, seq: 1, target: 'wrk-1-w0', role: 'worker' }).success, false);
  for (const msg of [{ type: 'no_such_type' }, { from: 'a' }, null, [SAMPLES.run_kill], 'run_kill']) {
    assert.equal(WireMessageSchema.safeParse(msg).success, false);
    assert.equal(workerIncoming.safeParse(msg).success, false, JSON.stringify(msg));
  }
});

test('the Worker\'s outgoing run output is packed as the other roles unpack it', () => {
  const data = new Uint8Array([1, 2, 3]);
  const wire = workerForm.toWire({ type: 'run_output', from: 'wrk-1-w0', id: 'r-1', chunks: [{ seq: 0, stream: 'stdout', data: data.subarray(0, 2) }, { seq: 1, stream: 'stdout', data: data.subarray(2) }] });
  assert.equal(RunWireSchema.safeParse(wire).success, true);
  assert.deepEqual((wire as { chunks: Array<{ sizes: number[] }> }).chunks.map((c) => c.sizes), [[2, 1]]);
});

test('the config a Worker host sends is read back as it was; a missing field is named', () => {
  const config = localClusterConfig({ basePort: 7470, workers: 2, secret: 's'.repeat(32) });
  assert.deepEqual(workerConfigOf(JSON.stringify(config)), JSON.parse(JSON.stringify(config)));
  const { psi: _psi, ...noPsi } = config;
  assert.throws(() => workerConfigOf(JSON.stringify(noPsi)), /no map at psi/);
  assert.throws(() => workerConfigOf(JSON.stringify({ ...config, nodes: [{ ...config.nodes[0], port: '1' }] })), /no number at nodes\.0\.port/);
  assert.throws(() => workerConfigOf('{"cluster":'), /not JSON/);
});

/** Modules reached from `entry` by static (and, if `dynamic`, dynamic) imports; packages by importer. */
function importGraph(entry: string, dynamic: boolean): { modules: Set<string>; packages: Map<string, string> } {
  const modules = new Set<string>();
  const packages = new Map<string, string>();
  const re = dynamic
    ? /(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g
    : /(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;
  const visit = (file: string): void => {
    if (modules.has(file)) return;
    modules.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(re)) {
      const spec = (m[1] ?? m[2] ?? m[3]) as string;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.set(spec, file);
    }
  };
  visit(entry);
  return { modules, packages };
}

test('a Worker process loads no zod, YAML or config loader (its code, its heartbeat thread, and the CLI on its way there)', () => {
  const src = (p: string): string => fileURLToPath(new URL(`../../src/${p}`, import.meta.url));
  const graphs = [
    importGraph(src('worker/process.js'), true),
    importGraph(src('worker/heartbeat-thread.js'), true),
    importGraph(src('worker/worker-config.js'), true),
    // The CLI's own imports (each command imports its module when it runs).
    importGraph(src('cli/main.js'), false),
  ];
  for (const { modules, packages } of graphs) {
    assert.ok(!packages.has('zod'), `zod is imported by ${packages.get('zod')}`);
    assert.ok(!packages.has('yaml'), `yaml is imported by ${packages.get('yaml')}`);
    const loader = [...modules].filter((m) => /[/\\]config[/\\](index|load|schema|checks|init|local)\.js$/.test(m));
    assert.deepEqual(loader, [], 'the config loader is in the graph');
  }
  assert.ok((graphs[0]?.modules.size ?? 0) > 20, 'the walk follows the Worker\'s imports');
  assert.ok(graphs[0]?.packages.has('msgpackr'), 'the walk does see packages');
});
