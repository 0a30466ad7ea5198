import { createHash } from 'node:crypto';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { findLanguage, languageForFile } from '../sandbox/languages.js';
import { MAX_LIMITS } from '../sandbox/limits.js';
import { FLOAT_EPS_DEFAULT, type CheckerSpec } from './checkers.js';
import { PackageError, readPackage, singleFolder, type PackageBounds, type PackageFiles } from './package-files.js';

/**
 * A problem: test cases (stdin, expected answer), limits per problem with overrides per test, a
 * checker, points and groups. Imported from a Kattis package, a folder of NAME.in/NAME.out pairs
 * (folder or zip), or JSON; stored under the hash of its canonical JSON, so the same problem
 * uploaded twice is one problem.
 */

export interface JudgeLimits {
  cpuTimeMs: number;
  wallTimeMs: number;
  memoryKb: number;
  outputBytesMax: number;
}

export interface TestCase {
  /** Path under data/ without extension, e.g. "sample/1", "secret/g1/03"; unique. */
  name: string;
  /** Samples are shown to students with their data; secret tests are not. */
  sample: boolean;
  /** All-or-nothing group (DMOJ batch): a failed test skips the rest of it. null: on its own. */
  group: string | null;
  points: number;
  input: string;
  answer: string;
  limits: JudgeLimits;
}

export interface Problem {
  id: string;
  name: string;
  checker: CheckerSpec;
  limits: JudgeLimits;
  tests: TestCase[];
  /** Points of each group as a whole (default: the sum of its tests'). */
  groups: Array<{ name: string; points: number }>;
}

export const PROBLEM_BOUNDS: PackageBounds = {
  totalBytesMax: 32 * 1024 * 1024,
  filesMax: 1000,
  // A test's input travels as the run's stdin; its answer stays on the Gateway.
  fileBytesMax: 8 * 1024 * 1024,
};
export const TESTS_MAX = 200;
/**
 * A test's input travels in its run's message over the cluster links, whose frames hold 1 MiB:
 * with room for the program's source, an input may be 768 KiB. (Answers stay on the Gateway.)
 */
export const TEST_INPUT_BYTES_MAX = 768 * 1024;
/**
 * A custom checker's run carries its source, the input, the answer and the program's output in
 * one such message: together at most this. The program's output limit is lowered to fit.
 */
export const CHECKER_RUN_BYTES_MAX = 960 * 1024;
/** Least output room a custom-checker problem leaves the program. */
const CHECKER_OUTPUT_BYTES_MIN = 4 * 1024;
export const PROBLEM_NAME_MAX = 100;

export const DEFAULT_JUDGE_LIMITS: Readonly<JudgeLimits> = {
  cpuTimeMs: 2_000, // typical of a class exercise; a busy loop is caught quickly
  wallTimeMs: 6_000,
  memoryKb: 256 * 1024,
  outputBytesMax: 4 * 1024 * 1024,
};

/** Wall time for a CPU limit: room for a loaded lab PC, but a sleeping program is still caught. */
function wallFor(cpuTimeMs: number): number {
  return Math.min(MAX_LIMITS.wallTimeMs, Math.max(cpuTimeMs * 3, cpuTimeMs + 2_000));
}

function checkLimits(l: JudgeLimits, where: string): JudgeLimits {
  const pairs: Array<[keyof JudgeLimits, number, string]> = [
    ['cpuTimeMs', MAX_LIMITS.cpuTimeMs, 'time'],
    ['wallTimeMs', MAX_LIMITS.wallTimeMs, 'wall time'],
    ['memoryKb', MAX_LIMITS.memoryKb, 'memory'],
    ['outputBytesMax', MAX_LIMITS.outputBytesMax, 'output'],
  ];
  for (const [k, max, label] of pairs) {
    const v = l[k];
    if (!Number.isFinite(v) || v <= 0) throw new PackageError('BAD_PROBLEM', `${where}: ${label} limit must be a positive number`);
    if (v > max) throw new PackageError('BAD_PROBLEM', `${where}: ${label} limit ${v} is over the maximum ${max} (${k})`);
  }
  if (l.memoryKb < 8 * 1024) throw new PackageError('BAD_PROBLEM', `${where}: memory limit under 8 MiB`);
  if (l.cpuTimeMs < 100) throw new PackageError('BAD_PROBLEM', `${where}: time limit under 0.1 s`);
  return { cpuTimeMs: Math.round(l.cpuTimeMs), wallTimeMs: Math.round(l.wallTimeMs), memoryKb: Math.round(l.memoryKb), outputBytesMax: Math.round(l.outputBytesMax) };
}

/** Limits as problem.yaml writes them: time in seconds, memory and output in MiB (Kattis units). */
const YamlLimits = z
  .object({
    time: z.number().positive().optional(),
    time_limit: z.number().positive().optional(),
    wall_time: z.number().positive().optional(),
    memory: z.number().positive().optional(),
    output: z.number().positive().optional(),
  })
  .passthrough();
type YamlLimits = z.infer<typeof YamlLimits>;

function applyYamlLimits(base: JudgeLimits, y: YamlLimits | undefined): JudgeLimits {
  if (!y) return base;
  const out = { ...base };
  const t = y.time_limit ?? y.time;
  if (t !== undefined) {
    out.cpuTimeMs = t * 1000;
    out.wallTimeMs = wallFor(out.cpuTimeMs);
  }
  if (y.wall_time !== undefined) out.wallTimeMs = y.wall_time * 1000;
  if (y.memory !== undefined) out.memoryKb = y.memory * 1024;
  if (y.output !== undefined) out.outputBytesMax = y.output * 1024 * 1024;
  return out;
}

const ProblemYaml = z
  .object({
    name: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
    limits: YamlLimits.optional(),
    validation: z.string().optional(),
    validator_flags: z.string().optional(),
    // CodeArena's own keys (Kattis tools ignore unknown keys):
    checker: z.enum(['exact', 'lines', 'tokens', 'float']).optional(),
    float_tolerance: z.number().nonnegative().optional(),
    validator_protocol: z.enum(['kattis', 'testlib']).optional(),
    points: z.record(z.string(), z.number().nonnegative()).optional(),
    test_limits: z.record(z.string(), YamlLimits).optional(),
  })
  .passthrough();

function text(files: PackageFiles, name: string): string {
  const b = files.get(name) as Buffer;
  const s = b.toString('utf8');
  // Test data travels as text (the run's stdin is a string on the wire).
  if (!b.equals(Buffer.from(s))) throw new PackageError('BAD_PROBLEM', `${name} is not UTF-8 text`);
  return s;
}

/** Kattis validator flags as a checker: float tolerances make it `float`, otherwise tokens. */
function checkerFromFlags(flags: string | undefined): CheckerSpec {
  const f = (flags ?? '').split(/\s+/).filter(Boolean);
  let abs: number | null = null;
  let rel: number | null = null;
  for (let i = 0; i < f.length; i++) {
    const v = Number(f[i + 1]);
    if (f[i] === 'float_tolerance') abs = rel = v;
    else if (f[i] === 'float_absolute_tolerance') abs = v;
    else if (f[i] === 'float_relative_tolerance') rel = v;
  }
  if (abs !== null || rel !== null) {
    if ([abs, rel].some((x) => x !== null && !Number.isFinite(x))) throw new PackageError('BAD_PROBLEM', `validator_flags: bad tolerance in "${flags}"`);
    return { kind: 'float', absEps: abs ?? 0, relEps: rel ?? 0 };
  }
  // Kattis's default validator compares tokens (whitespace-insensitive).
  return { kind: 'tokens' };
}

const CHECKER_MAIN = /^(checker|validator|check|main)\.[a-z+]+$/i;

function customChecker(files: PackageFiles, folder: string, protocol: 'kattis' | 'testlib'): CheckerSpec {
  const inside = [...files.keys()].filter((n) => n.startsWith(`${folder}/`));
  const sources = inside.map((n) => ({ name: path.basename(n), content: text(files, n) }));
  if (sources.length === 0) throw new PackageError('BAD_PROBLEM', `${folder} has no checker source`);
  if (sources.length > 8) throw new PackageError('BAD_PROBLEM', `${folder} has more than 8 files`);
  const withLang = sources.filter((s) => {
    try {
      languageForFile(s.name);
      return !/\.(h|hpp)$/.test(s.name);
    } catch {
      return false;
    }
  });
  const main = withLang.find((s) => CHECKER_MAIN.test(s.name)) ?? withLang[0];
  if (!main) throw new PackageError('BAD_PROBLEM', `${folder} has no source file of a known language (.c .cpp .py .java .js)`);
  const language = languageForFile(main.name).id;
  return { kind: 'custom', language, protocol, files: [main, ...sources.filter((s) => s !== main)] };
}

function byName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

interface Draft {
  name: string;
  checker: CheckerSpec;
  limits: JudgeLimits;
  tests: Array<Omit<TestCase, 'limits' | 'points'> & { points: number | null }>;
  points: Record<string, number>;
  testLimits: Record<string, YamlLimits>;
}

function collectPairs(files: PackageFiles, under: string, sample: boolean, answerExts: string[]): Draft['tests'] {
  const tests: Draft['tests'] = [];
  const ins = [...files.keys()].filter((n) => n.startsWith(under) && n.endsWith('.in')).sort(byName);
  for (const inName of ins) {
    const base = inName.slice(0, -3);
    const ans = answerExts.map((e) => base + e).find((n) => files.has(n));
    if (!ans) throw new PackageError('BAD_PROBLEM', `${inName} has no ${answerExts.map((e) => path.basename(base) + e).join(' or ')}`);
    const rel = base.slice(under.length);
    const dir = path.posix.dirname(rel);
    const name = base.startsWith('data/') ? base.slice(5) : base;
    const group = sample ? null : dir === '.' ? null : `${under.startsWith('data/') ? under.slice(5) : under}${dir}`;
    tests.push({ name, sample, group, points: null, input: text(files, inName), answer: text(files, ans) });
  }
  return tests;
}

function kattisDraft(files: PackageFiles, defaultName: string): Draft {
  let yaml: z.infer<typeof ProblemYaml> = {};
  if (files.has('problem.yaml')) {
    let raw: unknown;
    try {
      raw = parseYaml(text(files, 'problem.yaml')) ?? {};
    } catch (err) {
      throw new PackageError('BAD_PROBLEM', `problem.yaml is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    const parsed = ProblemYaml.safeParse(raw);
    if (!parsed.success) throw new PackageError('BAD_PROBLEM', `problem.yaml: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    yaml = parsed.data;
  }
  const name = typeof yaml.name === 'string' ? yaml.name : (yaml.name?.en ?? Object.values(yaml.name ?? {})[0] ?? defaultName);
  let limits = applyYamlLimits({ ...DEFAULT_JUDGE_LIMITS }, yaml.limits);
  if (files.has('.timelimit') && yaml.limits?.time === undefined && yaml.limits?.time_limit === undefined) {
    const t = Number(text(files, '.timelimit').trim());
    if (!(t > 0)) throw new PackageError('BAD_PROBLEM', '.timelimit is not a number of seconds');
    limits = { ...limits, cpuTimeMs: t * 1000, wallTimeMs: wallFor(t * 1000) };
  }
  const validators = [...new Set([...files.keys()].filter((n) => n.startsWith('output_validators/')).map((n) => n.split('/').slice(0, 2).join('/')))];
  let checker: CheckerSpec;
  if (validators.length > 1) throw new PackageError('BAD_PROBLEM', `output_validators/ has ${validators.length} validators; keep one`);
  if (validators.length === 1) checker = customChecker(files, validators[0] as string, yaml.validator_protocol ?? 'kattis');
  else if (yaml.validation !== undefined && yaml.validation !== 'default') throw new PackageError('BAD_PROBLEM', `validation: ${yaml.validation} needs a checker in output_validators/`);
  else if (yaml.checker === 'float' || yaml.float_tolerance !== undefined) {
    const eps = yaml.float_tolerance ?? FLOAT_EPS_DEFAULT;
    checker = { kind: 'float', absEps: eps, relEps: eps };
  } else if (yaml.checker) checker = { kind: yaml.checker };
  else checker = checkerFromFlags(yaml.validator_flags);
  const tests = [...collectPairs(files, 'data/sample/', true, ['.ans', '.out']), ...collectPairs(files, 'data/secret/', false, ['.ans', '.out'])];
  for (const n of files.keys()) {
    if (n.startsWith('data/') && n.endsWith('.ans') && !files.has(`${n.slice(0, -4)}.in`)) throw new PackageError('BAD_PROBLEM', `${n} has no ${path.basename(n, '.ans')}.in`);
  }
  return { name, checker, limits, tests, points: yaml.points ?? {}, testLimits: yaml.test_limits ?? {} };
}

function plainDraft(files: PackageFiles, defaultName: string): Draft {
  const tests = collectPairs(files, '', false, ['.out', '.ans']).map((t) => ({ ...t, group: null, sample: /(^|\/)samples?\//.test(t.name) }));
  for (const n of files.keys()) {
    if (/\.(out|ans)$/.test(n) && !files.has(n.replace(/\.(out|ans)$/, '.in'))) throw new PackageError('BAD_PROBLEM', `${n} has no ${path.basename(n).replace(/\.(out|ans)$/, '')}.in`);
  }
  return { name: defaultName, checker: { kind: 'lines' }, limits: { ...DEFAULT_JUDGE_LIMITS }, tests, points: {}, testLimits: {} };
}

function finish(d: Draft): Problem {
  if (d.tests.length === 0) throw new PackageError('BAD_PROBLEM', 'no test cases found (data/sample/*.in + .ans, data/secret/*.in + .ans, or NAME.in + NAME.out)');
  if (d.tests.length > TESTS_MAX) throw new PackageError('BAD_PROBLEM', `${d.tests.length} tests, over the maximum of ${TESTS_MAX}`);
  if (d.name.length === 0 || d.name.length > PROBLEM_NAME_MAX) throw new PackageError('BAD_PROBLEM', `the name must be 1..${PROBLEM_NAME_MAX} characters`);
  const limits = checkLimits(d.limits, 'problem limits');
  const names = new Set(d.tests.map((t) => t.name));
  if (names.size !== d.tests.length) throw new PackageError('BAD_PROBLEM', 'two tests have the same name');
  const groupNames = [...new Set(d.tests.flatMap((t) => (t.group ? [t.group] : [])))];
  for (const key of [...Object.keys(d.points), ...Object.keys(d.testLimits)]) {
    if (!names.has(key) && !groupNames.includes(key)) throw new PackageError('BAD_PROBLEM', `"${key}" (in points or test_limits) is neither a test nor a group`);
  }
  const tests: TestCase[] = d.tests.map((t) => ({
    ...t,
    points: d.points[t.name] ?? t.points ?? (t.sample ? 0 : 1),
    limits: checkLimits(applyYamlLimits(applyYamlLimits(limits, t.group ? d.testLimits[t.group] : undefined), d.testLimits[t.name]), `limits of test ${t.name}`),
  }));
  for (const t of tests) {
    const n = Buffer.byteLength(t.input);
    if (n > TEST_INPUT_BYTES_MAX) throw new PackageError('PACKAGE_TOO_LARGE', `test ${t.name}: input is ${n} bytes, over the ${TEST_INPUT_BYTES_MAX}-byte cap for a test's input`);
  }
  if (d.checker.kind === 'custom') {
    for (const f of d.checker.files) {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(f.name) || f.name.endsWith('.data')) throw new PackageError('BAD_PROBLEM', `checker file name "${f.name}": use letters, digits, "_", "-", "." (not *.data)`);
    }
    const src = d.checker.files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
    for (const t of tests) {
      // The checker sees at most what fits beside the test in one run message: the output limit says so.
      const room = CHECKER_RUN_BYTES_MAX - src - Buffer.byteLength(t.input) - Buffer.byteLength(t.answer);
      if (room < CHECKER_OUTPUT_BYTES_MIN) {
        throw new PackageError('PACKAGE_TOO_LARGE', `test ${t.name}: with a custom checker, checker + input + answer must leave ${CHECKER_OUTPUT_BYTES_MIN} of ${CHECKER_RUN_BYTES_MAX} bytes for the output`);
      }
      t.limits = { ...t.limits, outputBytesMax: Math.min(t.limits.outputBytesMax, room) };
    }
  }
  const groups = groupNames.map((g) => ({ name: g, points: d.points[g] ?? tests.filter((t) => t.group === g).reduce((n, t) => n + t.points, 0) }));
  return withId({ name: d.name, checker: d.checker, limits, tests, groups });
}

/** The id of a problem: a hash of its canonical JSON (the same problem uploaded twice is one). */
export function withId(body: Omit<Problem, 'id'>): Problem {
  const canonical = { name: body.name, checker: body.checker, limits: body.limits, tests: body.tests, groups: body.groups };
  return { id: createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 20), ...canonical };
}

/** A problem from a package's files: Kattis layout when it has problem.yaml or data/, else NAME.in/NAME.out pairs. */
export function problemFromFiles(files: PackageFiles, defaultName: string): Problem {
  const isKattis = (f: PackageFiles) => f.has('problem.yaml') || [...f.keys()].some((n) => n.startsWith('data/'));
  if (isKattis(files)) return finish(kattisDraft(files, defaultName));
  const one = singleFolder(files);
  if (one && isKattis(one.files)) return finish(kattisDraft(one.files, one.folder));
  return finish(plainDraft(one?.files ?? files, one?.folder ?? defaultName));
}

export function loadProblem(p: string): Problem {
  return problemFromFiles(readPackage(p, PROBLEM_BOUNDS), path.basename(p).replace(/\.zip$/i, ''));
}

/** JSON problems (POST /api/v1/problems): units as the runs API, seconds, KB, bytes. */
const JsonLimits = z.strictObject({
  cpu_time_limit: z.number().positive().optional(),
  wall_time_limit: z.number().positive().optional(),
  memory_limit: z.number().int().positive().optional(),
  output_limit: z.number().int().positive().optional(),
});
const JsonChecker = z.union([
  z.strictObject({ kind: z.enum(['exact', 'lines', 'tokens']) }),
  z.strictObject({ kind: z.literal('float'), abs_eps: z.number().nonnegative().optional(), rel_eps: z.number().nonnegative().optional() }),
  z.strictObject({
    kind: z.literal('custom'),
    language: z.string().min(1).max(32),
    protocol: z.enum(['testlib', 'kattis']).optional(),
    files: z.array(z.strictObject({ name: z.string().min(1).max(128), content: z.string() })).min(1).max(8),
  }),
]);
export const ProblemJsonSchema = z.strictObject({
  name: z.string().min(1).max(PROBLEM_NAME_MAX),
  limits: JsonLimits.optional(),
  checker: JsonChecker.optional(),
  tests: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(100).optional(),
        input: z.string(),
        answer: z.string(),
        sample: z.boolean().optional(),
        group: z.string().min(1).max(100).optional(),
        points: z.number().nonnegative().optional(),
        limits: JsonLimits.optional(),
      }),
    )
    .min(1)
    .max(TESTS_MAX),
  group_points: z.record(z.string(), z.number().nonnegative()).optional(),
});
export type ProblemJson = z.infer<typeof ProblemJsonSchema>;

function jsonLimits(base: JudgeLimits, l: z.infer<typeof JsonLimits> | undefined): JudgeLimits {
  if (!l) return base;
  const out = { ...base };
  if (l.cpu_time_limit !== undefined) {
    out.cpuTimeMs = l.cpu_time_limit * 1000;
    out.wallTimeMs = wallFor(out.cpuTimeMs);
  }
  if (l.wall_time_limit !== undefined) out.wallTimeMs = l.wall_time_limit * 1000;
  if (l.memory_limit !== undefined) out.memoryKb = l.memory_limit;
  if (l.output_limit !== undefined) out.outputBytesMax = l.output_limit;
  return out;
}

export function problemFromJson(j: ProblemJson): Problem {
  const total = j.tests.reduce((n, t) => n + Buffer.byteLength(t.input) + Buffer.byteLength(t.answer), 0);
  if (total > PROBLEM_BOUNDS.totalBytesMax) throw new PackageError('PACKAGE_TOO_LARGE', `the tests are over ${PROBLEM_BOUNDS.totalBytesMax} bytes`);
  const limits = checkLimits(jsonLimits({ ...DEFAULT_JUDGE_LIMITS }, j.limits), 'limits');
  let checker: CheckerSpec = { kind: 'lines' };
  const c = j.checker;
  if (c?.kind === 'float') checker = { kind: 'float', absEps: c.abs_eps ?? FLOAT_EPS_DEFAULT, relEps: c.rel_eps ?? FLOAT_EPS_DEFAULT };
  else if (c?.kind === 'custom') {
    try {
      findLanguage(c.language);
    } catch (err) {
      throw new PackageError('BAD_PROBLEM', (err as Error).message);
    }
    checker = { kind: 'custom', language: findLanguage(c.language).id, protocol: c.protocol ?? 'testlib', files: c.files };
  } else if (c) checker = { kind: c.kind };
  const points: Record<string, number> = { ...(j.group_points ?? {}) };
  const testLimits: Record<string, YamlLimits> = {};
  const tests = j.tests.map((t, i) => {
    const name = t.name ?? String(i + 1);
    if (t.limits) {
      const l = jsonLimits(limits, t.limits);
      testLimits[name] = { time: l.cpuTimeMs / 1000, wall_time: l.wallTimeMs / 1000, memory: l.memoryKb / 1024, output: l.outputBytesMax / 1024 / 1024 };
    }
    for (const b of [t.input, t.answer]) if (Buffer.byteLength(b) > PROBLEM_BOUNDS.fileBytesMax) throw new PackageError('PACKAGE_TOO_LARGE', `test ${name} is over the ${PROBLEM_BOUNDS.fileBytesMax}-byte cap for one file`);
    return { name, sample: t.sample ?? false, group: t.group ?? null, points: t.points ?? null, input: t.input, answer: t.answer };
  });
  return finish({ name: j.name, checker, limits, tests, points, testLimits });
}

/** One line per problem for `codearena problem check`: the path itself, or each problem folder or zip inside it. */
export function describeProblem(p: Problem): string {
  const samples = p.tests.filter((t) => t.sample).length;
  const points = p.tests.filter((t) => !t.group).reduce((n, t) => n + t.points, 0) + p.groups.reduce((n, g) => n + g.points, 0);
  return `${p.tests.length} tests (${samples} samples), ${p.groups.length} groups, ${points} points, checker ${p.checker.kind}, ${p.limits.cpuTimeMs / 1000} s, ${Math.round(p.limits.memoryKb / 1024)} MiB, id ${p.id}`;
}
